/**
 * End-to-end: stopping busy sessions never waits for the screen model to
 * catch up with output of programs that are already dead. Sessions flood
 * output that is slow to parse until the screen model lags seconds behind;
 * `kill` and SIGTERM then finish in a fraction of that lag, every record
 * says how the session ended, every log ends with its `exit` line, and the
 * screen kept for `peek` after exit still shows the program's last output.
 */

import assert from "node:assert/strict";
import { Fifo, RawClient, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const N = 12;
/** The screen model must lag at least this much for the timing to prove anything. */
const MIN_LAG_MS = 1000;

/** Output that is slow to emulate: cursor jumps, 256 colours, wide characters. */
function heavyOutput(): string {
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const parts: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    parts.push(
      `\x1b[${rnd(24) + 1};${rnd(70) + 1}H\x1b[${[31, 32, 1, 4, 7][rnd(5)]};48;5;${rnd(256)}m` +
        "é漢字x".repeat(5) + "\x1b[0m",
    );
  }
  return parts.join("");
}

Deno.test("kill and SIGTERM of busy sessions do not wait for the screen model", opts, async () => {
  const home = await TestHome.create();
  const heavy = `${home.dir}/heavy.txt`;
  await Deno.writeTextFile(heavy, heavyOutput());
  // The first session writes a burst, then its last screen, then says so and idles.
  const finalScript =
    `cat ${heavy} ${heavy} ${heavy}; printf '\\033[2J\\033[HFINAL-SCREEN-MARK'; ` +
    `printf 'done=1\\nEND\\n' >"$FIFO"; exec sleep 1000`;
  await home.writeConfig({
    claude: {
      command: "/bin/sh",
      args: [
        "-c",
        `if [ -n "$FIFO" ]; then ${finalScript}; else while :; do cat ${heavy}; done; fi`,
      ],
    },
    kill: { graceSeconds: 1 },
  });
  const fifo = await Fifo.create(home.dir);
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  try {
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const env = i === 0 ? { ...home.env, FIFO: fifo.path } : home.env;
      const r = await c.request("new", { cwd: home.dir, env, cols: 80, rows: 24 });
      assert.equal(r.ok, true, JSON.stringify(r.error));
      ids.push((r.result as { session: SessionRecord }).session.id);
    }
    await fifo.read(60_000);
    // How far behind the screen model is: a peek answers once it has parsed
    // everything fed before it.
    const lag = async () => {
      const t = Date.now();
      assert.equal((await c.request("peek", { session: ids[N - 1] })).ok, true);
      return Date.now() - t;
    };
    let behind = 0;
    for (let i = 0; i < 20 && behind < MIN_LAG_MS; i++) behind = await lag();
    console.log(`screen model lag: ${behind} ms`);

    let t0 = Date.now();
    const k = await c.request("kill", { session: ids[0] });
    const killMs = Date.now() - t0;
    assert.equal(k.ok, true, JSON.stringify(k.error));
    console.log(`kill: ${killMs} ms`);
    if (behind >= MIN_LAG_MS) {
      assert.ok(killMs < behind / 2, `kill took ${killMs} ms with the screen ${behind} ms behind`);
    }
    // The last screen is computed once the model caught up, and is right.
    const peek = await c.request("peek", { session: ids[0] });
    assert.equal(peek.ok, true, JSON.stringify(peek.error));
    assert.match(String((peek.result as { text: string }).text), /^FINAL-SCREEN-MARK/);

    behind = await lag();
    c.close();
    t0 = Date.now();
    const st = await daemon.stop();
    const stopMs = Date.now() - t0;
    console.log(`SIGTERM with ${N - 1} busy sessions: ${stopMs} ms (screen ${behind} ms behind)`);
    assert.equal(st.code, 0);
    if (behind >= MIN_LAG_MS) {
      assert.ok(stopMs < behind / 2 + 500, `stop took ${stopMs} ms, screen ${behind} ms behind`);
    }
    for (const [i, id] of ids.entries()) {
      const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${id}.json`));
      assert.equal(rec.status, "exited");
      assert.equal(rec.exitReason, i === 0 ? "killed" : "daemon_stopped");
      const log = (await Deno.readTextFile(`${home.dir}/logs/${id}.jsonl`)).trimEnd();
      const last = JSON.parse(log.slice(log.lastIndexOf("\n") + 1));
      assert.equal(last.event, "exit", `log of ${id} ends with ${JSON.stringify(last)}`);
    }
  } finally {
    c.close();
    fifo.close();
    await daemon.stop();
    await home.cleanup();
  }
});
