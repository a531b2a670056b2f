/**
 * Stress: 50 sessions flooding output at once. The daemon's RSS stays under
 * the documented bound throughout, and every session's log is written.
 */

import assert from "node:assert/strict";
import { RawClient, TestHome } from "../test/_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { MEMORY } from "../src/daemon/limits.ts";
import { report, RssSampler, scaled, stressOpts } from "./_stress.ts";

const N = scaled(50, 5);
/** How long every session floods (once all have started). */
const FLOOD_MS = 10_000;

Deno.test(`flood: ${N} sessions flooding output, RSS within the bound`, stressOpts, async () => {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", "cat /dev/urandom | base64 -w 200"] },
  });
  const daemon = await home.startDaemon();
  const rss = new RssSampler(daemon.pid);
  const start = rss.sample()!;
  const c = await RawClient.connect(home.socket);
  try {
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = await c.request("new", { cwd: home.dir, env: home.env, cols: 120, rows: 40 });
      assert.equal(r.ok, true, JSON.stringify(r.error));
      ids.push((r.result as { session: SessionRecord }).session.id);
    }
    await new Promise((r) => setTimeout(r, FLOOD_MS));
    let logged = 0;
    for (const id of ids) logged += (await Deno.stat(`${home.dir}/logs/${id}.jsonl`)).size;
    const during = rss.sample()!;
    // Stopped, the burst's memory is given back (mostly: the heap keeps some).
    for (const id of ids) await c.request("kill", { session: id });
    await new Promise((r) => setTimeout(r, 6000));
    const after = rss.sample()!;
    report(
      "flood RSS",
      `start ${start.toFixed(0)} MiB, peak ${
        rss.peak.toFixed(0)
      } MiB (bound ${MEMORY.floodPeakMiB}), ` +
        `at ${FLOOD_MS / 1000} s ${during.toFixed(0)} MiB, 6 s after the sessions ended ${
          after.toFixed(0)
        } MiB`,
    );
    report("flood logged", `${(logged / 1024 / 1024).toFixed(0)} MiB in ${FLOOD_MS / 1000} s`);
    // Fewer sessions need less: the bound holds for up to 50.
    const bound = MEMORY.floodPeakMiB;
    assert.ok(rss.peak < bound, `peak RSS ${rss.peak.toFixed(0)} MiB over ${bound} MiB`);
    assert.ok(logged > 0);
  } finally {
    rss.stop();
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
});
