/**
 * End-to-end with the real Claude Code (offline, against the mock API):
 * readable text. `logs --text` / `--grep` render what Claude drew on its
 * alternate screen with cursor movements; `transcript` prints the
 * conversation from Claude's own transcript; `peek` after `/exit` shows
 * Claude's last screen.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import type { SessionRecord } from "../src/protocol.ts";

Deno.test({
  name: "claude: logs --text and --grep, transcript, peek after /exit",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      await cs(["new", t.work, "--name", "c", "--size", "100x30"]);
      await cs(["wait", "c", "--until", "waiting_input", "--timeout", "60"]);
      t.api.enqueue(
        {
          type: "tool_use",
          name: "Bash",
          input: { command: "echo hi there", description: "Say hi" },
        },
        "Echoed: run the tests and fix what fails",
      );
      await cs(["send", "c", "ECHO run the tests and fix what fails"]);
      for (let i = 0;; i++) {
        const rec = JSON.parse(
          await cs(["wait", "c", "--until", "waiting_input", "--timeout", "60", "--json"]),
        ) as SessionRecord;
        if (/Echoed: run the tests/.test(rec.lastMessage ?? "")) break;
        // Still the status from before the prompt: wait for the turn to start.
        if (i === 50) throw new Error(`the turn never ended: ${rec.lastMessage}`);
        await cs(["wait", "c", "--until", "running", "--timeout", "5"]).catch(() => {});
      }

      // The words as they were on the screen, one screen line per line.
      const text = await cs(["logs", "c", "--text"]);
      const lines = text.trimEnd().split("\n");
      assert.ok(lines.includes("❯ ECHO run the tests and fix what fails"), text);
      assert.ok(lines.includes("● Echoed: run the tests and fix what fails"), text);
      assert.ok(lines.includes("  ⎿  $ echo hi there"), text); // the tool call
      assert.match(text, /Claude Code v\d/);
      assert.equal(new Set(lines).size, lines.length, "each line once");
      assert.doesNotMatch(text, /ECHOrunthetests/);
      // --grep: only the matching lines (not the whole session as one line).
      const grepped = (await cs(["logs", "c", "--grep", "run the tests"])).trimEnd().split("\n");
      assert.deepEqual(grepped, lines.filter((l) => /run the tests/.test(l)));
      assert.ok(grepped.length >= 2 && grepped.length < lines.length / 2, grepped.join("\n"));

      // The conversation itself, from Claude's transcript.
      const transcript = await cs(["transcript", "c"]);
      assert.match(
        transcript,
        /^❯ ECHO run the tests and fix what fails\n\n● Bash\(echo hi there\)\n {2}⎿ hi there\n\n● Echoed: run the tests and fix what fails\n$/,
      );
      const entries = (await cs(["transcript", "c", "--json"])).trimEnd().split("\n")
        .map((l) => JSON.parse(l));
      assert.deepEqual(entries.map((e) => e.type), ["prompt", "tool_use", "tool_result", "reply"]);
      assert.deepEqual(entries[1].input, { command: "echo hi there", description: "Say hi" });
      assert.equal(entries[2].text, "hi there");
      assert.equal(entries[2].id, entries[1].id);

      // /exit: Claude leaves its alternate screen; peek shows its last screen.
      await cs(["send", "c", "/exit"]);
      const exited = JSON.parse(
        await cs(["wait", "c", "--until", "exited", "--timeout", "60", "--json"]),
      ) as SessionRecord;
      const peek = (await cs(["peek", "c"])).trimEnd();
      assert.match(peek, /❯ ECHO run the tests and fix what fails/);
      assert.match(peek, /● Echoed: run the tests and fix what fails/);
      assert.match(peek, /Resume this session with:\nclaude --resume [0-9a-f-]+$/);
      assert.match(await cs(["peek", "c", "--lines", "100"]), /Claude Code v\d[\s\S]*● Echoed/);
      assert.match(await cs(["logs", "c", "--text"]), /Resume this session with:\n/);

      // The transcript outlives the session, until the file is gone.
      assert.equal(await cs(["transcript", "c"]), transcript);
      await Deno.remove(exited.transcriptPath!);
      const gone = await t.home.cli(["transcript", "c"], { env: t.env });
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /the transcript of session [0-9A-Z]+ is gone: \//);
    } finally {
      await t.cleanup();
    }
  },
});
