import assert from "node:assert/strict";
import { Notifications, runNotifier } from "./notifications.ts";
import type { Clock } from "../clock.ts";
import { FakeClock } from "../_fake_clock.ts";
import { defaultConfig, type NotifyConfig } from "../config.ts";
import type {
  NotificationReport,
  SessionEvent,
  SessionRecord,
  SessionStatus,
  WaitingFor,
} from "../protocol.ts";
import { TIMED_OUT, within } from "../async.ts";
import { sampleRecord } from "../notifier.ts";

const SETTLE = 60;
const DEADLINE = 15_000;

/** A Notifications fed by hand: sessions, statuses, attached clients, config. */
function harness(
  over: Partial<NotifyConfig> = {},
  limits: { maxRunning?: number; maxQueued?: number; clock?: Clock } = {},
  env: Record<string, string> = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
) {
  const records = new Map<string, SessionRecord>();
  const attached = new Map<string, number>();
  const reports: { id: string; n: NotificationReport }[] = [];
  const logs: string[] = [];
  let wake: (() => void)[] = [];
  const config: NotifyConfig = { ...defaultConfig().notify, command: "exit 0", ...over };
  const n = new Notifications({
    config: () => config,
    record: (id) => records.get(id),
    attached: (id) => attached.get(id) ?? 0,
    publish: (ev: SessionEvent) => {
      assert.equal(ev.event, "notified");
      reports.push({ id: ev.id, n: ev.notification! });
      for (const fn of wake.splice(0)) fn();
    },
    log: (m) => logs.push(m),
    env: () => env,
    sampleDir: "/tmp",
  }, { settleMs: SETTLE, ...limits });
  const session = (id: string) => {
    records.set(id, {
      ...sampleRecord("/tmp"),
      id,
      name: id,
      status: "starting",
      waitingFor: null,
    });
  };
  return {
    n,
    config,
    reports,
    logs,
    attached,
    records,
    session,
    /** Moves a session to `status` (with what it waits for) and tells the notifications. */
    status(id: string, status: SessionStatus, extra: Partial<SessionRecord> = {}) {
      const rec = records.get(id)!;
      const previous = rec.status;
      rec.status = status;
      rec.waitingFor = null;
      Object.assign(rec, extra);
      n.onEvent({
        event: "status",
        at: new Date().toISOString(),
        id,
        name: id,
        status,
        previous,
        source: "hook",
      });
    },
    /** A permission wait (for `tool`) after a spell of running. */
    ask(id: string, tool = "Bash") {
      this.status(id, "running");
      this.status(id, "waiting_permission", perm(tool));
    },
    /** Waits until `count` notifications were reported. */
    async reported(count: number): Promise<void> {
      const deadline = Date.now() + DEADLINE;
      while (reports.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${reports.length} of ${count} reported`);
        await within(new Promise<void>((r) => wake.push(r)), deadline - Date.now());
      }
    },
    /**
     * Ends a scenario: one more wait on a fresh session, notified after
     * every wait before it would have been; then nothing is in flight.
     * Returns every report so far but the sentinels'.
     */
    async settle(): Promise<{ id: string; n: NotificationReport }[]> {
      const id = `sentinel${Math.random()}`;
      session(id);
      this.ask(id);
      const deadline = Date.now() + DEADLINE;
      while (!reports.some((r) => r.id === id) || n.inFlight > 0) {
        if (Date.now() > deadline) throw new Error("the sentinel was never notified");
        await new Promise((r) => setTimeout(r, 10));
      }
      reports.splice(reports.findIndex((r) => r.id === id), 1);
      return reports.slice();
    },
    stop() {
      n.close();
      wake = [];
    },
  };
}

const perm = (tool: string): Partial<SessionRecord> => ({
  waitingFor: { kind: "permission", tool, input: `${tool} input` } as WaitingFor,
});

Deno.test("after a permission prompt, input is a wait only if a turn ran", async () => {
  const h = harness();
  try {
    // The folder-trust question at start, answered: the prompt comes up, no turn ran.
    h.session("a");
    h.status("a", "waiting_permission", {
      waitingFor: { kind: "folder_trust", message: "trust the folder /tmp?" },
    });
    await h.reported(1);
    assert.equal(h.reports[0]!.n.title, "a: waiting for folder trust");
    h.status("a", "waiting_input");
    // An approved tool whose run went unreported, and the turn's end.
    h.session("b");
    h.ask("b");
    h.status("b", "waiting_input", { lastMessage: "Done." });
    const got = await h.settle();
    assert.deepEqual(got.map((r) => [r.id, r.n.kind]), [["a", "permission"], ["b", "input"]]);
  } finally {
    h.stop();
  }
});

Deno.test("a turn that ends notifies once; the prompt coming up after start does not", async () => {
  const h = harness();
  try {
    h.session("a");
    h.status("a", "waiting_input"); // starting -> waiting_input, held well past the settle time
    await new Promise((r) => setTimeout(r, SETTLE * 3));
    h.status("a", "running");
    h.status("a", "waiting_input", { lastMessage: "All done." });
    const got = await h.settle();
    assert.equal(got.length, 1);
    assert.equal(got[0]!.id, "a");
    assert.deepEqual(got[0]!.n, {
      kind: "input",
      title: "a: waiting for input",
      body: "All done.\nin /tmp",
      notifier: "command",
      outcome: "sent",
    });
  } finally {
    h.stop();
  }
});

Deno.test("flaps within the settle time are one notification; a shorter wait is none", async () => {
  const h = harness();
  try {
    h.session("a");
    h.ask("a");
    h.ask("a");
    h.ask("a");
    // A queued prompt taken at once: waiting_input held for no time at all.
    h.session("b");
    h.status("b", "running");
    h.status("b", "waiting_input");
    h.status("b", "running");
    const got = await h.settle();
    assert.deepEqual(got.map((r) => [r.id, r.n.kind]), [["a", "permission"]]);
    assert.equal(h.records.get("b")!.status, "running");
  } finally {
    h.stop();
  }
});

Deno.test("a wait is notified once it has held for the settle time without a break", async () => {
  const clock = new FakeClock();
  const h = harness({}, { clock });
  try {
    h.session("a");
    h.ask("a");
    clock.advanceTo(1000);
    h.status("a", "running"); // notified at 60 (held 60 ms); left at 1000
    await h.reported(1);
    // In at 2000, out at 2030, in again at 2040, out at 2080: never held for 60 ms.
    clock.advanceTo(2000);
    h.status("a", "waiting_permission", perm("Edit"));
    clock.advanceTo(2030);
    h.status("a", "running");
    clock.advanceTo(2040);
    h.status("a", "waiting_permission", perm("Edit"));
    clock.advanceTo(2080);
    h.status("a", "running");
    clock.advanceTo(5000);
    // In at 5000, held: notified at 5060, not before.
    h.status("a", "waiting_permission", perm("Write"));
    clock.advanceTo(5059);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.reports.length, 1);
    clock.advanceTo(5060);
    await h.reported(2);
    assert.match(h.reports[1]!.n.body, /Write/);
    assert.equal(h.reports.length, 2);
  } finally {
    h.stop();
  }
});

Deno.test("re-entered right after it was notified: the same wait unless it is about something else", async () => {
  const h = harness();
  try {
    h.session("a");
    h.ask("a");
    await h.reported(1);
    // Out and back in at once, about the same thing: a flap.
    h.ask("a");
    assert.equal((await h.settle()).length, 1);
    // Out and back in at once, about another tool: a new wait.
    h.ask("a", "Write");
    const got = await h.settle();
    assert.equal(got.length, 2);
    assert.match(got[1]!.n.body, /Write/);
    // The same thing again, long after it left: a new wait too.
    h.status("a", "running");
    await new Promise((r) => setTimeout(r, SETTLE * 3));
    h.status("a", "waiting_permission", perm("Write"));
    assert.equal((await h.settle()).length, 3);
  } finally {
    h.stop();
  }
});

Deno.test("none while a client is attached, decided when the wait has settled", async () => {
  const h = harness();
  try {
    h.session("a");
    h.attached.set("a", 1);
    h.ask("a");
    h.status("a", "running");
    h.status("a", "waiting_input", { lastMessage: "x" });
    assert.equal((await h.settle()).length, 0);
    // Detached before the wait settled: notified.
    h.ask("a", "Edit");
    h.attached.set("a", 0);
    const got = await h.settle();
    assert.deepEqual(got.map((r) => r.id), ["a"]);
  } finally {
    h.stop();
  }
});

Deno.test("notify.enabled, notify.on and an exit are honoured when the wait settles", async () => {
  const h = harness({ on: ["waiting_permission"] });
  try {
    h.session("a");
    h.status("a", "running");
    h.status("a", "waiting_input", { lastMessage: "x" }); // not in notify.on
    h.session("b");
    h.ask("b");
    h.status("b", "exited"); // gone before it settled
    h.session("c");
    h.ask("c");
    h.config.enabled = false; // a reload before it settled
    await new Promise((r) => setTimeout(r, SETTLE * 3));
    h.config.enabled = true;
    assert.equal((await h.settle()).length, 0);
  } finally {
    h.stop();
  }
});

Deno.test("a notifier gets the notification as JSON on stdin and in its environment", async () => {
  const dir = await Deno.makeTempDir();
  const h = harness({ command: `cat > ${dir}/stdin; env > ${dir}/env` });
  try {
    h.session("a");
    h.ask("a");
    await h.reported(1);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/stdin`));
    assert.equal(json.kind, "permission");
    assert.equal(json.title, "a: waiting for permission");
    assert.equal(json.test, false);
    assert.equal(json.session.id, "a");
    assert.deepEqual(json.session.waitingFor, perm("Bash").waitingFor);
    const env = await Deno.readTextFile(`${dir}/env`);
    assert.match(env, /^CLAUDE_SESSIONS_NOTIFY_ID=a$/m);
    assert.match(env, /^CLAUDE_SESSIONS_NOTIFY_KIND=permission$/m);
    assert.match(env, /^CLAUDE_SESSIONS_NOTIFY_WAITING_FOR=permission to use Bash: Bash input$/m);
    assert.match(env, /^PATH=/m); // the daemon's own environment too
  } finally {
    h.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failing notifier is a failed report, logged once until it works again", async () => {
  const h = harness({ command: "echo first >&2; echo 'it broke' >&2; exit 3" });
  try {
    for (const id of ["a", "b"]) {
      h.session(id);
      h.ask(id);
    }
    await h.reported(2);
    for (const r of h.reports) {
      assert.equal(r.n.outcome, "failed");
      assert.equal(r.n.error, "exited 3: it broke");
    }
    assert.equal(h.logs.length, 1);
    assert.match(h.logs[0]!, /^notification failed \(command\): exited 3: it broke; further/);
    h.config.command = "exit 0";
    h.session("c");
    h.ask("c");
    await h.reported(3);
    assert.equal(h.reports[2]!.n.outcome, "sent");
    h.config.command = "exit 4";
    h.session("d");
    h.ask("d");
    await h.reported(4);
    assert.equal(h.logs.length, 2);
    assert.match(h.logs[1]!, /exited 4/);
  } finally {
    h.stop();
  }
});

Deno.test("no notifier available: a failed report naming none, logged once", async () => {
  const h = harness({ command: null }, {}, {
    PATH: "/nonexistent",
    XDG_RUNTIME_DIR: "/nonexistent",
  });
  try {
    for (const id of ["a", "b"]) {
      h.session(id);
      h.ask(id);
    }
    await h.reported(2);
    for (const { n } of h.reports) {
      assert.equal(n.notifier, "none");
      assert.equal(n.outcome, "failed");
      assert.match(n.error ?? "", /^no notifier: .*not on the daemon's PATH \(\/nonexistent\)/);
    }
    assert.equal(h.logs.length, 1);
    assert.match(h.logs[0]!, /^notification failed \(none\): no notifier: /);
  } finally {
    h.stop();
  }
});

Deno.test("a hanging notifier is killed with its whole process group at its timeout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t0 = performance.now();
    const r = await runNotifier(
      ["/bin/sh", "-c", `sleep 60 & echo $! > ${dir}/bg; sleep 60`],
      { PATH: Deno.env.get("PATH") ?? "/bin" },
      "{}",
      500,
    );
    assert.deepEqual(r, { outcome: "timeout", error: "killed after 0.5s" });
    assert.ok(performance.now() - t0 < 10_000);
    const bg = Number(await Deno.readTextFile(`${dir}/bg`));
    // The child it left in the background went with it.
    const deadline = Date.now() + 5000;
    while (alive(bg)) {
      if (Date.now() > deadline) throw new Error(`background child ${bg} survived`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runNotifier: a program that cannot start, or is killed, fails with why", async () => {
  const r = await runNotifier(["/nonexistent/notifier"], {}, "{}", 1000);
  assert.equal(r.outcome, "failed");
  assert.match(r.error ?? "", /^cannot start \/nonexistent\/notifier: /);
  const k = await runNotifier(["/bin/sh", "-c", "kill -TERM $$"], {}, "{}", 5000);
  assert.deepEqual(k, { outcome: "failed", error: "was killed by SIGTERM" });
  // It need not read its input.
  const big = await runNotifier(["/bin/sh", "-c", "exit 0"], {}, "x".repeat(1 << 20), 5000);
  assert.deepEqual(big, { outcome: "sent" });
});

Deno.test("at most maxRunning notifiers at once; the queue beyond maxQueued fails at once", async () => {
  const dir = await Deno.makeTempDir();
  const h = harness(
    { command: `echo start >> ${dir}/log; sleep 0.3; echo end >> ${dir}/log` },
    { maxRunning: 2, maxQueued: 2 },
  );
  try {
    for (const id of ["a", "b", "c", "d", "e"]) {
      h.session(id);
      h.ask(id);
    }
    await h.reported(5);
    const dropped = h.reports.filter((r) => r.n.outcome === "failed");
    assert.equal(dropped.length, 1);
    assert.match(
      dropped[0]!.n.error ?? "",
      /^dropped: 2 notifiers still running and 2 notifications waiting$/,
    );
    assert.equal(h.reports.filter((r) => r.n.outcome === "sent").length, 4);
    let now = 0;
    let max = 0;
    for (const line of (await Deno.readTextFile(`${dir}/log`)).trim().split("\n")) {
      now += line === "start" ? 1 : -1;
      max = Math.max(max, now);
    }
    assert.equal(max, 2);
  } finally {
    h.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("test() sends a sample marked as a test; status() says which notifier", async () => {
  const dir = await Deno.makeTempDir();
  const h = harness({ command: `cat > ${dir}/stdin` });
  try {
    const r = await within(h.n.test(), DEADLINE);
    assert.notEqual(r, TIMED_OUT);
    assert.equal((r as NotificationReport).outcome, "sent");
    assert.equal((r as NotificationReport).title, "notify-test: waiting for permission");
    const json = JSON.parse(await Deno.readTextFile(`${dir}/stdin`));
    assert.equal(json.test, true);
    assert.equal(json.session.cwd, "/tmp");
    const st = await h.n.status();
    assert.equal(st.notifier, "command");
    assert.equal(st.detail, `notify.command: cat > ${dir}/stdin`);
    assert.equal(st.enabled, true);
    assert.deepEqual(st.on, ["waiting_permission", "waiting_input"]);
    assert.equal(st.timeoutSeconds, 10);
  } finally {
    h.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("close() kills the notifiers still running", async () => {
  const h = harness({ command: "sleep 60" });
  try {
    const report = h.n.test();
    while (h.n.inFlight === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    h.n.close();
    const r = await within(report, DEADLINE);
    assert.notEqual(r, TIMED_OUT);
    assert.equal((r as NotificationReport).outcome, "failed");
    assert.equal((r as NotificationReport).error, "was killed by SIGKILL");
  } finally {
    h.stop();
  }
});

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}
