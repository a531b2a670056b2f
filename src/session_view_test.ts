import assert from "node:assert/strict";
import {
  describeWait,
  exitSummary,
  notificationText,
  NOTIFY_LINE_LIMIT,
  sessionLabel,
  statusSummary,
} from "./session_view.ts";
import type { SessionRecord } from "./protocol.ts";

Deno.test("exitSummary: a kill says killed and by what, also when the program exits 128+N", () => {
  assert.equal(
    exitSummary({ exitReason: "killed", signal: "SIGHUP", exitCode: null }),
    "killed (SIGHUP)",
  );
  // Claude Code (node) exits with 129 on SIGHUP: not "exited (code 129)".
  assert.equal(
    exitSummary({ exitReason: "killed", signal: null, exitCode: 129 }),
    "killed (SIGHUP)",
  );
  assert.equal(exitSummary({ exitReason: "killed", signal: null, exitCode: 0 }), "killed (code 0)");
  assert.equal(exitSummary({ exitReason: "exited", signal: null, exitCode: 0 }), "exited (code 0)");
  assert.equal(
    exitSummary({ exitReason: "exited", signal: "SIGSEGV", exitCode: null }),
    "exited (signal SIGSEGV)",
  );
  assert.equal(
    exitSummary({ exitReason: "daemon_stopped", signal: null, exitCode: 143 }),
    "stopped with the daemon (SIGTERM)",
  );
  assert.equal(exitSummary({ exitReason: "daemon_lost" }), "lost with the daemon");
});

Deno.test("statusSummary: a turn that failed reads differently from one that finished", () => {
  const now = Date.parse("2026-11-29T10:00:00Z");
  const rec = {
    status: "waiting_input",
    statusSince: "2026-11-29T09:58:00Z",
    lastError: null,
    runs: [{ resumed: false }],
  } as unknown as SessionRecord;
  assert.equal(statusSummary(rec, now), "waiting_input 2m");
  assert.equal(
    statusSummary({ ...rec, lastError: "Overloaded (overloaded_error)" }, now),
    "waiting_input 2m (turn failed)",
  );
  assert.equal(
    statusSummary({ ...rec, runs: [{ resumed: true }] } as unknown as SessionRecord, now),
    "waiting_input 2m (resumed)",
  );
});

Deno.test("describeWait", () => {
  assert.equal(
    describeWait({ kind: "permission", tool: "Bash", input: "touch x" }),
    "permission to use Bash: touch x",
  );
  assert.equal(describeWait({ kind: "folder_trust" }), "the folder-trust question");
  assert.equal(describeWait(null), "the user");
});

Deno.test("notificationText: the title names the session and the wait, the body says what for", () => {
  const base = {
    id: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R",
    name: "api" as string | null,
    cwd: "/home/me/api",
    waitingFor: { kind: "permission" as const, tool: "Bash", input: "rm -rf build" },
    lastMessage: null as string | null,
    lastError: null as string | null,
  };
  assert.deepEqual(notificationText(base, "permission"), {
    title: "api: waiting for permission",
    body: "Waiting for permission to use Bash: rm -rf build\nin /home/me/api",
  });
  assert.equal(sessionLabel({ id: base.id, name: null }), "01M7ZA1Q");
  const unnamed = notificationText({ ...base, name: null }, "permission");
  assert.equal(unnamed.title, "01M7ZA1Q: waiting for permission");
  const q = notificationText(
    { ...base, waitingFor: { kind: "question", message: "Which colour?" } },
    "permission",
  );
  assert.equal(q.title, "api: waiting for an answer");
  assert.match(q.body, /^Waiting for an answer: Which colour\?\n/);
  const trust = notificationText(
    { ...base, waitingFor: { kind: "folder_trust", message: "trust the folder /x?" } },
    "permission",
  );
  assert.equal(trust.title, "api: waiting for folder trust");
  assert.match(trust.body, /^Waiting for the folder-trust question\n/);
  // The same words as ls/watch use for the wait.
  assert.ok(trust.body.startsWith(`Waiting for ${describeWait({ kind: "folder_trust" })}`));
  const input = notificationText(
    { ...base, waitingFor: null, lastMessage: "Done.\n\nAll   tests pass." },
    "input",
  );
  assert.deepEqual(input, {
    title: "api: waiting for input",
    body: "Done. All tests pass.\nin /home/me/api",
  });
  assert.match(
    notificationText({ ...base, lastMessage: "x", lastError: "API Error: 500" }, "input").body,
    /^Turn failed: API Error: 500\n/,
  );
  assert.match(notificationText({ ...base, waitingFor: null }, "input").body, /^Claude finished/);
});

Deno.test("notificationText: one line per part, control characters escaped, long text cut", () => {
  const n = notificationText({
    id: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R",
    name: "x",
    cwd: "/tmp/a\x1b]0;evil\x07",
    waitingFor: null,
    lastMessage: "y".repeat(1000),
    lastError: null,
  }, "input");
  const [first, second] = n.body.split("\n");
  assert.equal(first!.length, NOTIFY_LINE_LIMIT);
  assert.ok(first!.endsWith("…"));
  assert.equal(second, "in /tmp/a\\e]0;evil\\x07");
  assert.equal(n.body.split("\n").length, 2);
});
