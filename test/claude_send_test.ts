/**
 * End-to-end with the real Claude Code (offline, against the mock API): every
 * prompt `send` reports as delivered reached the API as a submitted turn —
 * right after `new`, many in a row, from a raw protocol client that sends the
 * moment `wait` says `waiting_input`, multi-line and long; `send --wait`
 * returns Claude's answer, or what it asks permission for.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import { type MockRequest, userTexts } from "./_mock_api.ts";
import { RawClient } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

/** The main request whose last user text holds `marker`, within the deadline. */
function turnWith(t: Awaited<ReturnType<typeof setupClaude>>, marker: string, timeoutMs = 30_000) {
  return t.api.waitForMainRequest(
    (r: MockRequest) => userTexts(r.body).some((u) => u.includes(marker)),
    { timeoutMs },
  );
}

Deno.test({
  name: "claude send: 20 fresh sessions, new then send at once: 20/20 prompts submitted",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      const n = 20;
      const results = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const id = (await cs(["new", t.work, "--size", "100x30"])).trim();
          const r = await t.home.cli(["send", id, `fresh prompt number ${i} please`], {
            env: t.env,
          });
          return { id, i, r };
        }),
      );
      for (const { i, r } of results) {
        assert.equal(r.code, 0, `send ${i}: ${r.stderr}`);
      }
      // Every one reached the API as a turn of its own session.
      await Promise.all(results.map(({ i }) => turnWith(t, `fresh prompt number ${i} please`)));
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude send: 50 in a row on one session, each submitted; --wait prints the answer",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      const id = (await cs(["new", t.work, "--name", "row"])).trim();
      for (let i = 0; i < 50; i++) {
        t.api.enqueue(`Answer number ${i}.`);
        const out = await cs(["send", id, `question number ${i}`, "--wait", "--timeout", "60"]);
        assert.equal(out.trim(), `Answer number ${i}.`);
      }
      const rec = JSON.parse(await cs(["ls", "--json"]))[0] as SessionRecord;
      assert.equal(rec.status, "waiting_input");
      // 50 turns, each prompt once.
      const last = t.api.mainRequests.at(-1)!;
      const asked = userTexts(last.body).filter((u) => /^question number \d+$/.test(u));
      assert.deepEqual(asked, Array.from({ length: 50 }, (_, i) => `question number ${i}`));
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude send: a raw client that sends the moment wait answers waiting_input: 20/20",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
    try {
      const c = await RawClient.connect(t.home.socket);
      try {
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) {
          ids.push((await cs(["new", t.work, "--size", "100x30"])).trim());
        }
        await Promise.all(ids.map(async (id, i) => {
          const w = await c.request("wait", {
            session: id,
            until: ["waiting_input"],
            timeoutMs: 60_000,
          });
          assert.equal((w.result as { outcome: string }).outcome, "reached");
          // At once, over the protocol: the status alone means "you can type now".
          const sent = await c.request("send", {
            session: id,
            text: `raw prompt ${i}`,
            enter: true,
          });
          assert.equal(sent.ok, true, JSON.stringify(sent));
        }));
        await Promise.all(ids.map((_, i) => turnWith(t, `raw prompt ${i}`)));
      } finally {
        c.close();
      }
    } finally {
      await t.cleanup();
    }
  },
});
