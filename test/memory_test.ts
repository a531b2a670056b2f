/**
 * End-to-end: the daemon's memory stays bounded (see `src/daemon/limits.ts`)
 * while sessions flood output, and it runs with the V8 flags that bound its
 * garbage collector's young generation. The stress suite measures the same
 * at scale.
 */

import assert from "node:assert/strict";
import { RawClient, TestHome } from "./_harness.ts";
import { V8_FLAGS } from "../src/daemon/limits.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const linux = Deno.build.os === "linux";

function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) / 1024;
  } catch {
    return 0;
  }
}

Deno.test({
  name: "the daemon re-executes itself in place with its V8 memory flags",
  ignore: !linux,
  ...opts,
  fn: async () => {
    const home = await TestHome.create({ claude: { command: "/bin/true" } });
    const daemon = await home.startDaemon();
    try {
      // Same pid as the process started (a service manager sees no change).
      const env = (await Deno.readTextFile(`/proc/${daemon.pid}/environ`)).split("\0");
      const flags = env.find((e) => e.startsWith("DENO_V8_FLAGS="));
      for (const f of V8_FLAGS) assert.ok(flags?.includes(f), `${flags} lacks ${f}`);
      assert.match(await home.ok(["status"]), new RegExp(`pid\\s+${daemon.pid}\\b`));
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
});

Deno.test({
  name: "16 sessions flooding output: the daemon's memory stays within its bound",
  ignore: !linux,
  ...opts,
  fn: async () => {
    const N = 16;
    /** 16 × the per-session bound (limits.ts, 120×40, default scrollback) plus the base, with margin. */
    const BOUND_MIB = 300;
    const home = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", "cat /dev/urandom | base64 -w 200"] },
    });
    const daemon = await home.startDaemon();
    const c = await RawClient.connect(home.socket);
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, rssMiB(daemon.pid))), 50);
    try {
      const ids: string[] = [];
      for (let i = 0; i < N; i++) {
        const r = await c.request("new", { cwd: home.dir, env: home.env, cols: 120, rows: 40 });
        assert.equal(r.ok, true, JSON.stringify(r.error));
        ids.push((r.result as { session: { id: string } }).session.id);
      }
      // Long enough for every buffer to fill: each session's log grows past
      // several MiB.
      const deadline = Date.now() + 30_000;
      const logged = async () => {
        let least = Infinity;
        for (const id of ids) {
          const st = await Deno.stat(`${home.dir}/logs/${id}.jsonl`).catch(() => null);
          least = Math.min(least, st?.size ?? 0);
        }
        return least;
      };
      while (await logged() < 4 * 1024 * 1024 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      console.log(`peak RSS with ${N} flooding sessions: ${peak.toFixed(0)} MiB`);
      assert.ok(peak < BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB, bound ${BOUND_MIB} MiB`);
      c.close();
      assert.equal((await daemon.stop()).code, 0);
    } finally {
      clearInterval(timer);
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
});
