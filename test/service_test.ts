/**
 * End-to-end: `service install|status|restart|uninstall` against a stand-in
 * systemctl (test/fixtures/fake_systemctl.sh) that runs the installed units
 * through systemd-socket-activate. Installing never stops live sessions of a
 * daemon started outside the service; `service restart` switches over.
 */

import assert from "node:assert/strict";
import { FakeDaemon, haveCommand, ROOT, TestHome } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * Puts the stand-in systemctl first on PATH for `home`; returns the
 * environment that reaches it (its state lives in the home).
 */
async function fakeSystemd(home: TestHome): Promise<Record<string, string>> {
  await Deno.mkdir(`${home.dir}/fakebin`);
  await Deno.symlink(`${ROOT}test/fixtures/fake_systemctl.sh`, `${home.dir}/fakebin/systemctl`);
  return {
    HOME: home.dir,
    PATH: `${home.dir}/fakebin:${Deno.env.get("PATH")}`,
    CLAUDE_SESSIONS_SERVICE_MANAGER: "systemd",
    FAKE_SYSTEMD_STATE: `${home.dir}/fake-systemd`,
  };
}

Deno.test({
  name: "service: install leaves a busy outside daemon running; restart switches to the service",
  ...opts,
  ignore: !(await haveCommand("systemd-socket-activate")),
  fn: async () => {
    const home = await TestHome.create({ claude: { command: "sh" } });
    const env = await fakeSystemd(home);
    const cs = (args: string[]) => home.ok(args, { env });
    const status = async () => JSON.parse(await cs(["service", "status", "--json"]));
    try {
      // A daemon started by the CLI, with a live session.
      const id = (await cs(["new", home.dir, "--", "-c", "exec sleep 600"])).trim();
      await cs(["wait", id, "--until", "running", "--timeout", "30"]);
      const outside = JSON.parse(await cs(["status", "--json"])).pid;

      const inst = await cs(["service", "install"]);
      assert.match(inst, /wrote .*\/\.config\/systemd\/user\/claude-sessions\.socket/);
      assert.match(
        inst,
        /started outside the service \(pid \d+\) runs 1 live session; left running/,
      );
      assert.match(inst, /claude-sessions service restart/);
      assert.equal(JSON.parse(await cs(["status", "--json"])).pid, outside, "not stopped");
      let st = await status();
      assert.equal(st.installed, true);
      assert.equal(st.managed, false);
      assert.equal(st.daemon.live, 1);

      const doc = JSON.parse((await home.cli(["doctor", "--json"], { env })).stdout);
      const svc = doc.checks.find((c: { id: string }) => c.id === "service");
      assert.equal(svc.status, "fail");
      assert.match(svc.fix, /service restart/);

      // The switch: the outside daemon stops its session; the service's daemon takes over.
      const restart = await cs(["service", "restart"]);
      assert.match(restart, /stopping the daemon started outside the service/);
      assert.match(restart, /systemd: the daemon runs \(pid \d+\)/);
      st = await status();
      assert.equal(st.managed, true);
      assert.equal(st.daemon.socketActivated, true);
      assert.notEqual(st.daemon.pid, outside);
      const rec = JSON.parse(await cs(["ls", "--all", "--json"]))[0];
      assert.equal(rec.exitReason, "daemon_stopped");

      // Installing again changes nothing and keeps the daemon.
      const again = await cs(["service", "install"]);
      assert.match(again, /claude-sessions\.service is up to date/);
      assert.equal((await status()).daemon.pid, st.daemon.pid);

      // Stopped under the service, the daemon is started again through it: by doctor…
      const stop = async () => {
        const sd = await new Deno.Command(`${home.dir}/fakebin/systemctl`, {
          args: ["--user", "stop", "claude-sessions.socket", "claude-sessions.service"],
          env: { ...Deno.env.toObject(), ...env },
        }).output();
        assert.equal(sd.code, 0);
        assert.equal((await status()).daemon.answering, false);
      };
      await stop();
      const doc2 = JSON.parse((await home.cli(["doctor", "--json"], { env })).stdout);
      const check = (id: string) => doc2.checks.find((c: { id: string }) => c.id === id);
      assert.equal(check("daemon").status, "ok", JSON.stringify(check("daemon")));
      assert.match(check("daemon").detail, /^started it; pid \d+, .*\(socket-activated\)$/);
      assert.equal(check("service").status, "ok", JSON.stringify(check("service")));
      st = await status();
      assert.equal(st.managed, true);
      assert.equal(st.daemon.socketActivated, true);
      // …and by any other command.
      await stop();
      await cs(["ls"]);
      st = await status();
      assert.equal(st.managed, true);
      assert.equal(st.daemon.socketActivated, true);

      const un = await cs(["service", "uninstall"]);
      assert.match(un, /stopped and disabled the service/);
      assert.match(un, /removed .*claude-sessions\.service/);
      st = await status();
      assert.equal(st.installed, false);
      assert.equal(st.daemon.answering, false);
      assert.match(await cs(["service", "uninstall"]), /the service was not installed/);
    } finally {
      await home.cli(["stop-daemon"], { env }).catch(() => {});
      await new Deno.Command(`${home.dir}/fakebin/systemctl`, {
        args: ["--user", "disable", "--now", "claude-sessions.socket"],
        env: { ...Deno.env.toObject(), ...env },
      }).output().catch(() => {});
      await home.cleanup();
    }
  },
});

Deno.test("service: without a manager, install says so and status reports it", async () => {
  const home = await TestHome.create();
  const env = { CLAUDE_SESSIONS_SERVICE_MANAGER: "none" };
  try {
    const inst = await home.cli(["service", "install"], { env });
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stdout, /^no service manager here \(.*\): nothing to install/);
    const st = JSON.parse(await home.ok(["service", "status", "--json"], { env }));
    assert.equal(st.manager, "none");
    assert.equal(st.daemon.answering, false);
    const bad = await home.cli(["service", "frobnicate"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^claude-sessions: unknown action "frobnicate"/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("service: status exits 0 and reports a manager that does not answer", async () => {
  const home = await TestHome.create();
  await Deno.mkdir(`${home.dir}/fakebin`);
  await Deno.writeTextFile(
    `${home.dir}/fakebin/systemctl`,
    '#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  const env = {
    HOME: home.dir,
    PATH: `${home.dir}/fakebin:${Deno.env.get("PATH")}`,
    CLAUDE_SESSIONS_SERVICE_MANAGER: "systemd",
  };
  try {
    const text = await home.cli(["service", "status"], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, "");
    assert.match(
      text.stdout,
      /^state {5}unknown: systemctl --user show .* Failed to connect to bus/m,
    );
    assert.match(text.stdout, /^summary {3}cannot ask systemd about the service; no daemon runs$/m);
    const st = JSON.parse(await home.ok(["service", "status", "--json"], { env }));
    assert.equal(st.manager, "systemd");
    assert.equal(st.state, null);
    assert.match(st.error, /Failed to connect to bus: No medium found/);
    assert.equal(st.daemon.answering, false);
    // Operations that need the manager still fail, in one line.
    const inst = await home.cli(["service", "uninstall"], { env });
    assert.equal(inst.code, 1);
    assert.match(inst.stderr, /^claude-sessions: systemctl --user show .*Failed to connect to bus/);
    assert.doesNotMatch(inst.stderr, /^\s+at /m);
  } finally {
    await home.cleanup();
  }
});

Deno.test({
  name: "service: install for a new home restarts the socket unit, unless that cuts off sessions",
  ...opts,
  ignore: !(await haveCommand("systemd-socket-activate")),
  fn: async () => {
    const home = await TestHome.create({ claude: { command: "sh" } });
    const systemd = await fakeSystemd(home);
    const a = home.dir;
    const b = `${home.dir}/b`;
    await Deno.mkdir(b, { mode: 0o700 });
    await Deno.writeTextFile(`${b}/config.jsonc`, '{ "claude": { "command": "sh" } }');
    const env = (csHome: string) => ({ ...systemd, CLAUDE_SESSIONS_HOME: csHome });
    const cs = (csHome: string, args: string[]) => home.ok(args, { env: env(csHome) });
    /** Who answers for `csHome`: its daemon's home, and whether it is the service's. */
    const serving = async (csHome: string) => {
      const st = JSON.parse(await cs(csHome, ["service", "status", "--json"]));
      assert.equal(st.daemon.answering, true, JSON.stringify(st));
      const d = JSON.parse(await cs(csHome, ["status", "--json"]));
      return { home: d.home, socket: d.socket, managed: st.managed, pid: d.pid };
    };
    try {
      assert.match(await cs(a, ["service", "install"]), /systemd: the daemon runs/);
      const first = await serving(a);
      assert.equal(first.home, a);
      assert.equal(first.managed, true);

      // The home moves; the service's daemon is idle: the socket unit is restarted.
      const moved = await cs(b, ["service", "install"]);
      assert.match(moved, /wrote .*claude-sessions\.socket/);
      const has = (text: string, line: string) => assert.ok(text.includes(line), text);
      has(
        moved,
        `restarting the service (its socket moves from ${a}/daemon.sock to ${b}/daemon.sock)`,
      );
      assert.match(moved, /systemd: the daemon runs \(pid \d+\) on /);
      const onB = await serving(b);
      assert.equal(onB.home, b);
      assert.equal(onB.socket, `${b}/daemon.sock`);
      assert.equal(onB.managed, true);

      // With a live session, moving back leaves that daemon running and says what to do.
      const id = (await cs(b, ["new", b, "--", "-c", "exec sleep 600"])).trim();
      await cs(b, ["wait", id, "--until", "running", "--timeout", "30"]);
      const busy = await cs(a, ["service", "install"]);
      has(
        busy,
        `the service's daemon (pid ${onB.pid}) serves ${b}/daemon.sock with 1 live session; left running`,
      );
      has(
        busy,
        `to move the service to ${a}/daemon.sock (this stops those sessions): claude-sessions service restart`,
      );
      assert.equal((await serving(b)).pid, onB.pid, "not stopped");

      // service restart moves it: a daemon for the new home, on the new socket.
      assert.match(await cs(a, ["service", "restart"]), /systemd: the daemon runs \(pid \d+\)/);
      const onA = await serving(a);
      assert.equal(onA.home, a);
      assert.equal(onA.socket, `${a}/daemon.sock`);
      assert.equal(onA.managed, true);
      const rec = JSON.parse(await Deno.readTextFile(`${b}/sessions/${id}.json`));
      assert.equal(rec.exitReason, "daemon_stopped");
    } finally {
      for (const h of [a, b]) await home.cli(["stop-daemon"], { env: env(h) }).catch(() => {});
      await new Deno.Command(`${home.dir}/fakebin/systemctl`, {
        args: ["--user", "disable", "--now", "claude-sessions.socket"],
        env: { ...Deno.env.toObject(), ...env(a) },
      }).output().catch(() => {});
      await home.cleanup();
    }
  },
});

Deno.test({
  name: "stop-daemon --if-outdated: stops only an idle daemon of another version",
  ...opts,
  fn: async () => {
    const home = await TestHome.create();
    const env = { CLAUDE_SESSIONS_SERVICE_MANAGER: "none" };
    const run = () => home.ok(["stop-daemon", "--if-outdated"], { env });
    try {
      assert.equal(await run(), "no daemon was running\n");

      // Busy: left running, and how to switch is said.
      const busy = FakeDaemon.start(home.socket, "0.0.9", 2);
      assert.equal(
        await run(),
        `a daemon of version 0.0.9 (pid ${Deno.pid}) runs 2 live sessions; left running. ` +
          "To switch to this version (this stops them): claude-sessions service restart\n",
      );
      assert.equal(busy.shutdownRequested, false);

      // Idle: stopped.
      busy.live = 0;
      assert.equal(
        await run(),
        "stopped the idle daemon of version 0.0.9; the next command starts this version\n",
      );
      await busy.stopped;
      assert.equal(busy.shutdownRequested, true);

      // This version: left running.
      await home.ok(["daemon"], { env });
      const pid = JSON.parse(await home.ok(["status", "--json"], { env })).pid;
      assert.match(
        await run(),
        new RegExp(`^the daemon \\(pid ${pid}\\) runs this version .*; left running\n$`),
      );
      assert.equal(JSON.parse(await home.ok(["status", "--json"], { env })).pid, pid);
    } finally {
      await home.cli(["stop-daemon"], { env });
      await home.cleanup();
    }
  },
});
