/**
 * End-to-end: a daemon that dies (SIGKILL) leaves records that the next
 * daemon marks exited, stopping our orphaned processes; a daemon told to stop
 * (SIGTERM) stops its sessions cleanly and exits 0.
 */

import assert from "node:assert/strict";
import { alive, Fifo, PROBE, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("after a daemon is killed, the next one marks its sessions exited", opts, async () => {
  const home = await TestHome.create({ claude: { command: PROBE }, kill: { graceSeconds: 1 } });
  const fifo = await Fifo.create(home.dir);
  const first = await home.startDaemon();
  try {
    const rep1 = fifo.read();
    const plain = (await home.ok(["new", home.dir], { env: { PROBE_FIFO: fifo.path } })).trim();
    const p1 = await rep1;
    const rep2 = fifo.read();
    const stubborn = (await home.ok(["new", home.dir], {
      env: { PROBE_FIFO: fifo.path, PROBE_MODE: "nohup" },
    })).trim();
    const p2 = await rep2;

    Deno.kill(first.pid, "SIGKILL");
    await first.exited();
    // The socket file is left behind, stale.
    await Deno.lstat(home.socket);

    const second = await home.startDaemon();
    try {
      assert.match(second.log, /removed stale socket/);
      // The stubborn one ignored the hang-up; the new daemon stopped it.
      assert.match(second.log, new RegExp(`${stubborn}: stopped orphaned process`));
      for (const pid of [p1.pid, p1.bg, p2.pid, p2.bg]) assert.equal(alive(Number(pid)), false);
      const all = JSON.parse(await home.ok(["ls", "--all", "--json"])) as SessionRecord[];
      for (const id of [plain, stubborn]) {
        const rec = all.find((s) => s.id === id)!;
        assert.equal(rec.status, "exited");
        assert.equal(rec.exitReason, "daemon_lost");
        assert.equal(rec.runs.at(-1)!.exitReason, "daemon_lost");
      }
      assert.equal((await home.ok(["ls"])).trim(), "");
    } finally {
      await second.stop();
    }
  } finally {
    await home.cleanup();
  }
});

Deno.test("SIGTERM stops sessions, writes records, removes the socket, exits 0", opts, async () => {
  const home = await TestHome.create({ claude: { command: PROBE } });
  const fifo = await Fifo.create(home.dir);
  const daemon = await home.startDaemon();
  try {
    const rep = fifo.read();
    const id = (await home.ok(["new", home.dir], {
      env: { PROBE_FIFO: fifo.path, PROBE_MODE: "nohup" },
    })).trim();
    const p = await rep;
    const t0 = Date.now();
    const st = await daemon.stop();
    assert.equal(st.code, 0);
    assert.ok(Date.now() - t0 < 8000, `shutdown took ${Date.now() - t0} ms`);
    assert.equal(alive(Number(p.pid)), false);
    assert.equal(alive(Number(p.bg)), false);
    await assert.rejects(Deno.lstat(home.socket));
    await assert.rejects(Deno.lstat(`${home.dir}/daemon.pid`));
    const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${id}.json`));
    assert.equal(rec.status, "exited");
    assert.equal(rec.exitReason, "daemon_stopped");
    assert.match(daemon.log, /shutting down \(SIGTERM\)/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("one daemon per home: a second one refuses with a clear message", opts, async () => {
  const home = await TestHome.create();
  const daemon = await home.startDaemon();
  try {
    const r = await home.cli(["daemon", "--foreground"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`a daemon is already running for ${home.dir} \\(pid ${daemon.pid}\\)`),
    );
    const bg = await home.cli(["daemon"]);
    assert.equal(bg.code, 0);
    assert.match(bg.stdout, new RegExp(`already running \\(pid ${daemon.pid}`));
    // It still answers.
    assert.match(await home.ok(["status"]), /running/);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("SIGHUP reloads the config and keeps running; a bad file is reported", opts, async () => {
  const home = await TestHome.create({ claude: { command: PROBE } });
  const daemon = await home.startDaemon();
  try {
    await home.writeConfig('{\n  "claude": { "command": "x" },\n  "bogus": 1\n}');
    Deno.kill(daemon.pid, "SIGHUP");
    await daemon.waitForLog(/SIGHUP: reloading config[\s\S]*unknown key "bogus"/);
    const st = JSON.parse(await home.ok(["status", "--json"]));
    assert.deepEqual(st.configWarnings, [
      `${home.dir}/config.jsonc:3:3: unknown key "bogus" (ignored)`,
    ]);
    await home.writeConfig('{\n  "claude": { "command": [1] }\n}');
    const r = await home.cli(["new", home.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config\.jsonc:2:26: "claude\.command" must be a string/);
    await home.writeConfig('{\n  "claude": {\n    "command": "x",,\n  }\n}');
    const r2 = await home.cli(["new", home.dir]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /config\.jsonc:3:20: /);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});
