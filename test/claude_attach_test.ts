/**
 * End-to-end with the real Claude Code (offline, against the mock API):
 * attach, detach, reattach; peek; send.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import { userTexts } from "./_mock_api.ts";
import { TermClient } from "./_term.ts";

Deno.test({
  name: "claude: attach, answer shows; detach and reattach show prompt box and answer; peek; send",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    try {
      const opts = { env: t.env, cwd: t.work };
      await t.home.ok(["new", t.work, "--name", "c", "--size", "100x30"], opts);
      const a = TermClient.spawn(["attach", "c"], t.env, { cols: 100, rows: 30 });
      // The prompt box: "❯" then a non-breaking space.
      await a.waitForScreen(/❯\u00a0/);
      t.api.enqueue("Hello from the mock API, line one.");
      a.type("say hello");
      await a.waitForScreen(/❯\u00a0say hello/);
      a.type("\r");
      const req = await t.api.waitForMainRequest((r) =>
        userTexts(r.body).some((u) => u.includes("say hello"))
      );
      assert.ok(req);
      await a.waitForScreen(/Hello from the mock API, line one\.[\s\S]*❯/);
      a.type("\x02d");
      assert.equal((await a.close()).code, 0);
      assert.match(a.raw, /\[detached from [0-9A-Z]+ \(c\)\]/);

      // Reattach: the previous answer and the prompt box are there.
      const b = TermClient.spawn(["attach", "c"], t.env, { cols: 100, rows: 30 });
      const screen = await b.waitForScreen(
        /say hello[\s\S]*Hello from the mock API, line one\.[\s\S]*❯\u00a0/,
      );
      assert.match(screen, /─{10,}/); // the prompt box's rule
      b.type("\x02d");
      assert.equal((await b.close()).code, 0);

      const peek = await t.home.ok(["peek", "c"], opts);
      assert.match(peek, /Hello from the mock API, line one\./);
      assert.match(peek, /❯/);

      // send types a prompt the API receives.
      t.api.enqueue("Second answer.");
      const after = t.api.lastSeq;
      await t.home.ok(["send", "c", "a second prompt, sent without attaching"], opts);
      const second = await t.api.waitForMainRequest(
        (r) => userTexts(r.body).some((u) => u.includes("a second prompt, sent without attaching")),
        { afterSeq: after },
      );
      // The earlier turn travels with it.
      assert.ok(userTexts(second.body).some((u) => u.includes("say hello")));
    } finally {
      await t.cleanup();
    }
  },
});
