import assert from "node:assert/strict";
import {
  describeWait,
  exitSummary,
  notificationText,
  NOTIFY_LINE_LIMIT,
  onHost,
  sessionLabel,
  shortIdLength,
  statusSummary,
  VIEW_MESSAGE_CHARS,
  viewSession,
  waitingOrder,
} from "./session_view.ts";
import type { SessionRecord } from "./protocol.ts";
import { testRecord } from "./_test_record.ts";

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

const rec = testRecord;

Deno.test("viewSession: what a person reads, one line each, escaped", () => {
  const now = Date.parse("2026-11-29T10:00:00Z");
  const v = viewSession(
    rec({
      name: "api",
      status: "waiting_permission",
      waitingFor: { kind: "permission", tool: "Bash", input: "rm -rf\nbuild \x1b[2J" },
      lastMessage: "Done.\n\nAll   tests pass.",
      lastOutputAt: "2026-11-29T09:59:57Z",
      tags: ["ci", "web"],
      clients: 2,
    }),
    { now, shortLength: 10, home: "/home/u" },
  );
  assert.equal(v.shortId, "01HZZZZZZZ");
  assert.equal(v.label, "01HZZZZZZZ (api)");
  assert.equal(v.statusText, "waiting_permission 2m");
  assert.equal(v.heldMs, 120_000);
  assert.equal(v.attention, "permission");
  assert.equal(v.waitingFor, "permission to use Bash: rm -rf build \\e[2J");
  assert.equal(v.lastMessage, "Done. All tests pass.");
  assert.equal(v.sinceOutputMs, 3000);
  assert.deepEqual(v.tags, ["ci", "web"]);
  assert.equal(v.clients, 2);
  assert.equal(v.dir, "~/src/p");
  assert.equal(v.ageMs, 3_600_000);

  const idle = viewSession(rec({ status: "waiting_input", lastError: "Overloaded" }), { now });
  assert.equal(idle.shortId, "01HZZZZZ");
  assert.equal(idle.attention, "input");
  assert.equal(idle.waitingFor, "input");
  assert.equal(idle.lastMessage, "Overloaded", "a failed turn shows its error");
  assert.equal(idle.sinceOutputMs, null);
  assert.deepEqual(idle.tags, []);
  assert.equal(idle.clients, 0);

  const running = viewSession(rec({ lastMessage: "x".repeat(500) }), { now });
  assert.equal(running.attention, null);
  assert.equal(running.waitingFor, null);
  assert.equal(running.lastMessage!.length, VIEW_MESSAGE_CHARS);
  assert.ok(running.lastMessage!.endsWith("…"));
  // A permission wait whose details are not known yet.
  assert.equal(
    viewSession(rec({ status: "waiting_permission" }), { now }).waitingFor,
    "permission",
  );
});

Deno.test("waitingOrder: permission first, then the longest waiting; others left out", () => {
  const r = (id: string, status: SessionRecord["status"], since: string) =>
    rec({ id, status, statusSince: `2026-11-29T${since}Z` });
  const order = waitingOrder([
    r("A", "waiting_input", "09:00:00"),
    r("B", "waiting_permission", "09:30:00"),
    r("C", "running", "08:00:00"),
    r("D", "waiting_permission", "09:10:00"),
    r("E", "exited", "07:00:00"),
    r("F", "waiting_input", "08:59:00"),
  ]).map((x) => x.id);
  assert.deepEqual(order, ["D", "B", "F", "A"]);
  assert.deepEqual(waitingOrder([r("C", "running", "08:00:00")]), []);
});

Deno.test("shortIdLength: at least 8, long enough to tell ids apart", () => {
  assert.equal(shortIdLength([]), 8);
  assert.equal(shortIdLength(["01AAAAAAAAAA", "01BBBBBBBBBB"]), 8);
  assert.equal(shortIdLength(["01AAAAAAAAAX", "01AAAAAAAAAY"]), 12);
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

Deno.test("exitSummary: out of memory, hibernated, and a kill without a process", () => {
  assert.equal(
    exitSummary({ exitReason: "oom", signal: "SIGKILL", exitCode: null }),
    "out of memory",
  );
  assert.equal(exitSummary({ exitReason: "hibernated", exitCode: 129 }), "hibernated");
  // A queued session killed before it ever ran.
  assert.equal(exitSummary({ exitReason: "killed", signal: null, exitCode: null }), "killed");
});

Deno.test("statusSummary: queued and hibernated sessions say so, with how long", () => {
  const now = Date.parse("2026-11-29T10:00:00Z");
  const rec = {
    status: "hibernated",
    statusSince: "2026-11-29T09:00:00Z",
    lastError: null,
    runs: [{ resumed: false }],
  } as unknown as SessionRecord;
  assert.equal(statusSummary(rec, now), "hibernated 1h");
  assert.equal(statusSummary({ ...rec, status: "queued", runs: [] }, now), "queued 1h");
});

Deno.test("onHost: another machine's session is named host/name, or host/short id", () => {
  const named = testRecord({ id: "01ABCDEFGHJK", name: "api" });
  assert.equal(onHost(named, "box").name, "box/api");
  assert.equal(named.name, "api", "the record itself is left as it was");
  assert.equal(onHost(testRecord({ id: "01ABCDEFGHJK", name: null }), "gpu").name, "gpu/01ABCDEF");
  assert.equal(
    notificationText(onHost(named, "box"), "input").title,
    "box/api: waiting for input",
  );
});
