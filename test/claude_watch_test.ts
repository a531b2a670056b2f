/**
 * End-to-end with the real Claude Code (offline, against the mock API):
 * `watch` on a terminal the test owns lists the sessions; one that starts
 * waiting for a permission goes to the top showing the Bash command it wants
 * to run; `y` allows it without attaching; Enter attaches and Ctrl-B d comes
 * back to the table; `k` `y` kills; `q` leaves the terminal as it was.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import { scriptedReply } from "./_mock_api.ts";
import { assertRestored, startWatch } from "./_watch.ts";
import { Client } from "../src/client/client.ts";
import type { SessionRecord } from "../src/protocol.ts";

Deno.test({
  name:
    "claude watch: a permission wait on top with its command; y allows it; attach and back; k y kills; r resumes; q restores",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude({ args: ["--permission-mode", "default"] });
    t.api.defaultReply = scriptedReply();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      await cs(["new", t.work, "--name", "calm"]);
      await cs(["new", t.work, "--name", "asker"]);
      for (const n of ["calm", "asker"]) {
        await cs(["wait", n, "--until", "waiting_input", "--timeout", "60"]);
      }
      const w = startWatch(t.env);
      await w.waitForScreen(/calm +waiting_input[\s\S]*\n/);
      await w.waitForScreen(/asker +waiting_input/);

      // When the daemon says it waits, and when watch shows it on top.
      const events = await Client.connect(t.home.socket);
      const sub = await events.subscribe({ session: "asker" });
      await cs(["send", "asker", "RUN: touch watched.txt"]);
      let waitingAt = 0;
      for await (const p of sub) {
        if (p.event.event === "status" && p.event.status === "waiting_permission") {
          waitingAt = performance.now();
          break;
        }
      }
      sub.close();
      events.close();
      await w.waitForScreen(
        /WAITING FOR[^\n]*\n {2}\w+ +asker +waiting_permission +\d+s +\S+ +\S+ +\S+ +- +Bash: touch watched\.txt\n/,
      ).catch(async (e) => {
        const recs = JSON.parse(await cs(["ls", "--json"])) as SessionRecord[];
        const asker = recs.find((r) => r.name === "asker");
        throw new Error(`${e.message}\nthe daemon has: ${JSON.stringify(asker?.waitingFor)}`);
      });
      console.log(
        `  watch showed the permission wait on top ${
          Math.round(performance.now() - waitingAt)
        } ms after the daemon's event`,
      );

      // Select it (Home: the top) and allow it without attaching. Claude drops
      // keys in a dialog's first moments: watch says so, and y again does it.
      w.type("\x1b[H");
      await w.waitForScreen(/> \w+ +asker/);
      const movedOn = /\n[> ] \w+ +asker +(?!waiting_permission)\w+/;
      for (let i = 0;; i++) {
        w.type("y");
        // This attempt's outcome (the key cleared the last one's), then whether it took.
        await w.waitForScreen(new RegExp(`allow(?:ing|ed) \\w+ \\(asker\\)|${movedOn.source}`));
        const screen = await w.waitForScreen(new RegExp(`not allowed yet|${movedOn.source}`));
        if (movedOn.test(screen)) break;
        if (i === 5) throw new Error(`the approval never took:\n${screen}`);
      }
      await cs(["wait", "asker", "--until", "waiting_input", "--timeout", "60"]);
      await Deno.stat(`${t.work}/watched.txt`);
      // The turn ended (input after running): the bell and a terminal notification.
      await w.waitForRaw(/\x07\x1b\]9;asker: waiting for input: Bash result: /);
      assert.doesNotMatch(w.raw, /\x1b\]9;calm/);

      // Enter attaches: Claude's own screen; Ctrl-B d comes back to the table.
      w.type("\r");
      await w.waitForScreen(/^(?!claude-sessions watch)[\s\S]*touch watched\.txt/);
      w.type("\x02d");
      const back = await w.waitForScreen(/\[detached from \w+ \(asker\)\]/);
      assert.match(back, /^claude-sessions watch {2}2 sessions · 2 waiting_input\n {2}ID +NAME/);

      // k, y kills it.
      w.type("k");
      await w.waitForScreen(/kill \w+ \(asker\)\? \(y\/N\)/);
      w.type("y");
      await w.waitForScreen(/\(asker\): killed/);
      await w.waitForScreen(/1 waiting_input · 1 exited \(hidden\)/);
      const asker = (JSON.parse(await cs(["ls", "--all", "--json"])) as SessionRecord[])
        .find((r) => r.name === "asker")!;
      assert.equal(asker.status, "exited");
      assert.equal(asker.exitReason, "killed");

      // e shows it again (exited; the selection moved to the next session when it was hidden);
      // r resumes it.
      w.type("e");
      await w.waitForScreen(/\n {2}\w+ +asker +exited/);
      w.type("\x1b[B");
      await w.waitForScreen(/> \w+ +asker +exited/);
      w.type("r");
      await w.waitForScreen(/resumed \w+ \(asker\)/);
      await cs(["wait", "asker", "--until", "waiting_input", "--timeout", "60"]);
      await w.waitForScreen(/> \w+ +asker +waiting_input/);

      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 120, 30);
    } finally {
      await t.cleanup();
    }
  },
});
