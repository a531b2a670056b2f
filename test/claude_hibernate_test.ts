/**
 * End-to-end with the real Claude Code (offline, against the mock API):
 * hibernation. An idle Claude session is hibernated (`hibernate.afterMinutes`,
 * here a second or so), all its processes gone; `send --wait` wakes it and
 * Claude answers with the earlier turns of its conversation; `attach` wakes
 * one and shows its last screen at once; text typed into its input line
 * keeps it awake; by hand (`hibernate`), only what may be; a daemon restart
 * keeps it hibernated; a conversation whose transcript is gone cannot be
 * woken and says why; `limits.whenFull: "hibernate"` hibernates the idlest
 * to make room; `ls` shows what the sessions use, as `/proc` says.
 */

import assert from "node:assert/strict";
import { CLAUDE_BIN, claudeTest, setupClaude } from "./_claude.ts";
import { scriptedReply, userTexts } from "./_mock_api.ts";
import { alive, type DaemonProcess, RawClient } from "./_harness.ts";
import { TermClient } from "./_term.ts";
import { claudeInputBox } from "../src/daemon/claude_screen.ts";
import type { SessionRecord } from "../src/protocol.ts";

/** Pids of every process whose environment names session `id`. */
function processesOf(id: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const env = Deno.readTextFileSync(`/proc/${pid}/environ`);
      if (env.split("\0").includes(`CLAUDE_SESSIONS_ID=${id}`) && alive(pid)) out.push(pid);
    } catch { /* gone */ }
  }
  return out;
}

type Setup = Awaited<ReturnType<typeof setupClaude>>;

/** Until the session's screen satisfies `ok` (each peek is a round trip), within 30 s. */
async function untilPeek(
  cs: (args: string[]) => Promise<string>,
  ref: string,
  ok: (text: string) => boolean,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok(await cs(["peek", ref]))) {
    assert.ok(Date.now() < deadline, `the screen of ${ref} never became as expected`);
  }
}

/**
 * Turns hibernation on (after `minutes` idle) in a running daemon: the
 * config, then SIGHUP. (Set from the start, a session could be hibernated
 * before a test got to it.)
 */
async function hibernateAfter(t: Setup, minutes: number): Promise<void> {
  await t.home.writeConfig({
    claude: { command: CLAUDE_BIN },
    hibernate: { afterMinutes: minutes },
  });
  Deno.kill(t.daemon.pid, "SIGHUP");
  await t.daemon.waitForLog(/SIGHUP: reloading config/);
}

function cli(t: Setup) {
  const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
  const rec = async (ref: string) =>
    JSON.parse(await cs(["ls", "--all", "--json"])).find((r: SessionRecord) =>
      r.id === ref || r.name === ref
    ) as SessionRecord;
  return { cs, rec };
}

type Cli = ReturnType<typeof cli>;
type Case = (c: { t: Setup; cs: Cli["cs"]; rec: Cli["rec"] }) => Promise<void>;

/** A test with the real Claude: a daemon, the mock API answering `ECHO x` with `x`, the CLI. */
function claudeCase(name: string, ...rest: [Case] | [Parameters<typeof setupClaude>[0], Case]) {
  const [opts, body] = rest.length === 1 ? [undefined, rest[0]] : rest;
  Deno.test({
    name,
    ...claudeTest,
    fn: async () => {
      const t = await setupClaude(opts);
      t.api.defaultReply = scriptedReply();
      try {
        await body({ t, ...cli(t) });
      } finally {
        await t.cleanup();
      }
    },
  });
}

claudeCase(
  "claude hibernate: idle → hibernated, processes gone; send --wait wakes it with its turns",
  async ({ t, cs, rec }) => {
    const id = (await cs(["new", t.work, "--name", "h", "--size", "100x30"])).trim();
    assert.equal((await cs(["send", "h", "ECHO first answer", "--wait"])).trim(), "first answer");
    const before = await rec(id);
    const pid = before.pid!;
    assert.ok(processesOf(id).length > 0);
    await hibernateAfter(t, 0.02);

    // Idle 1.2 s, nothing attached or typed: hibernated.
    await cs(["wait", "h", "--until", "hibernated", "--timeout", "60"]);
    const slept = await rec(id);
    assert.equal(slept.status, "hibernated");
    assert.equal(slept.exitReason, "hibernated");
    assert.match(slept.history.at(-1)!.detail ?? "", /idle/);
    assert.equal(alive(pid), false);
    assert.deepEqual(processesOf(id), []);
    // Listed without --all; no memory, no process.
    assert.match(await cs(["ls"]), /h\s+hibernated \S+\s+-\s+-/);
    // Its last screen stays.
    assert.match(await cs(["peek", "h"]), /first answer/);

    // send --wait wakes it: Claude gets the prompt with the earlier turn.
    const after = t.api.lastSeq;
    const reply = await cs(["send", "h", "ECHO second answer", "--wait", "--timeout", "90"]);
    assert.equal(reply.trim(), "second answer");
    const req = await t.api.waitForMainRequest(
      (r) => userTexts(r.body).some((u) => u.includes("ECHO second answer")),
      { afterSeq: after },
    );
    assert.ok(userTexts(req.body).some((u) => u.includes("ECHO first answer")));
    const woken = await rec(id);
    assert.equal(woken.runs.length, 2);
    assert.equal(woken.runs[1]!.resumed, true);
    assert.equal(woken.runs[0]!.exitReason, "hibernated");
    assert.equal(woken.conversationId, before.conversationId);
    assert.ok(woken.history.some((h) => h.status === "starting" && h.detail === "woken"));
  },
);

claudeCase(
  "claude hibernate: text typed into the input line keeps it awake; hibernate by hand refuses",
  async ({ t, cs, rec }) => {
    const id = (await cs(["new", t.work, "--name", "draft", "--size", "100x30"])).trim();
    await cs(["wait", id, "--until", "waiting_input", "--timeout", "60"]);
    await cs(["send", id, "--no-enter", "half a thought"]);
    await hibernateAfter(t, 0.01);
    // The daemon looked and said why not.
    await t.daemon.waitForLog(
      new RegExp(`${id}: idle \\S+, not hibernated: something was typed`),
      60_000,
    );
    assert.equal((await rec(id)).status, "waiting_input");
    // By hand: the text in its input line would be lost.
    const r = await t.home.cli(["hibernate", id], { env: t.env });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot be hibernated: its input line holds text \("half a thought"\)/,
    );
    assert.equal((await rec(id)).status, "waiting_input");

    // Cleared, it may be hibernated by hand (not by itself: it was typed into).
    await cs(["send", id, "--keys", "C-u"]);
    await untilPeek(cs, id, (text) => claudeInputBox(text) === "");
    await cs(["hibernate", id]);
    assert.equal((await rec(id)).status, "hibernated");
    // Twice: it says so. Woken by hand.
    const again = await t.home.cli(["hibernate", id], { env: t.env });
    assert.match(again.stderr, /already hibernated/);
    assert.match(await cs(["wake", id]), /woken/);
    await cs(["wait", id, "--until", "waiting_input", "--timeout", "60"]);
    // A session that is working is never hibernated.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    t.api.enqueue({ type: "text", text: "slow", gate });
    await cs(["send", id, "take your time"]);
    const busy = await t.home.cli(["hibernate", id], { env: t.env });
    release();
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /it is running \(Claude is working\)/);
  },
);

claudeCase(
  "claude hibernate: attach wakes it and shows its last screen at once, then the live one",
  async ({ t, cs, rec }) => {
    const id = (await cs(["new", t.work, "--name", "a", "--size", "100x30"])).trim();
    await cs(["send", "a", "ECHO remember the screen", "--wait"]);
    await cs(["hibernate", "a"]);
    assert.equal((await rec(id)).status, "hibernated");

    // Over the protocol: the last screen comes first, while Claude is still starting…
    const c = await RawClient.connect(t.home.socket);
    const other = await RawClient.connect(t.home.socket);
    try {
      await c.send({ id: "att", type: "attach", session: id, cols: 100, rows: 30 });
      // A send at the same moment wakes it too: one wake, both served.
      await other.send({
        id: "s1",
        type: "send",
        session: id,
        text: "ECHO together",
        enter: true,
        wait: true,
      });
      const first = await c.next((m) => m.type !== "hello");
      assert.equal(first.type, "screen");
      assert.match(String(first.data), /remember the screen/);
      const now = await other.request("get", { session: id });
      const status = (now.result as { session: SessionRecord }).session.status;
      assert.ok(status === "hibernated" || status === "starting", status);
      // … then the reply, once Claude's prompt is up, and the live screen.
      const reply = await c.next((m) => m.type === "reply" && m.id === "att");
      assert.equal(reply.ok, true, JSON.stringify(reply));
      const attached = (reply.result as { session: SessionRecord }).session;
      assert.equal(attached.status, "waiting_input");
      assert.equal(attached.runs.length, 2);
      await c.next((m) => m.type === "screen");
      const sent = await other.next((m) => m.type === "reply" && m.id === "s1");
      assert.equal(sent.ok, true, JSON.stringify(sent));
      assert.equal((sent.result as { turn: { reply: string } }).turn.reply, "together");
      assert.equal((await rec(id)).runs.length, 2);
    } finally {
      c.close();
      other.close();
    }

    // In a terminal: the screen, then typing into the woken Claude.
    await untilPeek(cs, "a", (text) => claudeInputBox(text) === "");
    await cs(["hibernate", "a"]);
    const a = TermClient.spawn(["attach", "a"], t.env, { cols: 100, rows: 30 });
    await a.waitForScreen(/remember the screen/);
    await cs(["wait", "a", "--until", "waiting_input", "--timeout", "60"]);
    assert.equal((await rec(id)).runs.length, 3);
    await a.waitForScreen(/remember the screen[\s\S]*❯/);
    t.api.enqueue("typed after waking");
    a.type("hello again");
    await a.waitForScreen(/❯\u00a0hello again/);
    a.type("\r");
    await a.waitForScreen(/typed after waking/);
    a.type("\x02d");
    assert.equal((await a.close()).code, 0);
  },
);

claudeCase(
  "claude hibernate: a daemon restart keeps it hibernated; a lost transcript says why",
  async ({ t, cs, rec }) => {
    let second: DaemonProcess | undefined;
    try {
      const id = (await cs(["new", t.work, "--name", "r", "--size", "100x30"])).trim();
      await cs(["send", "r", "ECHO kept across restarts", "--wait"]);
      await cs(["hibernate", "r"]);
      await t.daemon.stop();
      second = await t.home.startDaemon();
      const back = await rec(id);
      assert.equal(back.status, "hibernated");
      assert.equal(back.runs.length, 1);
      // Its last screen was kept on disk.
      assert.match(await cs(["peek", "r"]), /kept across restarts/);

      // Claude's transcript deleted: waking would lose the conversation.
      await Deno.remove(back.transcriptPath!);
      const r = await t.home.cli(["wake", "r"], { env: t.env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot be woken: Claude's transcript of its conversation .* is gone/);
      assert.equal((await rec(id)).status, "hibernated");
      // kill ends it for good.
      assert.match(await cs(["kill", "r"]), /killed/);
      assert.equal((await rec(id)).status, "exited");
    } finally {
      await second?.stop();
    }
  },
);

claudeCase(
  "claude limits: maxLive 2 with whenFull hibernate: a third session hibernates the idlest",
  { config: { limits: { maxLive: 2, whenFull: "hibernate" } } },
  async ({ t, cs, rec }) => {
    const a = (await cs(["new", t.work, "--name", "one", "--size", "100x30"])).trim();
    const b = (await cs(["new", t.work, "--name", "two", "--size", "100x30"])).trim();
    await cs(["send", "one", "ECHO a", "--wait"]);
    await cs(["send", "two", "ECHO b", "--wait"]);
    // "one" has waited for input longest.
    const c = (await cs(["new", t.work, "--name", "three", "--size", "100x30"])).trim();
    assert.equal((await rec(a)).status, "hibernated");
    assert.match((await rec(a)).history.at(-1)!.detail ?? "", /to make room/);
    assert.notEqual((await rec(b)).status, "hibernated");
    assert.equal((await rec(c)).status === "queued", false);
    await cs(["wait", "three", "--until", "waiting_input", "--timeout", "60"]);

    // ls: MEM and CPU of real Claude sessions, as /proc tells (within 10%;
    // read just before and just after, since a Claude that just started grows).
    const procRss = (id: string) => {
      let rss = 0;
      for (const pid of processesOf(id)) {
        let status: string;
        try {
          status = Deno.readTextFileSync(`/proc/${pid}/status`);
        } catch (e) {
          // One of Claude's short-lived helpers, gone since it was listed.
          if (e instanceof Deno.errors.NotFound) continue;
          throw e;
        }
        const m = /VmRSS:\s+(\d+) kB/.exec(status);
        rss += Number(m?.[1] ?? 0) * 1024;
      }
      return rss;
    };
    const ids = [b, c];
    // ls may answer with figures up to 5 s old (measuring again behind the
    // answer): /proc is read around each ls, and the figures are compared
    // with the reads just before and just after they were measured.
    const reads: { at: number; rss: Map<string, number> }[] = [];
    const read = () =>
      reads.push({ at: Date.now(), rss: new Map(ids.map((id) => [id, procRss(id)])) });
    let listed: SessionRecord[];
    const around = (id: string) => {
      const at = Date.parse(listed.find((r) => r.id === id)?.usage?.at ?? "");
      const lo = reads.findLast((r) => r.at <= at);
      const hi = reads.find((r) => r.at >= at);
      return lo && hi ? [lo.rss.get(id)!, hi.rss.get(id)!] : null;
    };
    const deadline = Date.now() + 30_000;
    while (true) {
      read();
      listed = JSON.parse(await cs(["ls", "--json"])) as SessionRecord[];
      read();
      if (ids.every((id) => around(id) !== null)) break;
      assert.ok(Date.now() < deadline, "no figures measured between two reads of /proc");
    }
    const before = new Map(ids.map((id) => [id, around(id)![0]]));
    const after = new Map(ids.map((id) => [id, around(id)![1]]));
    for (const id of ids) {
      const s = listed.find((r) => r.id === id)!;
      const low = Math.min(before.get(id)!, after.get(id)!);
      const high = Math.max(before.get(id)!, after.get(id)!);
      assert.ok(s.usage, `no usage for ${s.name}`);
      assert.ok(low > 50 * 1024 * 1024, `claude should hold tens of MiB, got ${low}`);
      assert.ok(
        s.usage.rss >= low * 0.9 && s.usage.rss <= high * 1.1,
        `${s.name}: ls says ${s.usage.rss}, /proc ${low}…${high}`,
      );
      // (Claude starts short-lived helpers now and then: the count varies.)
      assert.ok(s.usage.processes >= 1);
      assert.ok(s.usage.cpu !== null && s.usage.cpu >= 0);
    }
    const table = await cs(["ls"]);
    assert.match(table, /ID\s+NAME\s+STATUS\s+MEM\s+CPU\s+AGE\s+DIR/);
    assert.match(table, /two\s+waiting_input \S+\s+\d+(\.\d)?M\s+\d+%/);
    assert.match(table, /one\s+hibernated \S+\s+-\s+-/);
  },
);
