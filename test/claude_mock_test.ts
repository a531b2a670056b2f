/**
 * End-to-end with the real Claude Code (offline): the mock's scripted replies
 * drive what claude 2.1.330 really does with them — an echoed text, a Bash
 * command and its result, a background subagent whose requests are told
 * apart from the main conversation's, and the turn claude starts by itself
 * when the subagent finishes.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import {
  isSubagentRequest,
  lastToolResults,
  lastUserTexts,
  scriptedReply,
  subagentId,
  taskNotifications,
} from "./_mock_api.ts";
import { RawClient } from "./_harness.ts";
import { TIMED_OUT, within } from "../src/async.ts";
import type { SessionRecord } from "../src/protocol.ts";

Deno.test({
  name: "claude: scriptedReply drives ECHO, RUN (Bash) and AGENT (background subagent) prompts",
  ...claudeTest,
  fn: async () => {
    // The Agent tool needs auto mode's server-side check, which the mock
    // cannot give: use the default permission mode.
    const t = await setupClaude({ args: ["--permission-mode", "default"] });
    t.api.defaultReply = scriptedReply();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    const client = await RawClient.connect(t.home.socket);
    const wait = { timeoutMs: 60_000 };
    try {
      await cs(["new", t.work, "--name", "m", "--size", "100x30"]);
      await cs(["wait", "m", "--until", "waiting_input", "--timeout", "60"]);
      await client.request("events", { session: "m" });

      // ECHO <text>: the text comes back.
      let after = t.api.lastSeq;
      await cs(["send", "m", "ECHO echoed back"]);
      const echo = await t.api.waitForMainRequest(
        (r) => lastUserTexts(r.body).includes("ECHO echoed back"),
        { afterSeq: after, ...wait },
      );
      assert.deepEqual(echo.reply, { type: "text", text: "echoed back" });
      assert.equal(isSubagentRequest(echo), false);

      // RUN: <cmd>: claude runs it with Bash and sends its output back.
      after = t.api.lastSeq;
      await cs(["send", "m", "RUN: echo ran-ok"]);
      const ran = await t.api.waitForMainRequest(
        (r) => lastToolResults(r.body).length > 0,
        { afterSeq: after, ...wait },
      );
      assert.deepEqual(
        lastToolResults(ran.body).map((r) => [r.name, r.text.trim()]),
        [["Bash", "ran-ok"]],
      );
      assert.deepEqual(ran.reply, { type: "text", text: "Bash result: ran-ok" });

      // AGENT: <task>: a background subagent, whose own requests carry its id.
      after = t.api.lastSeq;
      await cs(["send", "m", "AGENT: ECHO agent-says-hi"]);
      const sub = await t.api.waitForMainRequest((r) => isSubagentRequest(r), {
        afterSeq: after,
        ...wait,
      });
      const agentId = subagentId(sub);
      assert.match(agentId ?? "", /^[0-9a-f]{8,}$/);
      assert.deepEqual(lastUserTexts(sub.body), ["ECHO agent-says-hi"]);
      assert.deepEqual(sub.reply, { type: "text", text: "agent-says-hi" });
      const launched = await t.api.waitForMainRequest(
        (r) => lastToolResults(r.body).some((x) => x.name === "Agent"),
        { afterSeq: after, ...wait },
      );
      assert.equal(isSubagentRequest(launched), false);
      assert.deepEqual(launched.reply, { type: "text", text: "Agent started in the background." });

      // When it finishes, claude starts a turn by itself with a task notification.
      const note = await t.api.waitForMainRequest((r) => taskNotifications(r.body).length > 0, {
        afterSeq: after,
        ...wait,
      });
      assert.equal(isSubagentRequest(note), false);
      const [n] = taskNotifications(note.body);
      assert.equal(n?.taskId, agentId);
      assert.equal(n?.status, "completed");
      assert.equal(n?.result.trim(), "agent-says-hi");
      assert.deepEqual(lastUserTexts(note.body), []);
      assert.deepEqual(note.reply, { type: "text", text: "Agent finished: agent-says-hi" });

      // …and its Stop hook reports that turn's message.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const rec = (await client.request("get", { session: "m" })).result as {
          session: SessionRecord;
        };
        if (rec.session.lastMessage === "Agent finished: agent-says-hi") break;
        const ev = await within(
          client.next((m) => m.type === "event"),
          Math.max(0, deadline - Date.now()),
        );
        if (ev === TIMED_OUT) {
          throw new Error(`lastMessage stayed ${JSON.stringify(rec.session.lastMessage)}`);
        }
      }
    } finally {
      client.close();
      await t.cleanup();
    }
  },
});
