/**
 * Stress: 100 busy sessions (each flooding output) stop on SIGTERM within
 * 10 s; every record says `daemon_stopped`, every log ends with its `exit`
 * line.
 */

import assert from "node:assert/strict";
import { RawClient, TestHome } from "../test/_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { report, scaled, stressOpts } from "./_stress.ts";

const N = scaled(100, 5);
/** The documented bound (README: shutdown within 10 s; systemd gives 30 s). */
const STOP_BOUND_MS = 10_000;

Deno.test(
  `shutdown: ${N} busy sessions stop within ${STOP_BOUND_MS / 1000} s`,
  stressOpts,
  async () => {
    const home = await TestHome.create({
      claude: {
        command: "/bin/sh",
        args: ["-c", "yes 'the quick brown fox jumps over the lazy dog 0123456789 abcdefghij'"],
      },
    });
    const daemon = await home.startDaemon();
    const c = await RawClient.connect(home.socket);
    try {
      const ids: string[] = [];
      const t0 = Date.now();
      for (let i = 0; i < N; i++) {
        const r = await c.request("new", { cwd: home.dir, env: home.env, cols: 120, rows: 40 });
        assert.equal(r.ok, true, JSON.stringify(r.error));
        ids.push((r.result as { session: SessionRecord }).session.id);
      }
      report("shutdown: started", `${N} sessions in ${Date.now() - t0} ms`);
      // Every session has been busy a while: its screen model and log are full.
      const t1 = Date.now();
      const peek = await c.request("peek", { session: ids[N - 1] });
      assert.equal(peek.ok, true);
      report("shutdown: screen model lag before stopping", `${Date.now() - t1} ms`);
      c.close();

      const t2 = Date.now();
      const st = await daemon.stop();
      const stopMs = Date.now() - t2;
      report("shutdown: SIGTERM to exit", `${stopMs} ms for ${N} busy sessions`);
      assert.equal(st.code, 0);
      let notStopped = 0;
      let noExitLine = 0;
      for (const id of ids) {
        const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${id}.json`));
        if (rec.status !== "exited" || rec.exitReason !== "daemon_stopped") notStopped++;
        const log = (await Deno.readTextFile(`${home.dir}/logs/${id}.jsonl`)).trimEnd();
        if (JSON.parse(log.slice(log.lastIndexOf("\n") + 1)).event !== "exit") noExitLine++;
      }
      assert.equal(notStopped, 0, `${notStopped} records not daemon_stopped`);
      assert.equal(noExitLine, 0, `${noExitLine} logs without their exit line`);
      assert.ok(stopMs < STOP_BOUND_MS, `stop took ${stopMs} ms`);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);
