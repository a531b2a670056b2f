import assert from "node:assert/strict";
import { describeWait, exitSummary, statusSummary } from "./session_view.ts";
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
