/**
 * End-to-end: `wait` and `events` from the CLI.
 */

import assert from "node:assert/strict";
import { Fifo, MAIN, PROBE, RawClient, TestHome, TextSink } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * Starts `events --json` and returns once it streams: throwaway sessions are
 * started until one shows up (the first may predate the subscription).
 */
async function liveEvents(home: TestHome, fifo: Fifo) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "events", "--json"],
    env: home.env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new TextSink(child.stdout);
  const err = new TextSink(child.stderr);
  for (let i = 0;; i++) {
    const r = fifo.read();
    const marker = (await home.ok(["new", home.dir], { env: { PROBE_FIFO: fifo.path } })).trim();
    await r;
    try {
      await out.waitFor(new RegExp(`"event":"created","at":"[^"]+","id":"${marker}"`), 2000);
      return { child, out, err };
    } catch (e) {
      if (i === 10) throw e;
    }
  }
}

Deno.test("events streams lifecycle; wait reaches, times out, or sees the exit", opts, async () => {
  const home = await TestHome.create({ claude: { command: PROBE } });
  const daemon = await home.startDaemon();
  const fifo = await Fifo.create(home.dir);
  const { child: events, out, err } = await liveEvents(home, fifo);
  try {
    const rep = fifo.read();
    const id = (await home.ok(["new", home.dir, "--name", "w"], { env: { PROBE_FIFO: fifo.path } }))
      .trim();
    await rep;
    const w1 = await home.cli(["wait", "w", "--until", "running"]);
    assert.equal(w1.code, 0);
    assert.equal(w1.stdout.trim(), "running");
    const w2 = await home.cli(["wait", id, "--until", "waiting_input", "--timeout", "0.2"]);
    assert.equal(w2.code, 124);
    assert.match(w2.stderr, /timed out after 0\.2s/);
    const bad = await home.cli(["wait", id, "--until", "sleeping"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown status "sleeping"/);

    // A waiter sees the session exit first.
    const waiter = home.cli(["wait", id, "--until", "waiting_permission"]);
    const waiterExited = home.cli(["wait", id, "--until", "exited", "--json"]);
    await home.ok(["kill", id]);
    const w3 = await waiter;
    assert.equal(w3.code, 1);
    assert.match(w3.stderr, /exited before reaching waiting_permission/);
    const w4 = await waiterExited;
    assert.equal(w4.code, 0);
    assert.equal(JSON.parse(w4.stdout).status, "exited");

    await out.waitFor(new RegExp(`"event":"exited","at":"[^"]+","id":"${id}"`));
    const lines = out.text.trim().split("\n").map((l) => JSON.parse(l));
    const mine = lines.filter((e) => e.id === id).map((e) =>
      e.event === "status" ? `${e.previous}>${e.status}` : e.event
    );
    assert.deepEqual(mine, ["created", "started", "starting>running", "running>exited", "exited"]);
    const exited = lines.find((e) => e.id === id && e.event === "exited");
    assert.equal(exited.exitReason, "killed");
    assert.equal(exited.signal, "SIGHUP");
  } finally {
    await daemon.stop();
    // The stream ends with the daemon: exit 1 and a reason.
    const st = await events.status;
    await out.done;
    await err.done;
    assert.equal(st.code, 1);
    assert.match(err.text, /event stream ended/);
    await home.cleanup();
  }
});

Deno.test(
  "wait --next: a status that already holds does not count; the next change does",
  opts,
  async () => {
    const home = await TestHome.create({ claude: { command: PROBE } });
    const daemon = await home.startDaemon();
    const fifo = await Fifo.create(home.dir);
    const c = await RawClient.connect(home.socket);
    try {
      const rep = fifo.read();
      const id = (await home.ok(["new", home.dir], { env: { PROBE_FIFO: fifo.path } })).trim();
      await rep;
      await home.ok(["wait", id, "--until", "running", "--timeout", "20"]);
      // Already running: a plain wait answers at once.
      const now = await home.cli(["wait", id, "--until", "running"]);
      assert.equal(now.code, 0);
      // With next, the wait is registered (a later request on the same
      // connection is answered first) and still pending.
      await c.send({
        id: "w",
        type: "wait",
        session: id,
        until: ["running", "exited"],
        next: true,
      });
      const got = await c.request("get", { session: id });
      assert.equal(got.ok, true);
      assert.equal(c.pending((m) => m.type === "reply" && m.id === "w"), false);
      await home.ok(["kill", id]);
      const w = await c.next((m) => m.type === "reply" && m.id === "w", 20_000);
      assert.deepEqual(
        [
          (w.result as { outcome: string }).outcome,
          (w.result as { session: { status: string } }).session.status,
        ],
        ["reached", "exited"],
      );
      // The CLI flag.
      const cli = await home.cli(["wait", id, "--until", "exited", "--next", "--timeout", "5"]);
      assert.equal(cli.code, 0, cli.stderr); // exited: nothing more can change
    } finally {
      c.close();
      fifo.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test("events: Ctrl-C ends the stream with exit 0, as logs --follow does", opts, async () => {
  const home = await TestHome.create({ claude: { command: PROBE } });
  const daemon = await home.startDaemon();
  const fifo = await Fifo.create(home.dir);
  const { child: events, err } = await liveEvents(home, fifo);
  try {
    events.kill("SIGINT");
    const st = await events.status;
    await err.done;
    assert.equal(st.code, 0, err.text);
    assert.equal(err.text, "");
  } finally {
    fifo.close();
    await daemon.stop();
    await home.cleanup();
  }
});
