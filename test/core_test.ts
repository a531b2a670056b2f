/**
 * End-to-end: a real daemon in a temp home runs the probe script as each
 * session's program and proves the PTY, environment, resize, raw input,
 * process-group kill and exit recording.
 */

import assert from "node:assert/strict";
import { alive, Fifo, PROBE, RawClient, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function setup(mode = "") {
  const home = await TestHome.create({ claude: { command: PROBE, args: ["a1", "a 2"] } });
  const daemon = await home.startDaemon();
  const fifo = await Fifo.create(home.dir);
  const work = await Deno.makeTempDir({ dir: home.dir, prefix: "work-" });
  const env = { PROBE_FIFO: fifo.path, PROBE_CUSTOM: "from-cli", PROBE_MODE: mode };
  return { home, daemon, fifo, work, env };
}

Deno.test(
  "new runs the program in a real pty with the requested size, env and cwd",
  opts,
  async () => {
    const { home, daemon, fifo, work, env } = await setup();
    try {
      const report = fifo.read();
      const id = (await home.ok(["new", work, "--name", "probe", "--size", "100x30", "--", "x3"], {
        env,
        clearEnv: ["TERM"],
      })).trim();
      assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
      const r = await report;
      assert.match(r.tty!, /^\/dev\/pts\/\d+$/);
      assert.equal(r.size, "30 100");
      assert.equal(r.id, id);
      assert.equal(r.home, home.dir);
      assert.equal(r.term, "xterm-256color");
      assert.equal(r.custom, "from-cli");
      assert.equal(r.cwd, await Deno.realPath(work));
      assert.equal(r.args, "a1 a 2 x3");
      // Its own session and process group, led by the program itself.
      assert.equal(r.sid, r.pid);
      assert.equal(r.pgid, r.pid);

      // A second CLI process sees it, by name and by prefix.
      const ls = await home.ok(["ls"]);
      assert.match(ls, /probe\s+running/);
      const records = JSON.parse(await home.ok(["ls", "--json"])) as SessionRecord[];
      assert.equal(records.length, 1);
      const rec = records[0]!;
      assert.equal(rec.id, id);
      assert.equal(rec.pid, Number(r.pid));
      assert.equal(rec.name, "probe");
      assert.equal(rec.cwd, await Deno.realPath(work));
      assert.equal(rec.cols, 100);
      assert.equal(rec.rows, 30);
      assert.equal(rec.status, "running");
      assert.deepEqual(rec.args, ["a1", "a 2", "x3"]);
      const byPrefix = JSON.parse(await home.ok(["new", "--json", work], { env }));
      await fifo.read();
      assert.equal(byPrefix.status, "running");

      // Names are unique among live sessions.
      const dup = await home.cli(["new", work, "--name", "probe"], { env });
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /name "probe" is taken/);

      // Resize delivers SIGWINCH; the program sees the new size.
      const c = await RawClient.connect(home.socket);
      const winch = fifo.read();
      const rr = await c.request("resize", { session: "probe", cols: 90, rows: 25 });
      assert.equal(rr.ok, true);
      assert.equal((await winch).winch, "25 90");

      // kill ends the whole process group, background grandchild included.
      assert.ok(alive(Number(r.bg)));
      const killed = await home.ok(["kill", "probe"]);
      assert.match(killed, /^\w+ \(probe\): killed \(SIGHUP\)$/m);
      assert.equal(alive(Number(r.pid)), false);
      assert.equal(alive(Number(r.bg)), false);
      const after = JSON.parse(await home.ok(["ls", "--all", "--json"])) as SessionRecord[];
      const dead = after.find((s) => s.id === id)!;
      assert.equal(dead.status, "exited");
      assert.equal(dead.exitReason, "killed");
      assert.equal(dead.signal, "SIGHUP");
      // The name is free again.
      const again = await home.cli(["new", work, "--name", "probe"], { env });
      assert.equal(again.code, 0, again.stderr);
      await fifo.read();
      c.close();
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test("raw mode: Ctrl-C reaches the program as a byte", opts, async () => {
  const { home, daemon, fifo, work, env } = await setup("raw");
  try {
    const first = fifo.read();
    const id = (await home.ok(["new", work], { env })).trim();
    await first;
    assert.equal((await fifo.read()).raw, "on");
    const c = await RawClient.connect(home.socket);
    const got = fifo.read();
    const r = await c.request("input", { session: id, data: btoa("\x03") });
    assert.equal(r.ok, true);
    assert.equal((await got).byte, "03");
    c.close();
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("exit code and signal are recorded", opts, async () => {
  const { home, daemon, fifo, work, env } = await setup("exit");
  try {
    const c = await RawClient.connect(home.socket);
    const first = fifo.read();
    const id = (await home.ok(["new", work], { env: { ...env, PROBE_EXIT: "7" } })).trim();
    const r = await first;
    const w = await c.request("wait", { session: id, until: ["exited"] });
    assert.equal(w.ok, true);
    const rec = (w.result as { session: SessionRecord }).session;
    assert.equal(rec.status, "exited");
    assert.equal(rec.exitCode, 7);
    assert.equal(rec.signal, null);
    assert.equal(rec.exitReason, "exited");
    // The background child was in its foreground group: gone too.
    assert.equal(alive(Number(r.bg)), false);

    // A program killed by a signal from outside.
    const second = fifo.read();
    const id2 = (await home.ok(["new", work], { env: { ...env, PROBE_MODE: "" } })).trim();
    const r2 = await second;
    Deno.kill(Number(r2.pid), "SIGKILL");
    const w2 = await c.request("wait", { session: id2, until: ["exited"] });
    const rec2 = (w2.result as { session: SessionRecord }).session;
    assert.equal(rec2.signal, "SIGKILL");
    assert.equal(rec2.exitCode, null);
    c.close();
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("ids: full, prefix, name; ambiguous and unknown references", opts, async () => {
  const { home, daemon, fifo, work, env } = await setup();
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const rep = fifo.read();
      ids.push((await home.ok(["new", work], { env })).trim());
      await rep;
    }
    // ULIDs made close together share their leading (time) characters.
    const common = ids[0]!.slice(0, 4);
    const amb = await home.cli(["kill", common]);
    assert.equal(amb.code, 1);
    assert.match(amb.stderr, /matches 3 sessions/);
    for (const id of ids) assert.ok(amb.stderr.includes(id));
    const none = await home.cli(["kill", "ZZZZZZZZ"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no session matches "ZZZZZZZZ"/);
    // Unique prefix (lower case works too).
    const out = await home.ok(["kill", ids[2]!.slice(0, 25).toLowerCase()]);
    assert.ok(out.includes(ids[2]!));
    // rm refuses live sessions, accepts exited ones.
    const live = await home.cli(["rm", ids[0]!]);
    assert.equal(live.code, 1);
    assert.match(live.stderr, /still running/);
    assert.match(await home.ok(["rm", ids[2]!]), /removed/);
    assert.match(await home.ok(["rm", "--force", ids[0]!]), /removed/);
    const left = JSON.parse(await home.ok(["ls", "--all", "--json"])) as SessionRecord[];
    assert.deepEqual(left.map((s) => s.id), [ids[1]]);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("bad input is refused before anything starts", opts, async () => {
  const home = await TestHome.create({ claude: { command: PROBE } });
  try {
    const missing = await home.cli(["new", "/nonexistent/dir"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such directory: \/nonexistent\/dir/);
    const file = `${home.dir}/file`;
    await Deno.writeTextFile(file, "x");
    const notDir = await home.cli(["new", file]);
    assert.equal(notDir.code, 1);
    assert.match(notDir.stderr, /not a directory/);
    // Nothing was started: no daemon answers.
    const st = await home.cli(["status"]);
    assert.equal(st.code, 1);
    assert.match(st.stderr, /no daemon is answering/);
    assert.match(st.stderr, /claude-sessions daemon/);
    // Usage errors exit 2 with one line and a hint, never a stack trace.
    const bad = await home.cli(["ls", "--bogus"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option '--bogus'/);
    assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/);
    const unknown = await home.cli(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const size = await home.cli(["new", "--size", "huge"]);
    assert.equal(size.code, 2);
    const noId = await home.cli(["kill"]);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /missing ID/);
  } finally {
    await home.cleanup();
  }
});

Deno.test("a command that is not on PATH is a clear error and creates nothing", opts, async () => {
  const home = await TestHome.create({ claude: { command: "no-such-program-xyz" } });
  const daemon = await home.startDaemon();
  try {
    const r = await home.cli(["new", home.dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot start "no-such-program-xyz": not found/);
    assert.equal(JSON.parse(await home.ok(["ls", "--all", "--json"])).length, 0);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("new starts the daemon when none answers; stop-daemon stops it", opts, async () => {
  const { home, fifo, work, env, daemon } = await setup();
  await daemon.stop();
  try {
    const rep = fifo.read();
    const id = (await home.ok(["new", work], { env })).trim();
    const r = await rep;
    const st = JSON.parse(await home.ok(["status", "--json"]));
    assert.equal(st.sessions.live, 1);
    assert.equal(typeof st.pid, "number");
    assert.equal(st.socketActivated, false);
    const human = await home.ok(["status"]);
    assert.match(human, /daemon\s+running \(pid \d+\)/);
    assert.match(human, /sessions\s+1 live \(1 running\), 0 exited/);
    assert.match(await home.ok(["stop-daemon"]), /daemon stopped/);
    assert.equal(alive(st.pid), false);
    assert.equal(alive(Number(r.pid)), false);
    // The record says why it stopped.
    const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${id}.json`));
    assert.equal(rec.status, "exited");
    assert.equal(rec.exitReason, "daemon_stopped");
    await assert.rejects(Deno.stat(home.socket));
    assert.match(await home.ok(["stop-daemon"]), /no daemon was running/);
  } finally {
    await home.cleanup();
  }
});
