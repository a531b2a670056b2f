import assert from "node:assert/strict";
import { type DetectEnv, detectManager } from "./detect.ts";

function machine(over: Partial<DetectEnv> & { vars?: Record<string, string> } = {}): DetectEnv {
  const vars = { HOME: "/home/me", ...(over.vars ?? {}) };
  return {
    os: "linux",
    env: (k) => vars[k as keyof typeof vars],
    uid: 1000,
    exists: () => false,
    initName: () => "bash",
    run: () => Promise.resolve({ code: 0, stdout: "", stderr: "" }),
    daemonLog: "/home/me/.claude-sessions/daemon.log",
    ...over,
  };
}

Deno.test("detect: no systemd as init means no manager, with the reason", async () => {
  const d = await detectManager(machine());
  assert.equal(d.backend, null);
  assert.equal(d.reason, "systemd is not the init system here: PID 1 is bash");
});

Deno.test("detect: systemd as init with a user manager", async () => {
  const d = await detectManager(machine({ exists: (p) => p === "/run/systemd/system" }));
  assert.equal(d.backend?.name, "systemd");
  assert.equal(d.backend?.dir, "/home/me/.config/systemd/user");
});

Deno.test("detect: systemd as init, but the user manager does not answer", async () => {
  const d = await detectManager(machine({
    exists: () => true,
    run: () =>
      Promise.resolve({
        code: 1,
        stdout: "",
        stderr: "Failed to connect to bus: No medium found\n",
      }),
  }));
  assert.equal(d.backend, null);
  assert.match(d.reason!, /user manager does not answer \(Failed to connect to bus/);
});

Deno.test("detect: macOS is launchd; the override wins", async () => {
  assert.equal((await detectManager(machine({ os: "darwin" }))).backend?.name, "launchd");
  const forced = (v: string) => machine({ vars: { CLAUDE_SESSIONS_SERVICE_MANAGER: v } });
  assert.equal((await detectManager(forced("systemd"))).backend?.name, "systemd");
  assert.equal((await detectManager(forced("none"))).backend, null);
  assert.match((await detectManager(forced("upstart"))).reason!, /not systemd, launchd or none/);
});
