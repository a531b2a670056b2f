import assert from "node:assert/strict";
import { SessionTable } from "./sessions.ts";
import type { EventPush, SessionEvent, SessionRecord } from "../protocol.ts";
import { testRecord } from "../_test_record.ts";

const rec = (id: string, over: Partial<SessionRecord> = {}) =>
  testRecord({ id, statusSince: "2026-11-29T09:00:00.000Z", ...over });

function push(seq: number, ev: Partial<SessionEvent>, session?: SessionRecord): EventPush {
  const event = {
    event: "status",
    at: "2026-11-29T10:00:00.000Z",
    id: "01AAAAAAAAAAAAAAAAAAAAAAAA",
    name: null,
    status: "running",
    previous: null,
    source: null,
    ...ev,
  } as SessionEvent;
  return session
    ? { type: "event", sub: 1, event, seq, session }
    : { type: "event", sub: 1, event, seq };
}

const A = "01AAAAAAAAAAAAAAAAAAAAAAAA";
const B = "01AAAAAAAAAB0000000000000B";

Deno.test("SessionTable: snapshot, then records carried by events replace what it holds", () => {
  const t = new SessionTable();
  t.reset({ seq: 7, sessions: [rec(A)], shortLength: 8, daemonStarted: "d1" });
  assert.equal(t.seq, 7);
  assert.equal(t.size, 1);
  const created = rec(B, { status: "starting" });
  assert.deepEqual(t.apply(push(8, { event: "created", id: B, status: "starting" }, created)), {
    kind: "changed",
    id: B,
    added: true,
  });
  // The new id shares 11 characters with A: the short ids grow to tell them apart.
  assert.equal(t.shortLength, 12);
  const waiting = rec(A, {
    status: "waiting_permission",
    waitingFor: { kind: "permission", tool: "Bash" },
  });
  t.apply(push(9, { event: "updated", status: "waiting_permission" }, waiting));
  assert.deepEqual(t.get(A)?.waitingFor, { kind: "permission", tool: "Bash" });
  assert.deepEqual(t.apply(push(10, { event: "removed", id: B, status: "exited" })), {
    kind: "removed",
    id: B,
  });
  assert.deepEqual(t.records.map((r) => r.id), [A]);
  assert.equal(t.seq, 10);
});

Deno.test("SessionTable: events without a record patch what they tell", () => {
  const t = new SessionTable();
  t.reset({ seq: 0, sessions: [rec(A)], shortLength: 8, daemonStarted: "d1" });
  t.apply(push(1, { event: "activity", lastOutputAt: "2026-11-29T10:00:01.000Z" }));
  assert.equal(t.get(A)?.lastOutputAt, "2026-11-29T10:00:01.000Z");
  t.apply(push(2, { event: "attached", clients: 2 }));
  assert.equal(t.get(A)?.clients, 2);
  t.apply(push(3, { event: "tags", tags: ["x"] }));
  assert.deepEqual(t.get(A)?.tags, ["x"]);
  t.apply(push(4, { event: "status", status: "waiting_input", at: "2026-11-29T10:00:05.000Z" }));
  assert.equal(t.get(A)?.status, "waiting_input");
  assert.equal(t.get(A)?.statusSince, "2026-11-29T10:00:05.000Z");
  t.apply(push(5, { event: "exited", status: "exited", exitCode: 0, exitReason: "exited" }));
  assert.equal(t.get(A)?.status, "exited");
  assert.equal(t.get(A)?.exitReason, "exited");
});

Deno.test("SessionTable: kinds it does not know are ignored; a gap is reported, not applied", () => {
  const t = new SessionTable();
  t.reset({ seq: 3, sessions: [rec(A)], shortLength: 8, daemonStarted: "d1" });
  const before = structuredClone(t.get(A));
  const future = push(4, { event: "teleported" as SessionEvent["event"], status: "running" });
  assert.deepEqual(t.apply(future), { kind: "ignored" });
  assert.deepEqual(t.get(A), before);
  assert.equal(t.seq, 4, "an unknown kind still counts");
  // About a session it never heard of, with no record: nothing to do.
  assert.deepEqual(t.apply(push(5, { event: "activity", id: B })), { kind: "ignored" });
  // A missed event: nothing applied, the caller takes a new snapshot.
  assert.deepEqual(t.apply(push(7, { event: "status", status: "exited" })), {
    kind: "gap",
    expected: 6,
    got: 7,
  });
  assert.equal(t.get(A)?.status, "running");
  assert.equal(t.seq, 5);
});
