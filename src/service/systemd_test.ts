import assert from "node:assert/strict";
import { parseShow, SystemdBackend, systemdUserDir } from "./systemd.ts";
import type { Runner, RunResult } from "./_run.ts";

function fake(answers: Record<string, Partial<RunResult>> = {}): { run: Runner; calls: string[] } {
  const calls: string[] = [];
  const run: Runner = (program, args) => {
    const line = [program, ...args].join(" ");
    calls.push(line);
    const a = Object.entries(answers).find(([k]) => line.includes(k))?.[1] ?? {};
    return Promise.resolve({ code: 0, stdout: "", stderr: "", ...a });
  };
  return { run, calls };
}

const SHOW = `LoadState=loaded
ActiveState=active
SubState=listening
UnitFileState=enabled
MainPID=0
Result=success

LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=static
MainPID=4242
Result=success
`;

Deno.test("systemdUserDir: XDG_CONFIG_HOME, else ~/.config", () => {
  const env = (m: Record<string, string>) => (k: string) => m[k];
  assert.equal(systemdUserDir(env({ HOME: "/h" })), "/h/.config/systemd/user");
  assert.equal(systemdUserDir(env({ HOME: "/h", XDG_CONFIG_HOME: "/x" })), "/x/systemd/user");
  assert.equal(
    systemdUserDir(env({ HOME: "/h", XDG_CONFIG_HOME: "rel" })),
    "/h/.config/systemd/user",
  );
});

Deno.test("parseShow: one map per unit, in order", () => {
  const [a, b] = parseShow(SHOW);
  assert.equal(a!.get("SubState"), "listening");
  assert.equal(b!.get("MainPID"), "4242");
});

Deno.test("systemd state: socket listening, service running", async () => {
  const { run, calls } = fake({ " show ": { stdout: SHOW } });
  const st = await new SystemdBackend("/d", run).state();
  assert.deepEqual(calls, [
    "systemctl --user show --property=LoadState,ActiveState,SubState,UnitFileState,MainPID,Result " +
    "claude-sessions.socket claude-sessions.service",
  ]);
  assert.equal(st.loaded, true);
  assert.equal(st.enabled, true);
  assert.equal(st.listening, true);
  assert.equal(st.running, true);
  assert.equal(st.failed, false);
  assert.equal(st.pid, 4242);
});

Deno.test("systemd state: not installed", async () => {
  const { run } = fake({
    " show ": {
      stdout:
        "LoadState=not-found\nActiveState=inactive\nMainPID=0\n\nLoadState=not-found\nActiveState=inactive\nMainPID=0\n",
    },
  });
  const st = await new SystemdBackend("/d", run).state();
  assert.equal(st.loaded, false);
  assert.equal(st.running, false);
  assert.equal(st.pid, null);
});

Deno.test("systemd: the systemctl calls of each operation", async () => {
  const { run, calls } = fake();
  const b = new SystemdBackend("/d", run);
  await b.register();
  await b.start();
  await b.restart();
  await b.stop();
  await b.forget();
  const u = "claude-sessions.socket claude-sessions.service";
  assert.deepEqual(calls.map((c) => c.replace("systemctl --user ", "")), [
    "daemon-reload",
    "enable claude-sessions.socket",
    `reset-failed ${u}`,
    "start claude-sessions.socket",
    "start claude-sessions.service",
    `reset-failed ${u}`,
    `restart ${u}`,
    `disable --now ${u}`,
    "daemon-reload",
    `reset-failed ${u}`,
  ]);
});

Deno.test("systemd: a failing systemctl is one clear error", async () => {
  const { run } = fake({
    "start claude-sessions.service": { code: 1, stderr: "Job failed. See journal.\nmore" },
  });
  await assert.rejects(
    () => new SystemdBackend("/d", run).start(),
    /^BackendError: systemctl --user start claude-sessions.service failed: Job failed. See journal.$/,
  );
});

Deno.test("systemd socketIn: the socket an installed socket unit listens on", () => {
  const b = new SystemdBackend("/d", fake().run);
  const at = (text: string | null) => b.socketIn(new Map([["claude-sessions.socket", text]]));
  assert.equal(
    at("[Socket]\nListenStream=/h/a%%b/daemon.sock\nSocketMode=0600\n"),
    "/h/a%b/daemon.sock",
  );
  assert.equal(at("[Socket]\nListenStream=%h/.claude-sessions/daemon.sock\n"), null);
  assert.equal(at("[Socket]\n"), null);
  assert.equal(at(null), null);
});
