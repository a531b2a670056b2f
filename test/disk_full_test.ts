/**
 * End-to-end on a full disk (a small tmpfs as the home, filled with a big
 * file; skipped where tmpfs cannot be mounted): a session's exit is recorded
 * when it happens, `kill` does not wait for the disk, `ls` and `status` say
 * logging is held back, `doctor` blames the disk rather than the hooks, `new`
 * says the disk is full, the log's tail follows once space returns, and
 * SIGTERM still leaves every record `exited`.
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";
import { CAN_MOUNT, fill, mountTmpfs, umount, until, within } from "./_disk.ts";
import type { DaemonStatus, SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "a full disk: exits are recorded, kill does not wait, ls/status/doctor/new say so",
  ignore: !CAN_MOUNT,
  ...opts,
  fn: async () => {
    const home = await TestHome.create();
    assert.ok(await mountTmpfs(home.dir, "16m"));
    let daemon: Awaited<ReturnType<TestHome["startDaemon"]>> | null = null;
    try {
      await home.writeConfig({
        claude: {
          command: "/bin/sh",
          args: ["-c", 'if [ -n "$FLOOD" ]; then exec yes "some output line"; else exec cat; fi'],
        },
        kill: { graceSeconds: 1 },
      });
      daemon = await home.startDaemon();
      const quiet = (await home.ok(["new", "/tmp"])).trim();
      const busy = (await home.ok(["new", "/tmp"], { env: { FLOOD: "1" } })).trim();
      await fill(home.dir, "big");

      // Logging is held back, and both ls and status say why.
      const status = async () => JSON.parse(await home.ok(["status", "--json"])) as DaemonStatus;
      await until(
        "status shows logging held back",
        async () => (await status()).logHeldBack?.some((h) => h.id === busy) ?? false,
      );
      const st = await status();
      assert.match(st.logHeldBack![0]!.error, /No space left on device/);
      assert.match(
        await home.ok(["status"]),
        /logging\s+held back for 1 session\(s\): No space left/,
      );
      const ls = await home.cli(["ls"]);
      assert.match(ls.stdout, new RegExp(`${busy.slice(0, 8)}.*\\(log held back\\)`));
      assert.match(ls.stderr, /logging is held back for 1 session\(s\): No space left on device/);
      const lsJson = JSON.parse(await home.ok(["ls", "--json"])) as (SessionRecord & {
        logHeldBack?: string;
      })[];
      assert.match(lsJson.find((s) => s.id === busy)!.logHeldBack ?? "", /No space left/);

      // doctor blames the disk, not the hooks.
      const doc = await home.cli(["doctor"]);
      const hooksLine = doc.stdout.split("\n").find((l) => /\bhooks\b/.test(l)) ?? "";
      assert.match(hooksLine, /disk .* is full/);
      assert.doesNotMatch(hooksLine, /did not take it|report this/);

      // new says the disk is full.
      const n = await home.cli(["new", "/tmp"]);
      assert.equal(n.code, 1);
      assert.match(n.stderr, /cannot start a session: no space left on the disk holding/);
      assert.doesNotMatch(n.stderr, /internal error/);

      // kill returns at once: the program is dead; its exit is on disk.
      const t0 = Date.now();
      await within("kill on a full disk", home.ok(["kill", busy]), 15_000);
      console.log(`kill on a full disk: ${Date.now() - t0} ms`);
      const rec = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${busy}.json`));
      assert.equal(rec.status, "exited");
      assert.equal(rec.exitReason, "killed");

      // Space returns: the log's tail and its exit line follow.
      await Deno.remove(`${home.dir}/big`);
      await until("the log ends with its exit line", async () => {
        const text = await Deno.readTextFile(`${home.dir}/logs/${busy}.jsonl`);
        // Until then the file may end in a line still being written.
        if (!text.endsWith("\n")) return false;
        const last = text.trimEnd();
        return JSON.parse(last.slice(last.lastIndexOf("\n") + 1)).event === "exit";
      });

      // Full again: SIGTERM still leaves the record exited, in time.
      await fill(home.dir, "big2");
      const t1 = Date.now();
      const code = (await within("SIGTERM on a full disk", daemon.stop(), 25_000)).code;
      console.log(`SIGTERM on a full disk: ${Date.now() - t1} ms`);
      assert.equal(code, 0);
      const last = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${quiet}.json`));
      assert.equal(last.status, "exited");
      assert.equal(last.exitReason, "daemon_stopped");
    } finally {
      await daemon?.stop();
      await umount(home.dir);
      await home.cleanup();
    }
  },
});
