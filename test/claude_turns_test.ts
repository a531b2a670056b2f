/**
 * End-to-end with the real Claude Code (offline, against the mock API): every
 * wait for the user is visible, and turns end when the work does —
 * Claude's folder-trust dialog is a wait `send` will not type into; `send
 * --wait` answers with Claude's reply, or what it asks permission for;
 * background agents keep a session `running`; a failed turn says which error
 * until a turn succeeds; a prompt sent while Claude works is queued, then
 * taken; commands (`/clear`, `/exit`) count as delivered.
 */

import assert from "node:assert/strict";
import { claudeTest, setupClaude } from "./_claude.ts";
import { isSubagentRequest, lastUserTexts, scriptedReply, userTexts } from "./_mock_api.ts";
import { TermClient } from "./_term.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { deferred, within } from "../src/async.ts";

type Setup = Awaited<ReturnType<typeof setupClaude>>;

/** The record of `ref` once `pred` holds (re-read whenever a record file changes). */
async function untilRecord(
  t: Setup,
  ref: string,
  pred: (r: SessionRecord) => boolean,
  timeoutMs = 60_000,
): Promise<SessionRecord> {
  const deadline = Date.now() + timeoutMs;
  const w = Deno.watchFs(`${t.home.dir}/sessions`);
  const changes = w[Symbol.asyncIterator]();
  try {
    while (true) {
      const all = JSON.parse(await t.home.ok(["ls", "--all", "--json"])) as SessionRecord[];
      const r = all.find((s) => s.id === ref || s.name === ref);
      if (r && pred(r)) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`record never matched: ${JSON.stringify(r)}`);
      await within(changes.next(), left);
    }
  } finally {
    w.close();
  }
}

function helpers(t: Setup) {
  const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
  const cli = (args: string[], stdin?: string) =>
    t.home.cli(
      args,
      stdin === undefined ? { env: t.env, cwd: t.work } : { env: t.env, cwd: t.work, stdin },
    );
  const record = async (ref: string) =>
    (JSON.parse(await cs(["ls", "--all", "--json"])) as SessionRecord[]).find((s) =>
      s.id === ref || s.name === ref
    )!;
  return { cs, cli, record };
}

Deno.test({
  name: "claude: the folder-trust dialog is a visible wait; send refuses to type into it",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    t.api.defaultReply = scriptedReply();
    const { cs, cli, record } = helpers(t);
    const dir = await Deno.realPath(await Deno.makeTempDir({ dir: t.home.dir, prefix: "new-" }));
    let watcher: TermClient | null = null;
    try {
      const started = await t.home.cli(["new", dir, "--name", "u", "--size", "100x30"], {
        env: t.env,
      });
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stderr, /note: Claude has not been told to trust .*: it asks first/);
      watcher = TermClient.spawn(["attach", "--read-only", "u"], t.env, { cols: 100, rows: 30 });
      await watcher.waitForScreen(/Yes, I trust this folder/, 60_000);
      const seen = Date.now();
      const asking = JSON.parse(
        await cs(["wait", "u", "--until", "waiting_permission", "--timeout", "30", "--json"]),
      ) as SessionRecord;
      assert.ok(
        Date.parse(asking.statusSince) <= seen + 1000,
        `waiting_permission at ${asking.statusSince}, dialog seen at ${
          new Date(seen).toISOString()
        }`,
      );
      assert.equal(asking.statusSource, "screen");
      assert.equal(asking.waitingFor?.kind, "folder_trust");
      assert.match(await cs(["ls"]), /u\s+waiting_permission/);

      // Text would pick "No, exit": refused, nothing typed, the session lives.
      const r = await cli(["send", "u", "hello"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Claude is asking whether to trust the folder .*nothing was typed/);
      assert.match(r.stderr, /--keys Down Enter/);
      const still = await record("u");
      assert.equal(still.status, "waiting_permission");
      assert.equal(
        (await cs(["logs", "u", "--direction", "input"])).length,
        0,
        "nothing was typed",
      );

      // The answer the message gives trusts it, and Claude becomes ready.
      await cs(["send", "u", "--keys", "Down", "Enter"]);
      await cs(["wait", "u", "--until", "waiting_input", "--timeout", "60"]);
      assert.equal(
        (await cs(["send", "u", "ECHO trusted now", "--wait", "--timeout", "60"])).trim(),
        "trusted now",
      );
    } finally {
      await watcher?.kill();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: send --wait returns the answer, or exit 3 with the command awaiting approval",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude({ args: ["--permission-mode", "default"] });
    t.api.defaultReply = scriptedReply();
    const { cs, cli, record } = helpers(t);
    try {
      await cs(["new", t.work, "--name", "p"]);
      assert.equal(
        (await cs(["send", "p", "ECHO hello back", "--wait", "--timeout", "60"])).trim(),
        "hello back",
      );

      const ask = await cli(["send", "p", "RUN: touch approved.txt", "--wait", "--timeout", "60"]);
      assert.equal(ask.code, 3, ask.stderr);
      assert.equal(ask.stdout.trim(), "waiting for permission to use Bash: touch approved.txt");
      const rec = await record("p");
      assert.deepEqual(rec.waitingFor, {
        kind: "permission",
        tool: "Bash",
        input: "touch approved.txt",
      });

      // Approve and wait for the answer. Claude drops keys in the first ~100 ms
      // of a dialog: retry (bounded) until the turn moves on.
      let answer = "";
      for (let i = 0; answer === ""; i++) {
        const r = await cli(["send", "p", "--keys", "Enter", "--wait", "--timeout", "5"]);
        if (r.code === 0) answer = r.stdout.trim();
        else if (i === 5) throw new Error(`the approval never took: ${r.stderr}`);
      }
      assert.match(answer, /^Bash result: /);
      await Deno.stat(`${t.work}/approved.txt`);
      assert.equal((await record("p")).waitingFor ?? null, null);

      // --json: the whole outcome.
      const j = JSON.parse(
        await cs(["send", "p", "ECHO as json", "--wait", "--timeout", "60", "--json"]),
      );
      assert.equal(j.delivery, "submitted");
      assert.equal(j.turn.outcome, "reply");
      assert.equal(j.turn.reply, "as json");
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: multi-line and 20 KB prompts from stdin arrive whole; /clear and /exit count",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    t.api.defaultReply = scriptedReply();
    const { cs, cli } = helpers(t);
    try {
      await cs(["new", t.work, "--name", "big"]);
      const multi = "first line of the prompt\nsecond line\n\n  indented fourth line";
      const r1 = await cli(["send", "big", "-"], multi + "\n");
      assert.equal(r1.code, 0, r1.stderr);
      const m = await t.api.waitForMainRequest((r) =>
        userTexts(r.body).some((u) => u.includes("second line"))
      );
      // Claude hands a multi-line paste to the model marked as pasted content.
      assert.ok(lastUserTexts(m.body).at(-1)!.includes(multi), lastUserTexts(m.body).at(-1));
      const big = Array.from({ length: 400 }, (_, i) => `line ${i} ${"x".repeat(50)}`).join("\n");
      assert.ok(big.length > 20_000);
      const r2 = await cli(["send", "big", "-", "--wait", "--timeout", "60"], big);
      assert.equal(r2.code, 0, r2.stderr);
      const b = await t.api.waitForMainRequest((r) =>
        userTexts(r.body).some((u) => u.includes("line 399 "))
      );
      assert.ok(lastUserTexts(b.body).at(-1)!.includes(big));

      // Commands fire no UserPromptSubmit: they count once taken.
      const clear = JSON.parse(await cs(["send", "big", "/clear", "--json"]));
      assert.equal(clear.delivery, "accepted");
      await cs(["wait", "big", "--until", "waiting_input", "--timeout", "30"]);
      assert.equal(
        (await cs(["send", "big", "ECHO after clear", "--wait", "--timeout", "60"])).trim(),
        "after clear",
      );
      const exit = JSON.parse(await cs(["send", "big", "/exit", "--json"]));
      assert.equal(exit.delivery, "accepted");
      await cs(["wait", "big", "--until", "exited", "--timeout", "30"]);
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: a prompt sent while Claude works is queued, then taken; --wait gets its answer",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    const scripted = scriptedReply();
    const gate = deferred();
    t.api.defaultReply = (r) =>
      lastUserTexts(r.body).at(-1) === "ECHO slow one"
        ? { type: "text", text: "slow one\n", chunks: ["slow ", "one\n"], gate: gate.promise }
        : scripted(r);
    const { cs, cli } = helpers(t);
    try {
      await cs(["new", t.work, "--name", "q"]);
      await cs(["send", "q", "ECHO slow one"]);
      await cs(["wait", "q", "--until", "running", "--timeout", "30"]);
      const watcher = TermClient.spawn(["attach", "--read-only", "q"], t.env);
      try {
        const queued = cli(["send", "q", "ECHO second one", "--wait", "--timeout", "60"]);
        // Claude shows it queued the prompt; only then does the slow turn end.
        await watcher.waitForScreen(/Queued/, 30_000);
        gate.resolve();
        const r = await queued;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /Claude is busy: it queued the prompt/);
        assert.equal(r.stdout.trim(), "second one");
      } finally {
        await watcher.kill();
      }
    } finally {
      gate.resolve();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: background agents keep the session running until their follow-up turn ends",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude({ args: ["--permission-mode", "default"] });
    const scripted = scriptedReply();
    const gate = deferred();
    t.api.defaultReply = (r) =>
      isSubagentRequest(r)
        ? { type: "text", text: "agent work done", gate: gate.promise }
        : scripted(r);
    const { cs, cli, record } = helpers(t);
    try {
      await cs(["new", t.work, "--name", "bg"]);
      await cs(["wait", "bg", "--until", "waiting_input", "--timeout", "60"]);
      const sending = cli(["send", "bg", "AGENT: do the work", "--wait", "--timeout", "120"]);
      // The main turn ends with the agent still running: the session stays running.
      await t.api.waitForRequest((r) => isSubagentRequest(r));
      const rec = await untilRecord(t, "bg", (r) => (r.backgroundTasks ?? 0) > 0);
      assert.equal(rec.status, "running");
      assert.equal(rec.backgroundTasks, 1);
      gate.resolve();
      const r = await sending;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Agent finished: agent work done/);
      const done = await record("bg");
      assert.equal(done.status, "waiting_input");
      assert.equal(done.backgroundTasks ?? 0, 0);
      // Between the prompt and the end, never waiting_input.
      // (The prompt's own change to running may come from the hook or the state file.)
      const i = done.history.findLastIndex((h) => /SessionStart/.test(h.detail ?? ""));
      const between = done.history.slice(0, -1).slice(i + 1).map((h) => h.status);
      assert.ok(
        !between.includes("waiting_input"),
        JSON.stringify(done.history.slice(Math.max(0, i)), null, 1),
      );
    } finally {
      gate.resolve();
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "claude: a failed turn says which error, and the next good turn clears it",
  ...claudeTest,
  fn: async () => {
    const t = await setupClaude();
    t.api.defaultReply = scriptedReply();
    const { cs, cli, record } = helpers(t);
    try {
      // Claude retries an overloaded API (10 times by default): once here.
      await t.home.ok(["new", t.work, "--name", "e"], {
        env: { ...t.env, CLAUDE_CODE_MAX_RETRIES: "1" },
      });
      await cs(["wait", "e", "--until", "waiting_input", "--timeout", "60"]);
      for (let i = 0; i < 2; i++) {
        t.api.enqueue({
          type: "error",
          status: 529,
          errorType: "overloaded_error",
          message: "Overloaded",
        });
      }
      const r = await cli(["send", "e", "this will fail", "--wait", "--timeout", "300"]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /the turn failed: .*529.*Overloaded.*\(server_error\)/);
      const failed = await record("e");
      assert.match(failed.lastError ?? "", /529/);
      assert.match(await cs(["ls"]), /e\s+waiting_input \S+ \(turn failed\)/);
      t.api.clearQueue();
      assert.equal(
        (await cs(["send", "e", "ECHO fine again", "--wait", "--timeout", "60"])).trim(),
        "fine again",
      );
      const ok = await record("e");
      assert.equal(ok.lastError, null);
      assert.doesNotMatch(await cs(["ls"]), /turn failed/);
    } finally {
      await t.cleanup();
    }
  },
});
