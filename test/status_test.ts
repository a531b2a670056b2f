/**
 * End-to-end, deterministic: the daemon's status pipeline fed by hand — hook
 * events spooled the way the hook command does it (the real command, or
 * files with chosen timestamps to force an arrival order), and Claude's state
 * file written directly. The program is a plain `sleep` with hooks enabled,
 * that switches on bracketed paste as Claude does once its prompt is up.
 */

import assert from "node:assert/strict";
import { Fifo, PROBE, ROOT, spoolHook as spool, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The stand-in's script: its prompt is up at once (bracketed paste on). */
const READY_PROGRAM = "printf '\\033[?2004h'; exec sleep 100000";

async function setup(program = READY_PROGRAM) {
  const fakeHome = await Deno.makeTempDir({ prefix: "cs-user-" });
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", program], hooks: true },
  });
  const daemon = await home.startDaemon();
  const env = { HOME: fakeHome };
  const id = (await home.ok(["new", home.dir, "--name", "h"], { env })).trim();
  const rec = JSON.parse(await home.ok(["ls", "--json"]))[0] as SessionRecord;
  return {
    home,
    daemon,
    id,
    rec,
    fakeHome,
    spool: `${home.dir}/spool`,
    async get(): Promise<SessionRecord> {
      return JSON.parse(await home.ok(["ls", "--all", "--json"])).find((s: SessionRecord) =>
        s.id === id
      );
    },
    /** Writes Claude's state file for the session's program, stamped `at`. */
    state(status: string, at: number, extra: Record<string, unknown> = {}): Promise<void> {
      return Deno.writeTextFile(
        `${fakeHome}/.claude/sessions/${rec.pid}.json`,
        JSON.stringify({ pid: rec.pid, status, statusUpdatedAt: at, ...extra }),
      );
    },
    async wait(status: string): Promise<SessionRecord> {
      return JSON.parse(
        await home.ok(["wait", id, "--until", status, "--timeout", "20", "--json"]),
      );
    },
    async cleanup() {
      await daemon.stop();
      await home.cleanup();
      await Deno.remove(fakeHome, { recursive: true });
    },
  };
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

Deno.test(
  "hooked sessions start as starting; the real hook command reports SessionStart",
  opts,
  async () => {
    const t = await setup();
    try {
      assert.equal(t.rec.status, "starting");
      assert.equal(t.rec.hooks, true);
      // The program got --settings pointing at the session's settings file.
      const settings = JSON.parse(
        await Deno.readTextFile(`${t.home.dir}/sessions/${t.id}/settings.json`),
      );
      const command = settings.hooks.SessionStart[0].hooks[0].command as string;
      assert.deepEqual(t.rec.args, ["-c", READY_PROGRAM]);
      const child = new Deno.Command("/bin/sh", { args: ["-c", command], stdin: "piped" }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(JSON.stringify({
        hook_event_name: "SessionStart",
        session_id: "conv-1",
        transcript_path: "/t/conv-1.jsonl",
        source: "startup",
      })));
      await w.close();
      assert.equal((await child.status).code, 0);
      const rec = await t.wait("waiting_input");
      assert.equal(rec.statusSource, "hook");
      assert.equal(rec.conversationId, "conv-1");
      assert.equal(rec.transcriptPath, "/t/conv-1.jsonl");
      assert.equal(rec.history.at(-1)!.detail, "SessionStart: startup");
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test("events apply in time order, whatever order their files land in", opts, async () => {
  const t = await setup();
  try {
    const t0 = nowNs();
    // PreToolUse started first but its file lands after PermissionRequest's
    // (hooks run in parallel): the later event wins.
    await spool(t.spool, t.id, t0 + 2_000_000n, {
      hook_event_name: "PermissionRequest",
      tool_name: "Bash",
    });
    assert.equal((await t.get()).status, "waiting_permission");
    await spool(t.spool, t.id, t0 + 1_000_000n, {
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
    });
    const rec = await t.get();
    assert.equal(rec.status, "waiting_permission");
    assert.equal(rec.history.at(-1)!.detail, "PermissionRequest: Bash");

    // Stop keeps the last message.
    await spool(t.spool, t.id, t0 + 3_000_000n, {
      hook_event_name: "Stop",
      last_assistant_message: "All done.",
    });
    const stopped = await t.get();
    assert.equal(stopped.status, "waiting_input");
    assert.equal(stopped.lastMessage, "All done.");

    // Events from before this run (e.g. left in the spool) change nothing.
    await spool(t.spool, t.id, BigInt(Date.parse(t.rec.created) - 60_000) * 1_000_000n, {
      hook_event_name: "UserPromptSubmit",
    });
    assert.equal((await t.get()).status, "waiting_input");
    // Events for unknown sessions are consumed and ignored.
    await spool(t.spool, "01M7ZZZZZZZZZZZZZZZZZZZZZZ", nowNs(), { hook_event_name: "Stop" });
    await spool(t.spool, t.id, nowNs(), {
      hook_event_name: "Notification",
      notification_type: "idle_prompt",
    });
    assert.equal((await t.get()).status, "waiting_input");
    assert.match(t.daemon.log, /^(?![\s\S]*uncaught)/);
  } finally {
    await t.cleanup();
  }
});

Deno.test(
  "Claude's state file fills the gaps hooks leave (Esc), and cannot override a newer hook",
  opts,
  async () => {
    const t = await setup();
    try {
      const stateDir = `${t.fakeHome}/.claude/sessions`;
      const state = (status: string, at: number, extra: Record<string, unknown> = {}) =>
        t.state(status, at, { sessionId: "conv-9", ...extra });
      const t0 = Date.now();
      await spool(t.spool, t.id, BigInt(t0) * 1_000_000n, { hook_event_name: "UserPromptSubmit" });
      assert.equal((await t.get()).status, "running");
      // Esc: no hook, Claude's state says idle (and is newer).
      await state("idle", t0 + 50);
      const idle = await t.wait("waiting_input");
      assert.equal(idle.statusSource, "claude_state");
      assert.equal(idle.conversationId, "conv-9");
      // A permission prompt rejected with Esc: waiting, then idle.
      await state("waiting", t0 + 100, { waitingFor: "permission prompt" });
      const asking = await t.wait("waiting_permission");
      assert.equal(asking.history.at(-1)!.detail, "state: permission prompt");
      await state("idle", t0 + 150);
      await t.wait("waiting_input");
      // A stale state (older than the newest hook) is ignored.
      await spool(t.spool, t.id, BigInt(t0 + 300) * 1_000_000n, {
        hook_event_name: "UserPromptSubmit",
      });
      await state("idle", t0 + 200);
      await state("busy", t0 + 400);
      await t.wait("running");
      // A half-written state file is ignored until it is complete.
      await Deno.writeTextFile(`${stateDir}/${t.rec.pid}.json`, '{"status":"idle","statusUp');
      await state("idle", t0 + 500);
      await t.wait("waiting_input");
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test("the process decides exited; resume needs a conversation id", opts, async () => {
  const t = await setup();
  try {
    await spool(t.spool, t.id, nowNs(), {
      hook_event_name: "SessionEnd",
      reason: "prompt_input_exit",
    });
    assert.notEqual((await t.get()).status, "exited");
    await t.home.ok(["kill", t.id]);
    // A hook after the exit changes nothing.
    await spool(t.spool, t.id, nowNs(), { hook_event_name: "SessionStart" });
    const rec = await t.get();
    assert.equal(rec.status, "exited");
    assert.equal(rec.statusSource, "process");
    const r = await t.home.cli(["resume", t.id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no known conversation id/);
    const live = await t.home.cli(["new", t.home.dir, "--session-id", "not-a-uuid"]);
    assert.equal(live.code, 1);
    assert.match(live.stderr, /must be a UUID/);
  } finally {
    await t.cleanup();
  }
});

Deno.test(
  "a state file written by a child of the session's program counts (wrapper commands)",
  opts,
  async () => {
    const fakeHome = await Deno.makeTempDir({ prefix: "cs-user-" });
    const home = await TestHome.create({ claude: { command: PROBE, hooks: true } });
    const daemon = await home.startDaemon();
    const fifo = await Fifo.create(home.dir);
    try {
      const rep = fifo.read();
      const id =
        (await home.ok(["new", home.dir], { env: { HOME: fakeHome, PROBE_FIFO: fifo.path } }))
          .trim();
      const child = Number((await rep).bg); // a background child in the session
      await Deno.mkdir(`${fakeHome}/.claude/sessions`, { recursive: true });
      await Deno.writeTextFile(
        `${fakeHome}/.claude/sessions/${child}.json`,
        JSON.stringify({ pid: child, status: "waiting", statusUpdatedAt: Date.now() }),
      );
      const rec = JSON.parse(
        await home.ok(["wait", id, "--until", "waiting_permission", "--timeout", "20", "--json"]),
      ) as SessionRecord;
      assert.equal(rec.statusSource, "claude_state");
    } finally {
      await daemon.stop();
      await home.cleanup();
      await Deno.remove(fakeHome, { recursive: true });
    }
  },
);

Deno.test(
  "a PermissionRequest that loses the race with the state file still says what it asks for",
  opts,
  async () => {
    const t = await setup();
    try {
      const state = t.state;
      const t0 = Date.now();
      // Claude works (its state file, stamped late); the PermissionRequest
      // hook's report is older, so it sets no status of its own…
      await state("busy", t0 + 100);
      await t.wait("running");
      await spool(t.spool, t.id, BigInt(t0 + 50) * 1_000_000n, {
        hook_event_name: "PermissionRequest",
        tool_name: "Bash",
        tool_input: { command: "touch watched.txt" },
      });
      assert.equal((await t.get()).status, "running");
      // …then the state file says it waits: with the hook's details.
      await state("waiting", t0 + 200, { waitingFor: "permission prompt" });
      const asking = await t.wait("waiting_permission");
      assert.deepEqual(asking.waitingFor, {
        kind: "permission",
        tool: "Bash",
        input: "touch watched.txt",
      });
      // Once answered (the tool ran), a later wait does not reuse them.
      await spool(t.spool, t.id, BigInt(t0 + 300) * 1_000_000n, {
        hook_event_name: "PostToolUse",
        tool_name: "Bash",
      });
      await t.wait("running");
      await state("waiting", t0 + 400, { waitingFor: "permission prompt" });
      assert.deepEqual((await t.wait("waiting_permission")).waitingFor, { kind: "permission" });
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test(
  "ready means ready: SessionStart counts only once the program switched on bracketed paste",
  opts,
  async () => {
    // The program's prompt comes up only when the test says so (a line on a FIFO).
    const fifo = await Deno.makeTempDir({ prefix: "cs-ready-" });
    await new Deno.Command("mkfifo", { args: [`${fifo}/go`] }).output();
    const t = await setup(`read x < ${fifo}/go; printf '\\033[?2004h'; exec sleep 100000`);
    try {
      await spool(t.spool, t.id, nowNs(), { hook_event_name: "SessionStart", source: "startup" });
      // Applied (the daemon consumed it), but Claude cannot take input yet.
      assert.equal((await t.get()).status, "starting");
      await Deno.writeTextFile(`${fifo}/go`, "go\n");
      const rec = await t.wait("waiting_input");
      assert.equal(rec.history.at(-1)!.detail, "SessionStart: startup");
      // The prompt was up before the status said so: the log has the mode switch first.
      const lines = (await t.home.ok(["logs", t.id, "--json"])).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      const on = lines.findIndex((l) =>
        l.direction === "output" && atob(l.data).includes("\x1b[?2004h")
      );
      const ready = lines.findIndex((l) => l.direction === "event" && l.status === "waiting_input");
      assert.ok(on !== -1 && ready > on, `2004h at line ${on}, waiting_input at line ${ready}`);
    } finally {
      await t.cleanup();
      await Deno.remove(fifo, { recursive: true });
    }
  },
);

/** Resolves with the log's input lines once `n` of them were written. */
async function inputLines(t: Awaited<ReturnType<typeof setup>>, n: number): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  while (true) {
    const lines = (await t.home.ok(["logs", t.id, "--json", "--direction", "input"])).trim()
      .split("\n").filter(Boolean).map((l) => atob(JSON.parse(l).data));
    if (lines.join("").split("\r").length - 1 >= n) return lines;
    if (Date.now() > deadline) throw new Error(`fewer than ${n} Enters: ${JSON.stringify(lines)}`);
    // Woken by the next change of the log directory.
    const w = Deno.watchFs(`${t.home.dir}/logs`);
    await Promise.race([
      (async () => {
        for await (const _ of w) break;
      })(),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
    w.close();
  }
}

Deno.test(
  "send to a starting Claude session types once it is ready, and returns once Claude took it",
  opts,
  async () => {
    const t = await setup();
    try {
      assert.equal((await t.get()).status, "starting");
      const sending = t.home.cli(["send", t.id, "hello there"]);
      await spool(t.spool, t.id, nowNs(), { hook_event_name: "SessionStart", source: "startup" });
      // The text goes in as a paste, then Enter on its own.
      const typed = await inputLines(t, 1);
      assert.deepEqual(typed, ["\x1b[200~hello there\x1b[201~", "\r"]);
      // Claude reports taking it: send returns 0.
      await spool(t.spool, t.id, nowNs(), {
        hook_event_name: "UserPromptSubmit",
        prompt: "hello there",
      });
      const r = await sending;
      assert.equal(r.code, 0, r.stderr);
      // In the log, the typed text comes after the status change.
      const lines = (await t.home.ok(["logs", t.id, "--json"])).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      const ready = lines.findIndex((l) => l.direction === "event" && l.status === "waiting_input");
      const first = lines.findIndex((l) => l.direction === "input");
      assert.ok(ready !== -1 && first > ready, `input at line ${first}, ready at line ${ready}`);
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test(
  "send to a Claude that never takes the prompt: Enter twice more, then exit 1 naming what is left",
  opts,
  async () => {
    const fakeHome = await Deno.makeTempDir({ prefix: "cs-user-" });
    const home = await TestHome.create({
      claude: {
        command: Deno.execPath(),
        args: ["run", "-A", "--quiet", `${ROOT}test/fixtures/stuck_prompt.ts`],
        hooks: true,
      },
    });
    const daemon = await home.startDaemon();
    try {
      const id = (await home.ok(["new", home.dir], { env: { HOME: fakeHome } })).trim();
      await spool(`${home.dir}/spool`, id, nowNs(), { hook_event_name: "SessionStart" });
      await home.ok(["wait", id, "--until", "waiting_input", "--timeout", "30"]);
      const r = await home.cli(["send", id, "please", "run", "the", "tests"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /Claude did not take the prompt: it is still in its input box \("please run the tests"\), after 3 presses of Enter/,
      );
      const input = await home.ok(["logs", id, "--direction", "input"]);
      assert.equal(input, "\x1b[200~please run the tests\x1b[201~\r\r\r");
      // Nothing else happened to the session.
      assert.equal(JSON.parse(await home.ok(["ls", "--json"]))[0].status, "waiting_input");
    } finally {
      await daemon.stop();
      await home.cleanup();
      await Deno.remove(fakeHome, { recursive: true });
    }
  },
);
