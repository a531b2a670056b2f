/**
 * End-to-end: the daemon's notifications, with `notify.command` pointing at
 * a recorder that writes each call to a FIFO. Statuses are driven
 * deterministically through spooled hook events (the program is a stand-in
 * that switches on bracketed paste as Claude does); the notification a real
 * Claude wait raises is in the last test.
 */

import assert from "node:assert/strict";
import {
  alive,
  type DaemonProcess,
  Fifo,
  MAIN,
  RawClient,
  spoolHook,
  TestHome,
  TextSink,
} from "./_harness.ts";
import type { SessionEvent, SessionRecord } from "../src/protocol.ts";
import { approvePrompt, claudeTest, setupClaude } from "./_claude.ts";
import { within } from "../src/async.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The stand-in's script: its prompt is up at once (bracketed paste on). */
const READY_PROGRAM = "printf '\\033[?2004h'; exec sleep 100000";

/** A notify.command that reports each call on `fifo` (one write, so calls never mix). */
async function writeRecorder(dir: string, fifo: string): Promise<string> {
  const path = `${dir}/recorder.sh`;
  await Deno.writeTextFile(
    path,
    `IFS= read -r json
body=$(printf %s "$CLAUDE_SESSIONS_NOTIFY_BODY" | tr '\\n' '|')
printf 'ID=%s\\nKIND=%s\\nTITLE=%s\\nBODY=%s\\nTEST=%s\\nJSON=%s\\nEND\\n' \\
  "$CLAUDE_SESSIONS_NOTIFY_ID" "$CLAUDE_SESSIONS_NOTIFY_KIND" "$CLAUDE_SESSIONS_NOTIFY_TITLE" \\
  "$body" "$CLAUDE_SESSIONS_NOTIFY_TEST" "$json" > ${fifo}
`,
  );
  return `/bin/sh ${path}`;
}

/** Every call the recorder reported, as they come. */
class Calls {
  readonly all: Record<string, string>[] = [];
  #waiters: (() => void)[] = [];
  readonly #done: Promise<void>;

  constructor(fifo: Fifo) {
    this.#done = (async () => {
      while (true) {
        try {
          this.all.push(await fifo.read(3_600_000));
        } catch {
          break; // closed
        }
        for (const fn of this.#waiters.splice(0)) fn();
      }
    })();
  }

  /** The calls about session `id`. */
  of(id: string): Record<string, string>[] {
    return this.all.filter((c) => c.ID === id);
  }

  /** Waits until `id` has had `n` calls. */
  async await(id: string, n: number, timeoutMs = 20_000): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    while (this.of(id).length < n) {
      if (Date.now() > deadline) {
        throw new Error(
          `${id}: ${this.of(id).length} of ${n} notifications within ${timeoutMs} ms`,
        );
      }
      await within(new Promise<void>((r) => this.#waiters.push(r)), deadline - Date.now());
    }
    return this.of(id)[n - 1]!;
  }

  async close(fifo: Fifo): Promise<void> {
    fifo.close();
    await within(this.#done, 5000);
  }
}

/** `events --json` running beside the test. */
class EventLog {
  readonly child: Deno.ChildProcess;
  readonly sink: TextSink;

  constructor(home: TestHome) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "events", "--json"],
      env: home.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.sink = new TextSink(this.child.stdout);
  }

  /**
   * Resolves once it is subscribed: it has printed the `created` event of a
   * probe session started after it (another probe each few seconds until one
   * shows; the probes stay, in `starting`).
   */
  async ready(home: TestHome, env: Record<string, string>): Promise<void> {
    for (let i = 1; i <= 5; i++) {
      await home.ok(["new", home.dir, "--name", `probe-${i}`], { env });
      try {
        await this.sink.waitFor(new RegExp(`"event":"created"[^\\n]*"name":"probe-${i}"`), 5000);
        return;
      } catch {
        // Not subscribed yet when that one was created: try another.
      }
    }
    throw new Error("events --json never showed a session created after it started");
  }

  get events(): SessionEvent[] {
    return this.sink.text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  }

  notified(): SessionEvent[] {
    return this.events.filter((e) => e.event === "notified");
  }

  /** Waits until `n` notified events have come. */
  async awaitNotified(n: number, timeoutMs = 30_000): Promise<SessionEvent[]> {
    // Any "pattern" with a test() will do: this one counts.
    const counted = {
      test: (text: string) => text.split('"event":"notified"').length - 1 >= n,
      toString: () => `${n} notified events`,
    } as unknown as RegExp;
    await this.sink.waitFor(counted, timeoutMs);
    return this.notified();
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGINT");
    } catch { /* gone */ }
    await this.child.status;
    await this.sink.done;
  }
}

/** A home whose sessions run the stand-in, and whose notifier is `command`. */
async function setup(notify: Record<string, unknown>, program = READY_PROGRAM) {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", program], hooks: true },
    notify,
  });
  const fakeHome = await Deno.makeTempDir({ prefix: "cs-user-" });
  const daemon = await home.startDaemon();
  const events = new EventLog(home);
  await events.ready(home, { HOME: fakeHome });
  let stamp = 0n;
  return {
    home,
    daemon,
    events,
    spool: `${home.dir}/spool`,
    fakeHome,
    async start(name: string): Promise<string> {
      const id = (await home.ok(["new", home.dir, "--name", name], { env: { HOME: fakeHome } }))
        .trim();
      await this.hook(id, { hook_event_name: "SessionStart", source: "startup" });
      await home.ok(["wait", id, "--until", "waiting_input", "--timeout", "20"]);
      return id;
    },
    /** Spools a hook event for `id`, stamped after every earlier one. */
    async hook(id: string, payload: Record<string, unknown>): Promise<void> {
      const now = BigInt(Date.now()) * 1_000_000n;
      stamp = now > stamp ? now : stamp + 1000n;
      await spoolHook(`${home.dir}/spool`, id, stamp, payload);
    },
    async cleanup(): Promise<void> {
      await events.stop();
      await daemon.stop();
      await home.cleanup();
      await Deno.remove(fakeHome, { recursive: true });
    },
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** A permission wait: the request, reported twice, and a flap back through running. */
async function permissionWait(t: Setup, id: string, step: string): Promise<void> {
  const ask = {
    hook_event_name: "PermissionRequest",
    tool_name: "Bash",
    tool_input: { command: step },
  };
  await t.hook(id, { hook_event_name: "PreToolUse", tool_name: "Bash" });
  await t.hook(id, ask);
  await t.hook(id, {
    hook_event_name: "Notification",
    notification_type: "permission_prompt",
    message: "Claude needs your permission to use Bash",
  });
  await t.hook(id, { hook_event_name: "PreToolUse", tool_name: "Bash" });
  await t.hook(id, ask);
}

/** An input wait: a turn that ends. */
async function inputWait(t: Setup, id: string, answer: string): Promise<void> {
  await t.hook(id, { hook_event_name: "UserPromptSubmit", prompt: "go on" });
  await t.hook(id, { hook_event_name: "Stop", last_assistant_message: answer });
}

Deno.test(
  "10 scripted waits: exactly 10 notifications, none while attached, each an event",
  opts,
  async () => {
    const home0 = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-fifo-" });
    const fifo = await Fifo.create(home0);
    const calls = new Calls(fifo);
    const command = await writeRecorder(home0, fifo.path);
    const t = await setup({ command });
    try {
      const a = await t.start("alpha");
      const b = await t.start("beta");
      const c = await t.start("gamma");
      // Started sessions wait for input, but were never running: no notification.
      const viewer = await RawClient.connect(t.home.socket);
      const attached = await viewer.request("attach", { session: c, cols: 80, rows: 24 });
      assert.equal(attached.ok, true);

      const alpha = async () => {
        for (let i = 1; i <= 5; i++) {
          // gamma, attached, enters a wait just before alpha does, and holds it
          // until alpha's is notified (so past the settle time): never notified.
          if (i <= 3) await permissionWait(t, c, `gamma ${i}`);
          if (i % 2 === 1) await permissionWait(t, a, `alpha ${i}`);
          else await inputWait(t, a, `alpha answer ${i}`);
          const call = await calls.await(a, i);
          assert.equal(call.KIND, i % 2 === 1 ? "permission" : "input");
          assert.equal(call.TITLE, `alpha: waiting for ${i % 2 === 1 ? "permission" : "input"}`);
          assert.equal(
            call.BODY,
            i % 2 === 1
              ? `Waiting for permission to use Bash: alpha ${i}|in ${t.home.dir}`
              : `alpha answer ${i}|in ${t.home.dir}`,
          );
          assert.equal(call.TEST, "0");
          if (i <= 3) await t.hook(c, { hook_event_name: "PostToolUse", tool_name: "Bash" });
        }
      };
      const beta = async () => {
        for (let i = 1; i <= 4; i++) {
          if (i === 1) await inputWait(t, b, `beta answer ${i}`);
          // The approved tool's run went unreported: the turn ends straight from the prompt.
          else if (i === 3) {
            await t.hook(b, { hook_event_name: "Stop", last_assistant_message: "beta answer 3" });
          } else await permissionWait(t, b, `beta ${i}`);
          const call = await calls.await(b, i);
          assert.equal(call.KIND, i % 2 === 1 ? "input" : "permission");
          const json = JSON.parse(call.JSON!);
          assert.equal(json.session.id, b);
          assert.equal(json.session.name, "beta");
          assert.equal(json.kind, call.KIND);
          assert.equal(json.test, false);
        }
      };
      await Promise.all([alpha(), beta()]);
      assert.equal(calls.of(c).length, 0, "gamma was notified while attached");

      // Detached, gamma's next wait is notified.
      assert.equal((await viewer.request("detach", { session: c })).ok, true);
      viewer.close();
      await permissionWait(t, c, "gamma 4");
      const last = await calls.await(c, 1);
      assert.match(last.BODY!, /^Waiting for permission to use Bash: gamma 4\|/);

      // Every notification is a `notified` event; nothing more came.
      const notified = await t.events.awaitNotified(10);
      assert.equal(calls.all.length, 10);
      assert.equal(notified.length, 10);
      assert.deepEqual(
        notified.map((e) => e.id).sort(),
        [...Array(5).fill(a), ...Array(4).fill(b), c].sort(),
      );
      for (const e of notified) {
        assert.equal(e.notification!.outcome, "sent");
        assert.equal(e.notification!.notifier, "command");
      }
      assert.deepEqual(
        calls.of(a).map((x) => x.KIND),
        ["permission", "input", "permission", "input", "permission"],
      );
    } finally {
      await t.cleanup();
      await calls.close(fifo);
      await Deno.remove(home0, { recursive: true });
    }
  },
);

Deno.test(
  "the folder-trust question notifies; the prompt that follows its answer does not",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-fifo-" });
    const fifo = await Fifo.create(dir);
    const calls = new Calls(fifo);
    const command = await writeRecorder(dir, fifo.path);
    // A stand-in showing Claude's folder-trust dialog, ready for input.
    const t = await setup(
      { command },
      "printf '\\033[?2004hDo you trust the files in this folder?\\n Yes, I trust this folder\\n'; " +
        "exec sleep 100000",
    );
    try {
      const id = (await t.home.ok(["new", t.home.dir, "--name", "trust"], {
        env: { HOME: t.fakeHome },
      })).trim();
      const asked = await calls.await(id, 1);
      assert.equal(asked.KIND, "permission");
      assert.equal(asked.TITLE, "trust: waiting for folder trust");
      assert.equal(asked.BODY, `Waiting for the folder-trust question|in ${t.home.dir}`);
      // Answered: Claude starts and its prompt comes up. No turn ran: no notification.
      await t.hook(id, { hook_event_name: "SessionStart", source: "startup" });
      await t.home.ok(["wait", id, "--until", "waiting_input", "--timeout", "20"]);
      // Another session asks its own trust question after that: by the time it
      // is notified, a notification for the prompt would have come first.
      const other = (await t.home.ok(["new", t.home.dir, "--name", "other"], {
        env: { HOME: t.fakeHome },
      })).trim();
      await calls.await(other, 1);
      assert.equal(calls.of(id).length, 1, "the prompt coming up was notified");
      await inputWait(t, id, "the first answer");
      const next = await calls.await(id, 2);
      assert.equal(next.KIND, "input");
      assert.match(next.BODY!, /^the first answer\|/);
    } finally {
      await t.cleanup();
      await calls.close(fifo);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a notifier that hangs is killed at its timeout, and the daemon answers meanwhile",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-fifo-" });
    const fifo = await Fifo.create(dir);
    await Deno.writeTextFile(
      `${dir}/hang.sh`,
      `printf 'PID=%s\\nID=%s\\nEND\\n' $$ "$CLAUDE_SESSIONS_NOTIFY_ID" > ${fifo.path}\nsleep 600\n`,
    );
    const t = await setup({ command: `/bin/sh ${dir}/hang.sh`, timeoutSeconds: 6 });
    try {
      const x = await t.start("x");
      const y = await t.start("y");
      await Promise.all([permissionWait(t, x, "hang x"), permissionWait(t, y, "hang y")]);
      const pids = [Number((await fifo.read(20_000)).PID), Number((await fifo.read(20_000)).PID)];
      assert.ok(pids.every((p) => alive(p)));

      // Both notifiers hang; the daemon answers at once.
      const raw = await RawClient.connect(t.home.socket);
      const t0 = performance.now();
      const ls = await raw.request("ls", {});
      const rawMs = performance.now() - t0;
      assert.equal(ls.ok, true);
      assert.ok(rawMs < 5000, `ls took ${rawMs} ms while notifiers hung`);
      raw.close();
      const t1 = performance.now();
      const listed = JSON.parse(await t.home.ok(["ls", "--json"])) as SessionRecord[];
      const cliMs = performance.now() - t1;
      assert.deepEqual(listed.map((s) => s.name).filter((n) => !n?.startsWith("probe")).sort(), [
        "x",
        "y",
      ]);
      assert.ok(cliMs < 5000, `the ls command took ${cliMs} ms while notifiers hung`);
      // Statuses still move.
      await t.hook(x, { hook_event_name: "PostToolUse", tool_name: "Bash" });
      await t.home.ok(["wait", x, "--until", "running", "--timeout", "5"]);
      // …and all that happened while they still hung.
      assert.ok(pids.every((p) => alive(p)), "a notifier was gone before the checks ended");

      const notified = await t.events.awaitNotified(2, 30_000);
      for (const e of notified) {
        assert.equal(e.notification!.outcome, "timeout");
        assert.equal(e.notification!.error, "killed after 6s");
      }
      // Killed (their process groups), so gone within moments.
      for (const deadline = Date.now() + 5000; pids.some((p) => alive(p));) {
        if (Date.now() > deadline) throw new Error("a notifier survived its timeout");
        await new Promise((r) => setTimeout(r, 20));
      }
      // Logged once, not once per notification.
      const lines = t.daemon.log.split("\n").filter((l) => l.includes("notification timed out"));
      assert.equal(lines.length, 1, t.daemon.log);
      assert.match(lines[0]!, /notification timed out \(command\): killed after 6s/);
    } finally {
      await t.cleanup();
      fifo.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("notify test: sends a sample through the notifier, says how it went", opts, async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-fifo-" });
  const fifo = await Fifo.create(dir);
  const command = await writeRecorder(dir, fifo.path);
  const home = await TestHome.create({ notify: { command } });
  let daemon: DaemonProcess | null = null;
  try {
    daemon = await home.startDaemon();
    const r = await home.cli(["notify", "test"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "sent through command: notify-test: waiting for permission\n");
    const call = await fifo.read(10_000);
    assert.equal(call.TEST, "1");
    assert.equal(JSON.parse(call.JSON!).test, true);

    // The config is re-read first: a failing command, and notifications off.
    await home.writeConfig({
      notify: { command: "echo 'no route to phone' >&2; exit 7", enabled: false },
    });
    const bad = await home.cli(["notify", "test"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /the test notification failed \(command\): exited 7: no route to phone \(notify.enabled is false: sessions do not notify\)/,
    );
    const json = await home.cli(["notify", "test", "--json"]);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.enabled, false);
    assert.equal(parsed.notification.outcome, "failed");

    const usage = await home.cli(["notify", "send"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown action "send" \(test or watch\)/);

    // status and doctor say which notifier the daemon uses.
    await home.writeConfig({ notify: { command: "true", on: ["waiting_permission"] } });
    await home.ok(["notify", "test"]);
    const st = JSON.parse(await home.ok(["status", "--json"]));
    assert.equal(st.notify.notifier, "command");
    assert.deepEqual(st.notify.on, ["waiting_permission"]);
    assert.match(
      await home.ok(["status"]),
      /^notify +notify\.command: true \(on waiting_permission\)$/m,
    );
    const doc = await home.cli(["doctor", "--only", "notifier"]);
    assert.equal(doc.code, 0, doc.stdout);
    assert.match(
      doc.stdout,
      /✓ notifier +notify\.command: true \(on waiting_permission; killed after 10s; the daemon uses it\)/,
    );
    // A reload (SIGHUP) applies a change.
    await home.writeConfig({ notify: { enabled: false } });
    Deno.kill(daemon.pid, "SIGHUP");
    await daemon.waitForLog(/SIGHUP: reloading config/, 10_000);
    // (The reload finishes just after the log line: ask until it has, within a deadline.)
    let off = "";
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      off = (await home.cli(["doctor", "--only", "notifier"])).stdout;
      if (!off.includes("✓")) break;
    }
    assert.match(off, /– notifier +notifications are off \(notify\.enabled is false\)/);
    // With no daemon to ask, as this shell would find it.
    await daemon.stop();
    daemon = null;
    await home.writeConfig({ notify: { command: "true" } });
    const shell = await home.cli(["doctor", "--only", "notifier"]);
    assert.match(
      shell.stdout,
      /✓ notifier +notify\.command: true \(.*as this shell finds it: the daemon did not say\)/,
    );
  } finally {
    await daemon?.stop();
    fifo.close();
    await home.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "claude: a finished turn and a permission prompt each notify once, with Claude's words",
  ...claudeTest,
  fn: async () => {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-fifo-" });
    const fifo = await Fifo.create(dir);
    const calls = new Calls(fifo);
    const command = await writeRecorder(dir, fifo.path);
    const t = await setupClaude({
      args: ["--permission-mode", "default"],
      config: { notify: { command } },
    });
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      const id = (await cs(["new", t.work, "--name", "c"])).trim();
      await cs(["wait", "c", "--until", "waiting_input", "--timeout", "60"]);
      t.api.enqueue("The first answer.");
      await cs(["send", "c", "first prompt"]);
      const answered = await calls.await(id, 1, 60_000);
      assert.equal(answered.KIND, "input");
      assert.equal(answered.TITLE, "c: waiting for input");
      assert.match(answered.BODY!, /^The first answer\.\|in /);

      t.api.enqueue(
        {
          type: "tool_use",
          name: "Bash",
          input: { command: "touch approved.txt", description: "Create a file" },
        },
        "The file is created.",
      );
      await cs(["send", "c", "please create a file"]);
      const asked = await calls.await(id, 2, 60_000);
      assert.equal(asked.KIND, "permission");
      assert.equal(asked.TITLE, "c: waiting for permission");
      assert.match(asked.BODY!, /^Waiting for permission to use Bash: touch approved\.txt\|/);
      // Approve with Enter (retried while Claude drops keys).
      await approvePrompt(t, "c");
      const done = await calls.await(id, 3, 60_000);
      assert.equal(done.KIND, "input");
      assert.match(done.BODY!, /^The file is created\./);
      // The hooks and Claude's state file both report each wait, yet each
      // was one notification: the next one is the next turn's.
      t.api.enqueue("The second answer.");
      await cs(["send", "c", "one more"]);
      const next = await calls.await(id, 4, 60_000);
      assert.match(next.BODY!, /^The second answer\./);
      assert.equal(calls.all.length, 4);
    } finally {
      await t.cleanup();
      await calls.close(fifo);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
