/**
 * Stress: busy sessions fill a small tmpfs home with their own logs (root
 * only; skipped elsewhere). Every `kill` returns at once and records the
 * exit; once space returns, every log gets its tail and `exit` line; with
 * the disk full again, SIGTERM stops the daemon in time and leaves every
 * record `exited`.
 */

import assert from "node:assert/strict";
import { TestHome } from "../test/_harness.ts";
import { CAN_MOUNT, fill, mountTmpfs, umount, until, within } from "../test/_disk.ts";
import type { DaemonStatus } from "../src/protocol.ts";
import { report, scaled, stressOpts } from "./_stress.ts";

const N = scaled(20, 3);

Deno.test({
  name: `full disk: ${N} busy sessions fill a tmpfs home`,
  ignore: !CAN_MOUNT,
  ...stressOpts,
  fn: async () => {
    const home = await TestHome.create();
    assert.ok(await mountTmpfs(home.dir, "48m"));
    let daemon: Awaited<ReturnType<TestHome["startDaemon"]>> | null = null;
    try {
      await home.writeConfig({
        claude: {
          command: "/bin/sh",
          args: [
            "-c",
            'if [ -n "$FLOOD" ]; then exec yes "output of a busy session"; else exec cat; fi',
          ],
        },
        kill: { graceSeconds: 1 },
      });
      // Space to give back later.
      await Deno.writeFile(`${home.dir}/ballast`, new Uint8Array(24 * 1024 * 1024));
      daemon = await home.startDaemon();
      const quiet = (await home.ok(["new", "/tmp"])).trim();
      const busy: string[] = [];
      for (let i = 0; i < N; i++) {
        busy.push((await home.ok(["new", "/tmp"], { env: { FLOOD: "1" } })).trim());
      }
      await Deno.writeTextFile(`${home.dir}/go`, "");
      const t0 = Date.now();
      await until("the disk is full", async () => {
        const st = JSON.parse(await home.ok(["status", "--json"])) as DaemonStatus;
        return (st.logHeldBack?.length ?? 0) > 0;
      }, 120_000);
      report("full disk: filled", `in ${Date.now() - t0} ms`);

      const kills = await Promise.all(busy.map(async (id) => {
        const t = Date.now();
        await within(`kill ${id}`, home.ok(["kill", id]), 20_000);
        return Date.now() - t;
      }));
      report("full disk: kill", `${N} in parallel, slowest ${Math.max(...kills)} ms`);
      for (const id of busy) {
        const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${id}.json`));
        assert.equal(rec.status, "exited", `${id} on disk: ${rec.status}`);
      }

      await Deno.remove(`${home.dir}/ballast`);
      const t1 = Date.now();
      await until("every log ends with its exit line", async () => {
        for (const id of busy) {
          const text = await Deno.readTextFile(`${home.dir}/logs/${id}.jsonl`);
          if (!text.endsWith("\n")) return false;
          const last = text.trimEnd();
          if (JSON.parse(last.slice(last.lastIndexOf("\n") + 1)).event !== "exit") return false;
        }
        return true;
      }, 60_000);
      report("full disk: tails written after space returned", `in ${Date.now() - t1} ms`);

      await fill(home.dir, "big");
      const t2 = Date.now();
      const code = (await within("SIGTERM on a full disk", daemon.stop(), 25_000)).code;
      report("full disk: SIGTERM", `${Date.now() - t2} ms`);
      assert.equal(code, 0);
      const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${quiet}.json`));
      assert.equal(rec.exitReason, "daemon_stopped");
    } finally {
      await daemon?.stop();
      await umount(home.dir);
      await home.cleanup();
    }
  },
});
