import assert from "node:assert/strict";
import { LaunchdBackend, parsePrint } from "./launchd.ts";
import type { Runner } from "./_run.ts";

const PRINT = `gui/501/com.claude-sessions.daemon = {
	active count = 1
	path = /Users/me/Library/LaunchAgents/com.claude-sessions.daemon.plist
	state = running
	program = /Users/me/.local/bin/claude-sessions
	pid = 812
	last exit code = (never exited)
}
`;

Deno.test("parsePrint: running agent", () => {
  const st = parsePrint(PRINT);
  assert.equal(st.running, true);
  assert.equal(st.pid, 812);
  assert.equal(st.failed, false);
});

Deno.test("parsePrint: stopped after a failure", () => {
  const st = parsePrint(
    PRINT.replace("state = running", "state = not running").replace("(never exited)", "1"),
  );
  assert.equal(st.running, false);
  assert.equal(st.pid, null);
  assert.equal(st.failed, true);
});

/**
 * A stand-in for `launchctl` that, like launchd, releases an agent's label
 * only some time after `bootout` returns: for the next `releaseCalls` calls
 * `print` still finds the agent and `bootstrap` fails with
 * "5: Input/output error". `bootstrapFailures` makes that many further
 * bootstraps fail that way after the release (launchd answering late).
 */
class FakeLaunchctl {
  readonly calls: string[] = [];
  loaded = false;
  #held = 0;
  #bootstrapFailures: number;
  readonly #releaseCalls: number;

  constructor(opts: { releaseCalls?: number; bootstrapFailures?: number } = {}) {
    this.#releaseCalls = opts.releaseCalls ?? 0;
    this.#bootstrapFailures = opts.bootstrapFailures ?? 0;
  }

  /** Whether launchd still holds the label of an agent that was booted out. */
  get held(): boolean {
    return this.#held > 0;
  }

  readonly run: Runner = (program, args) => {
    this.calls.push([program, ...args].join(" "));
    const held = this.#held > 0;
    if (held) this.#held--;
    const res = (code: number, stdout = "", stderr = "") =>
      Promise.resolve({ code, stdout, stderr });
    switch (args[0]) {
      case "print":
        if (this.loaded) return res(0, PRINT);
        if (held) return res(0, PRINT.replace("state = running", "state = stopping"));
        return res(113, "", `Could not find service "com.claude-sessions.daemon" in domain`);
      case "bootstrap":
        if (this.loaded || held || this.#bootstrapFailures-- > 0) {
          return res(5, "", "Bootstrap failed: 5: Input/output error\nTry re-running …");
        }
        this.loaded = true;
        return res(0);
      case "bootout":
        if (!this.loaded) return res(3, "", "Boot-out failed: 3: No such process");
        this.loaded = false;
        this.#held = this.#releaseCalls;
        return res(0);
      default:
        return res(0);
    }
  };
}

const T = "gui/501/com.claude-sessions.daemon";
const PLIST = "/Users/me/Library/LaunchAgents/com.claude-sessions.daemon.plist";
const fast = { pollMs: 1, releaseTimeoutMs: 5_000 };

Deno.test("launchd: bootstrap when not loaded, bootout + bootstrap to restart, bootout to stop", async () => {
  const f = new FakeLaunchctl();
  const b = new LaunchdBackend("/Users/me", 501, "/Users/me/.claude-sessions/daemon.log", f.run);
  assert.equal(b.dir, "/Users/me/Library/LaunchAgents");
  await b.start();
  await b.start();
  await b.restart();
  await b.stop();
  assert.deepEqual(f.calls, [
    `launchctl print ${T}`,
    `launchctl bootstrap gui/501 ${PLIST}`,
    `launchctl print ${T}`,
    `launchctl kickstart ${T}`,
    `launchctl print ${T}`,
    `launchctl bootout ${T}`,
    `launchctl print ${T}`,
    `launchctl bootstrap gui/501 ${PLIST}`,
    `launchctl print ${T}`,
    `launchctl bootout ${T}`,
    `launchctl print ${T}`,
  ]);
  assert.equal(f.loaded, false);
});

Deno.test("launchd: restart waits until launchd has released the label after bootout", async () => {
  const f = new FakeLaunchctl({ releaseCalls: 3 });
  f.loaded = true;
  const b = new LaunchdBackend("/Users/me", 501, "/l", f.run, fast);
  await b.restart();
  assert.equal(f.loaded, true);
  assert.deepEqual(f.calls, [
    `launchctl print ${T}`,
    `launchctl bootout ${T}`,
    // Still there (stopping) three times, then gone.
    `launchctl print ${T}`,
    `launchctl print ${T}`,
    `launchctl print ${T}`,
    `launchctl print ${T}`,
    `launchctl bootstrap gui/501 ${PLIST}`,
  ]);
  // stop waits too, so that a bootstrap right after it works.
  const g = new FakeLaunchctl({ releaseCalls: 2 });
  g.loaded = true;
  await new LaunchdBackend("/Users/me", 501, "/l", g.run, fast).stop();
  assert.equal(g.held, false);
});

Deno.test("launchd: bootstrap is retried while launchd answers Input/output error", async () => {
  const f = new FakeLaunchctl({ bootstrapFailures: 2 });
  const b = new LaunchdBackend("/Users/me", 501, "/l", f.run, fast);
  await b.start();
  assert.equal(f.loaded, true);
  assert.equal(f.calls.filter((c) => c.includes("bootstrap")).length, 3);
});

Deno.test("launchd: the waits are bounded, and end in one clear error", async () => {
  // The label is never released.
  const never = new FakeLaunchctl({ releaseCalls: Number.MAX_SAFE_INTEGER });
  never.loaded = true;
  await assert.rejects(
    () =>
      new LaunchdBackend("/Users/me", 501, "/l", never.run, { pollMs: 1, releaseTimeoutMs: 30 })
        .restart(),
    /^BackendError: launchd still has com\.claude-sessions\.daemon 0\.03s after launchctl bootout$/,
  );
  // bootstrap keeps failing: a few attempts, then the error.
  const stuck = new FakeLaunchctl({ bootstrapFailures: 100 });
  await assert.rejects(
    () => new LaunchdBackend("/Users/me", 501, "/l", stuck.run, fast).start(),
    new RegExp(
      `^BackendError: launchctl bootstrap gui/501 ${PLIST} failed \\(5 attempts\\): ` +
        "Bootstrap failed: 5: Input/output error$",
    ),
  );
  assert.equal(stuck.calls.filter((c) => c.includes("bootstrap")).length, 5);
  // Any other bootstrap failure is not retried.
  const other: Runner = (_p, args) =>
    Promise.resolve(
      args[0] === "bootstrap"
        ? { code: 1, stdout: "", stderr: "Bootstrap failed: 1: Operation not permitted" }
        : { code: 113, stdout: "", stderr: "" },
    );
  await assert.rejects(
    () => new LaunchdBackend("/Users/me", 501, "/l", other, fast).start(),
    /failed: Bootstrap failed: 1: Operation not permitted$/,
  );
});

Deno.test("launchd socketIn: the socket of the home an installed plist names", () => {
  const b = new LaunchdBackend("/Users/me", 501, "/l", new FakeLaunchctl().run);
  const [f] = b.render({
    command: ["/bin/cs"],
    home: "/Users/me/a&b <c>",
    socket: "/Users/me/a&b <c>/daemon.sock",
    path: "/usr/bin",
  });
  assert.equal(b.socketIn(new Map([[f!.name, f!.text]])), "/Users/me/a&b <c>/daemon.sock");
  assert.equal(b.socketIn(new Map([[f!.name, null]])), null);
});
