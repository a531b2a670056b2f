import assert from "node:assert/strict";
import { waitKindOf, WaitTracker } from "./waits.ts";
import type { SessionEvent, SessionRecord, SessionStatus } from "./protocol.ts";
import type { WaitKind } from "./session_view.ts";
import { testRecord } from "./_test_record.ts";
import { FakeClock } from "./_fake_clock.ts";

Deno.test("waitKindOf: permission from anything; input once a turn ran", () => {
  assert.equal(waitKindOf("waiting_permission", "starting", false), "permission");
  assert.equal(waitKindOf("waiting_permission", "running", true), "permission");
  assert.equal(waitKindOf("waiting_input", "running", true), "input");
  assert.equal(waitKindOf("waiting_input", "starting", false), null);
  // After a permission prompt: a turn's end if it ran, the folder-trust answer if not.
  assert.equal(waitKindOf("waiting_input", "waiting_permission", true), "input");
  assert.equal(waitKindOf("waiting_input", "waiting_permission", false), null);
  assert.equal(waitKindOf("running", "waiting_input", false), null);
  assert.equal(waitKindOf("exited", "running", true), null);
});

function rec(id: string, status: SessionStatus, extra: Partial<SessionRecord> = {}): SessionRecord {
  return testRecord({ id, status, ...extra });
}

function ev(id: string, status: SessionStatus, previous: SessionStatus | null): SessionEvent {
  return { event: "status", at: "", id, name: null, status, previous, source: "hook" };
}

/** A tracker over hand-made records; what it announced, in order. */
function tracker(wanted: (k: WaitKind) => boolean = () => true) {
  const clock = new FakeClock();
  const records = new Map<string, SessionRecord>();
  const got: string[] = [];
  let looking: string | null = null;
  const waits = new WaitTracker({
    record: (id) => records.get(id),
    wanted,
    looking: (id, r) => id === looking || (r.clients ?? 0) > 0,
    announce: (id, r, kind) => {
      assert.equal(r.id, id);
      got.push(`${id}:${kind}`);
    },
  }, { clock, settleMs: 2000 });
  const set = (id: string, status: SessionStatus, previous: SessionStatus, extra = {}) => {
    records.set(id, rec(id, status, extra));
    waits.onEvent(ev(id, status, previous));
  };
  return { clock, records, got, waits, set, look: (id: string | null) => (looking = id) };
}

const perm = { waitingFor: { kind: "permission" as const, tool: "Bash", input: "ls" } };

Deno.test("wait tracker: once per settled wait, flaps coalesced, none while looked at or exited", () => {
  const { clock, records, got, waits, set, look } = tracker();

  // A permission that holds: one announcement, after the settle time.
  set("a", "waiting_permission", "running", perm);
  clock.advance(1999);
  assert.deepEqual(got, []);
  clock.advance(1);
  assert.deepEqual(got, ["a:permission"]);
  // Flap: left and back within the settle time about the same thing: not again.
  set("a", "running", "waiting_permission");
  clock.advance(500);
  set("a", "waiting_permission", "running", perm);
  clock.advance(3000);
  assert.deepEqual(got, ["a:permission"]);
  // A new permission (another command): again.
  set("a", "running", "waiting_permission");
  clock.advance(500);
  set("a", "waiting_permission", "running", {
    waitingFor: { kind: "permission", tool: "Bash", input: "rm x" },
  });
  clock.advance(2000);
  assert.deepEqual(got, ["a:permission", "a:permission"]);

  // Input after running: yes; input right after starting: no.
  set("b", "waiting_input", "starting");
  clock.advance(3000);
  set("b", "running", "waiting_input");
  set("b", "waiting_input", "running", { lastMessage: "done" });
  clock.advance(2000);
  assert.deepEqual(got.slice(2), ["b:input"]);

  // Left before it settled: none.
  set("c", "waiting_permission", "running", perm);
  clock.advance(1000);
  set("c", "running", "waiting_permission");
  clock.advance(5000);
  // Looked at (this program attached, or another client): none.
  look("d");
  set("d", "waiting_permission", "running", perm);
  set("e", "waiting_permission", "running", { ...perm, clients: 1 });
  clock.advance(3000);
  // Exited meanwhile: none.
  set("f", "waiting_permission", "running", perm);
  records.set("f", rec("f", "exited"));
  waits.onEvent({ ...ev("f", "exited", null), event: "exited" });
  // The stream started over: waits in progress are forgotten.
  set("g", "waiting_permission", "running", perm);
  waits.reset();
  clock.advance(5000);
  assert.deepEqual(got, ["a:permission", "a:permission", "b:input"]);
});

Deno.test("wait tracker: input straight from a permission once the session ran; not wanted: dropped, not handled", () => {
  let wanted = false;
  const { clock, got, set } = tracker(() => wanted);
  set("a", "running", "waiting_input");
  set("a", "waiting_permission", "running", perm);
  clock.advance(2000);
  assert.deepEqual(got, [], "not wanted now");
  wanted = true;
  // The tool's run went unreported: input straight after the permission is a turn's end.
  set("a", "waiting_input", "waiting_permission", { lastMessage: "done" });
  clock.advance(2000);
  assert.deepEqual(got, ["a:input"]);
  // A status the record no longer has when it settles: none.
  set("b", "waiting_permission", "running", { ...perm, status: "running" });
  clock.advance(2000);
  assert.deepEqual(got, ["a:input"]);
});
