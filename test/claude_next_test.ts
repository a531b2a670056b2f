/**
 * End-to-end with the real Claude Code (offline, against the mock API):
 * `next` names the session that has waited longest for you — a permission
 * first — and `attach` without ID (or `next --attach`) goes there.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import { TermClient } from "./_term.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { Client } from "../src/client/client.ts";
import { type FeedUpdate, SessionFeed } from "../src/client/feed.ts";
import { viewSession } from "../src/session_view.ts";
import { within } from "../src/async.ts";

Deno.test({
  name: "claude: next picks a permission first, then the longest waiting; attach without ID",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude({ args: ["--permission-mode", "default"] });
    const opts = { env: t.env, cwd: t.work };
    const cs = (args: string[]) => t.home.cli(args, opts);
    const ok = (args: string[]) => t.home.ok(args, opts);
    // What a dashboard sees meanwhile.
    const feed = new SessionFeed({ connect: () => Client.connect(t.home.socket) });
    const updates = feed[Symbol.asyncIterator]();
    const until = async (test: () => boolean) => {
      while (!test()) {
        const r = await within(updates.next(), 30_000);
        if (typeof r === "symbol" || r.done) throw new Error("the feed stalled");
        if ((r.value as FeedUpdate).kind === "down") throw new Error("the feed lost the daemon");
      }
    };
    try {
      // Nobody waits yet.
      const none = await cs(["next"]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no session is waiting for you/);

      // "old" waits for input first; "perm" then asks for a permission.
      const old = (await ok(["new", t.work, "--name", "old", "--size", "100x30"])).trim();
      await ok(["wait", "old", "--until", "waiting_input", "--timeout", "60"]);
      assert.equal((await ok(["next"])).trim(), old);
      const perm = (await ok(["new", t.work, "--name", "perm", "--size", "100x30"])).trim();
      await ok(["wait", "perm", "--until", "waiting_input", "--timeout", "60"]);
      assert.equal((await ok(["next"])).trim(), old, "the longest waiting for input");
      t.api.enqueue(
        { type: "tool_use", name: "Bash", input: { command: "touch x.txt", description: "x" } },
        "Done.",
      );
      await ok(["send", "perm", "please create x.txt"]);
      await ok(["wait", "perm", "--until", "waiting_permission", "--timeout", "60"]);
      assert.equal((await ok(["next"])).trim(), perm, "a permission comes first");
      const rec = JSON.parse(await ok(["next", "--json"])) as SessionRecord;
      assert.equal(rec.id, perm);
      assert.equal(rec.status, "waiting_permission");
      // The feed shows what it waits for, as the session view says it.
      const waitsFor = () => {
        const r = feed.table.get(perm);
        return r ? viewSession(r, { now: Date.now() }).waitingFor : null;
      };
      await until(() => /permission to use Bash: touch x\.txt/.test(waitsFor() ?? ""));
      assert.equal(feed.table.get(old)?.status, "waiting_input");
      assert.ok(feed.table.get(old)?.lastOutputAt, "output was seen");

      // attach without ID goes there: the permission dialog is on screen.
      const a = TermClient.spawn(["attach"], t.env, { cols: 100, rows: 30 });
      await a.waitForScreen(/Do you want to proceed\?/);
      await until(() => feed.table.get(perm)?.clients === 1);
      a.type("\x02d");
      assert.equal((await a.close()).code, 0);
      assert.match(a.raw, new RegExp(`\\[detached from ${perm} \\(perm\\)\\]`));

      // Once it is gone, next --attach goes to the one waiting for input.
      await ok(["kill", "perm"]);
      const b = TermClient.spawn(["next", "--attach"], t.env, { cols: 100, rows: 30 });
      await b.waitForScreen(/❯\u00a0/);
      b.type("\x02d");
      assert.equal((await b.close()).code, 0);
      assert.match(b.raw, new RegExp(`\\[detached from ${old} \\(old\\)\\]`));

      await ok(["kill", "old"]);
      for (const args of [["next"], ["attach"], ["next", "--attach"]]) {
        const r = await cs(args);
        assert.equal(r.code, 1, args.join(" "));
        assert.match(r.stderr, /^claude-sessions: no session is waiting for you\n$/);
      }
    } finally {
      feed.close();
      await t.cleanup();
    }
  },
});
