/**
 * End-to-end with the real Claude Code (offline, against the mock API): a
 * command Claude's Bash tool starts in the background leaves the session's
 * terminal, yet carries `CLAUDE_SESSIONS_ID`; `kill` stops it with the
 * session.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import { alive } from "./_harness.ts";

Deno.test({
  name: "claude: kill stops a command the Bash tool started in the background",
  ...claudeTest,
  fn: async () => {
    // The Bash tool allowed outright (auto mode would ask a server-side check).
    const t = await setupClaude({
      args: ["--permission-mode", "default", "--allowedTools", "Bash"],
    });
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    let bg = 0;
    try {
      await cs(["new", t.work, "--name", "b"]);
      await cs(["wait", "b", "--until", "waiting_input", "--timeout", "60"]);
      t.api.enqueue(
        {
          type: "tool_use",
          name: "Bash",
          input: {
            command: `sh -c 'echo $$ > bg.pid; exec sleep 3600' >/dev/null 2>&1 &`,
            description: "Start a background job",
          },
        },
        "Started it.",
      );
      await cs(["send", "b", "start a background job"]);
      await t.api.waitForMainRequest(
        (r) => JSON.stringify(r.body.messages ?? []).includes("tool_result"),
        { timeoutMs: 60_000 },
      );
      await cs(["wait", "b", "--until", "waiting_input", "--timeout", "60"]);
      bg = Number((await Deno.readTextFile(`${t.work}/bg.pid`)).trim());
      assert.ok(bg > 0 && alive(bg), "the background command should be running");
      const rec = JSON.parse(await cs(["ls", "--json"]))[0];
      const env = await Deno.readTextFile(`/proc/${bg}/environ`);
      assert.ok(env.includes(`CLAUDE_SESSIONS_ID=${rec.id}`));
      // It left the session's terminal (or at least its process group).
      const stat = await Deno.readTextFile(`/proc/${bg}/stat`);
      const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.ok(
        Number(session) !== rec.pid || Number(pgrp) !== rec.pid,
        `expected the job outside the leader's group (pgrp ${pgrp}, session ${session})`,
      );

      await cs(["kill", "b"]);
      assert.equal(alive(bg), false, "the background command survived kill");
    } finally {
      if (bg > 0 && alive(bg)) Deno.kill(bg, "SIGKILL");
      await t.cleanup();
    }
  },
});
