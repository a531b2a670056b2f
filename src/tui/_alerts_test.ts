import assert from "node:assert/strict";
import { alertSequence, alertText, WaitAlerts, waitStarted } from "./_alerts.ts";
import type { SessionEvent, SessionRecord, SessionStatus } from "../protocol.ts";
import { testRecord } from "../_test_record.ts";
import type { Timers } from "./_timers.ts";

function rec(id: string, status: SessionStatus, extra: Partial<SessionRecord> = {}): SessionRecord {
  return testRecord({ id, status, ...extra });
}

function ev(id: string, status: SessionStatus, previous: SessionStatus | null): SessionEvent {
  return { event: "status", at: "", id, name: null, status, previous, source: "hook" };
}

const env = (vars: Record<string, string>) => (k: string) => vars[k];

Deno.test("alert sequence: bell and OSC 9, OSC 777 for foot/rxvt, tmux passthrough, text made safe", () => {
  assert.equal(alertSequence("api", "Bash: ls", env({})), "\x07\x1b]9;api: Bash: ls\x07");
  assert.equal(
    alertSequence("a;b", "x\x07y\x1b]z", env({ TERM: "foot" })),
    "\x07\x1b]777;notify;a,b;x y ]z\x07",
  );
  assert.equal(
    alertSequence("api", "ok", env({ TMUX: "/tmp/tmux-0/default,1,0" })),
    "\x07\x1bPtmux;\x1b\x1b]9;api: ok\x07\x1b\\",
  );
  // Leading "4;" would be a progress bar in some terminals.
  assert.equal(alertSequence("4;2", "x", env({})), "\x07\x1b]9; 4;2: x\x07");
  assert.ok(alertSequence("t", "x".repeat(5000), env({})).length < 400);
});

Deno.test("alert text: the permission's tool and command; the last message or error", () => {
  const p = rec("01ABCDEFGH", "waiting_permission", {
    name: "api",
    waitingFor: { kind: "permission", tool: "Bash", input: "touch x" },
  });
  assert.deepEqual(alertText(p, "permission"), {
    title: "api: waiting for permission",
    body: "permission to use Bash: touch x",
  });
  const i = rec("01ABCDEFGH", "waiting_input", { lastMessage: "Done.\nAll tests pass." });
  assert.deepEqual(alertText(i, "input"), {
    title: "01ABCDEF: waiting for input",
    body: "Done. All tests pass.",
  });
  assert.equal(
    alertText({ ...i, lastError: "overloaded" }, "input").body,
    "turn failed: overloaded",
  );
});

Deno.test("which waits: a permission from anything, input only after running", () => {
  assert.equal(waitStarted("waiting_permission", "starting"), "permission");
  assert.equal(waitStarted("waiting_input", "running"), "input");
  assert.equal(waitStarted("waiting_input", "starting"), null);
  assert.equal(waitStarted("running", "waiting_input"), null);
  assert.equal(waitStarted("queued", null), null);
});

class Clock implements Timers {
  t = 0;
  due: { at: number; fn: () => void; id: number }[] = [];
  n = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.due.push({ at: this.t + ms, fn, id: ++this.n });
    return this.n;
  };
  clearTimeout = (h: unknown) => {
    this.due = this.due.filter((d) => d.id !== h);
  };
  advance(ms: number) {
    this.t += ms;
    for (const d of this.due.filter((d) => d.at <= this.t)) {
      this.due = this.due.filter((x) => x !== d);
      d.fn();
    }
  }
}

Deno.test("wait alerts: once per settled wait, flaps coalesced, none while attached or exited", () => {
  const clock = new Clock();
  const records = new Map<string, SessionRecord>();
  let here: string | null = null;
  const got: string[] = [];
  const alerts = new WaitAlerts({
    record: (id) => records.get(id),
    attachedHere: (id) => id === here,
    alert: (r, kind) => got.push(`${r.id}:${kind}`),
  }, { clock, settleMs: 2000 });
  const set = (id: string, status: SessionStatus, previous: SessionStatus, extra = {}) => {
    records.set(id, rec(id, status, extra));
    alerts.onEvent(ev(id, status, previous));
  };
  const perm = { waitingFor: { kind: "permission" as const, tool: "Bash", input: "ls" } };

  // A permission that holds: one alert, after the settle time.
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
  // Attached here, or someone else attached: none.
  here = "d";
  set("d", "waiting_permission", "running", perm);
  set("e", "waiting_permission", "running", { ...perm, clients: 1 });
  clock.advance(3000);
  // Exited meanwhile: none.
  set("f", "waiting_permission", "running", perm);
  records.set("f", rec("f", "exited"));
  alerts.onEvent({ ...ev("f", "exited", null), event: "exited" });
  // The stream started over: waits in progress are forgotten.
  set("g", "waiting_permission", "running", perm);
  alerts.reset();
  clock.advance(5000);
  assert.deepEqual(got, ["a:permission", "a:permission", "b:input"]);
});
