/**
 * End-to-end with the real Claude Code (offline, against the mock API): the
 * status is Claude's own truth, from hooks and Claude's state file, through a
 * whole conversation; resume continues it; a stopped daemon loses nothing.
 */

import assert from "node:assert/strict";
import { approvePrompt, claudeTest, setupClaude } from "./_claude.ts";
import { userTexts } from "./_mock_api.ts";
import { TermClient } from "./_term.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { deferred } from "../src/async.ts";

Deno.test({
  name: "claude: status through a conversation; permission; Esc; /exit; resume",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude({ args: ["--permission-mode", "default"] });
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    const wait = (status: string, timeout = 60) =>
      cs(["wait", "c", "--until", status, "--timeout", String(timeout), "--json"]).then((o) =>
        JSON.parse(o) as SessionRecord
      );
    try {
      await cs(["new", t.work, "--name", "c", "--size", "100x30"]);
      const ready = await wait("waiting_input");
      assert.equal(ready.hooks, true);
      assert.equal(ready.statusSource === "hook" || ready.statusSource === "claude_state", true);

      // A prompt while the reply is held: running.
      const gate = deferred();
      t.api.enqueue({
        type: "text",
        text: "First answer, complete.",
        chunks: 3,
        gate: gate.promise,
      });
      await cs(["send", "c", "first prompt"]);
      const running = await wait("running");
      assert.match(running.history.at(-1)!.detail ?? "", /UserPromptSubmit|state/);
      gate.resolve();
      const answered = await wait("waiting_input");
      assert.match(answered.lastMessage ?? "", /First answer, complete\./);
      assert.ok(answered.conversationId);
      assert.ok(answered.transcriptPath?.endsWith(`${answered.conversationId}.jsonl`));

      // A Bash tool call that needs permission: waiting_permission, within a
      // second of the prompt appearing on screen.
      const watcher = TermClient.spawn(["attach", "--read-only", "c"], t.env, {
        cols: 100,
        rows: 30,
      });
      await watcher.waitForScreen(/❯/);
      t.api.enqueue(
        {
          type: "tool_use",
          name: "Bash",
          input: { command: "touch approved.txt", description: "Create a file" },
        },
        "The file is created.",
      );
      await cs(["send", "c", "please create a file"]);
      await watcher.waitForScreen(/Do you want to proceed\?/);
      const promptSeen = Date.now();
      const asking = await wait("waiting_permission");
      assert.ok(
        Date.parse(asking.statusSince) <= promptSeen + 1000,
        `waiting_permission at ${asking.statusSince}, prompt seen at ${
          new Date(promptSeen).toISOString()
        }`,
      );
      assert.match(
        asking.history.at(-1)!.detail ?? "",
        /PermissionRequest: Bash|state: permission/,
      );

      // Approve with Enter (retried while Claude drops keys).
      await approvePrompt(t, "c");
      const done = await wait("waiting_input");
      assert.match(done.lastMessage ?? "", /The file is created\./);
      await Deno.stat(`${t.work}/approved.txt`);
      const statuses = done.history.map((h) => h.status);
      const iAsk = statuses.lastIndexOf("waiting_permission");
      assert.ok(statuses.slice(iAsk).includes("running"), statuses.join(" "));
      watcher.type("\x02d");
      await watcher.close();

      // Esc during a slow streamed reply fires no hook: Claude's state file tells.
      const slow = deferred();
      t.api.enqueue({
        type: "text",
        text: "A very slow reply that never finishes.",
        chunks: 4,
        gate: slow.promise,
      });
      await cs(["send", "c", "a slow question"]);
      await wait("running");
      await cs(["send", "c", "--keys", "Esc"]);
      const interrupted = await wait("waiting_input");
      assert.equal(interrupted.statusSource, "claude_state");
      slow.resolve();

      // /exit ends the process: exited, whatever hooks said.
      const conversation = interrupted.conversationId!;
      await cs(["send", "c", "/exit"]);
      const exited = await wait("exited");
      assert.equal(exited.exitReason, "exited");
      assert.equal(exited.statusSource, "process");

      // resume: same record, same conversation, and Claude sends the earlier turns.
      t.api.enqueue("Welcome back, we talked before.");
      const resumedId = (await cs(["resume", "c"])).trim();
      assert.equal(resumedId, exited.id);
      const back = await wait("waiting_input");
      assert.equal(back.conversationId, conversation);
      assert.equal(back.runs.length, 2);
      assert.equal(back.runs[1]!.resumed, true);
      assert.equal(back.runs[0]!.exitReason, "exited");
      assert.match(await cs(["ls"]), /c\s+waiting_input \S+ \(resumed\)/);
      const after = t.api.lastSeq;
      await cs(["send", "c", "do you remember"]);
      const req = await t.api.waitForMainRequest(
        (r) => userTexts(r.body).some((u) => u.includes("do you remember")),
        { afterSeq: after },
      );
      const texts = userTexts(req.body).join("\n");
      assert.match(texts, /first prompt/);
      assert.match(texts, /please create a file/);

      // A second session may not open the same conversation.
      const dup = await t.home.cli(["new", t.work, "--resume", conversation], { env: t.env });
      assert.equal(dup.code, 1);
      assert.match(
        dup.stderr,
        new RegExp(
          `conversation ${conversation} is already open in live session ${exited.id} \\(c\\)`,
        ),
      );
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: a hook fired while the daemon is stopped is applied when it returns",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      await cs(["new", t.work, "--name", "d"]);
      await cs(["wait", "d", "--until", "waiting_input", "--timeout", "60"]);
      const gate = deferred();
      t.api.enqueue({ type: "text", text: "Answered while the daemon slept.", gate: gate.promise });
      await cs(["send", "d", "question"]);
      await cs(["wait", "d", "--until", "running", "--timeout", "60"]);

      // Stop the daemon, let Claude finish its turn: its Stop hook spools the
      // event without waiting for anyone.
      const spool = `${t.home.dir}/spool`;
      const watcher = Deno.watchFs(spool);
      Deno.kill(t.daemon.pid, "SIGSTOP");
      try {
        gate.resolve();
        for await (const ev of watcher) {
          let stop = false;
          for (const p of ev.paths.filter((p) => p.endsWith(".hook"))) {
            try {
              if (JSON.parse(await Deno.readTextFile(p)).hook_event_name === "Stop") stop = true;
            } catch { /* consumed meanwhile */ }
          }
          if (stop) break;
        }
      } finally {
        watcher.close();
        Deno.kill(t.daemon.pid, "SIGCONT");
      }
      const rec = JSON.parse(
        await cs(["wait", "d", "--until", "waiting_input", "--timeout", "30", "--json"]),
      ) as SessionRecord;
      assert.equal(rec.status, "waiting_input");
      assert.match(rec.lastMessage ?? "", /Answered while the daemon slept\./);
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: sessions live when the daemon stopped are resumed when it starts again",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    let second: Awaited<ReturnType<typeof t.home.startDaemon>> | null = null;
    try {
      await cs(["new", t.work, "--name", "keep"]);
      const before = JSON.parse(
        await cs(["wait", "keep", "--until", "waiting_input", "--timeout", "60", "--json"]),
      ) as SessionRecord;
      assert.ok(before.conversationId);
      // A session the user stopped is not brought back.
      await cs(["new", t.work, "--name", "gone"]);
      await cs(["wait", "gone", "--until", "waiting_input", "--timeout", "60"]);
      await cs(["kill", "gone"]);

      assert.equal((await t.daemon.stop()).code, 0);
      second = await t.home.startDaemon();
      const back = JSON.parse(
        await cs(["wait", "keep", "--until", "waiting_input", "--timeout", "60", "--json"]),
      ) as SessionRecord;
      assert.equal(back.id, before.id);
      assert.equal(back.conversationId, before.conversationId);
      assert.equal(back.runs.length, 2);
      assert.equal(back.runs[0]!.exitReason, "daemon_stopped");
      assert.equal(back.runs[1]!.resumed, true);
      assert.match(back.history.map((h) => h.detail ?? "").join(","), /resumed at daemon start/);
      const ls = await cs(["ls"]);
      assert.match(ls, /keep\s+waiting_input \S+ \(resumed\)/);
      assert.doesNotMatch(ls, /gone/);
    } finally {
      await second?.stop();
      await t.api.close();
      await t.home.cleanup();
    }
  },
});
