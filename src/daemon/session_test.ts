import assert from "node:assert/strict";
import { Session, type SessionHost } from "./session.ts";
import type { SessionEvent, SessionRecord } from "../protocol.ts";
import { testRecord } from "../_test_record.ts";

function setup(over: Partial<SessionRecord> = {}) {
  const events: SessionEvent[] = [];
  const host: SessionHost = {
    save: () => {},
    emit: (ev) => events.push(ev),
    graceSeconds: () => 1,
    scrollback: () => 100,
    log: () => {},
  };
  const rec = testRecord({ statusSince: new Date().toISOString(), runs: [], ...over });
  return { s: new Session(rec, host), rec, events };
}

Deno.test("observe: what changes no status is told as `updated`; nothing new, nothing told", () => {
  const { s, rec, events } = setup();
  s.observe({
    source: "hook",
    at: Date.now(),
    status: null,
    event: "SubagentStart",
    backgroundTasks: 2,
  });
  assert.deepEqual(events.map((e) => e.event), ["updated"]);
  assert.equal(rec.backgroundTasks, 2);
  assert.equal(events[0]!.status, "running");
  s.observe({ source: "hook", at: Date.now(), status: null, event: "PreToolUse" });
  assert.equal(events.length, 1, "an observation that changes nothing");
});

Deno.test("observe: details of a permission wait arriving later are told as `updated`", () => {
  const { s, rec, events } = setup({
    status: "waiting_permission",
    waitingFor: { kind: "permission" },
  } as Partial<SessionRecord>);
  s.observe({
    source: "hook",
    at: Date.now(),
    status: null,
    event: "Notification",
    waitingFor: { kind: "permission", tool: "Bash", input: "touch x" },
  });
  assert.deepEqual(events.map((e) => e.event), ["updated"]);
  assert.deepEqual(rec.waitingFor, { kind: "permission", tool: "Bash", input: "touch x" });
  // A status change is told once, as `status` (its record tells the rest).
  s.observe({ source: "hook", at: Date.now(), status: "running", event: "PostToolUse" });
  assert.deepEqual(events.map((e) => e.event), ["updated", "status"]);
});
