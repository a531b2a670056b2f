import assert from "node:assert/strict";
import { Session, type SessionHost } from "./session.ts";
import type { SessionEvent, SessionRecord } from "../protocol.ts";
import { testRecord } from "../_test_record.ts";
import { deferred, TIMED_OUT, within } from "../async.ts";
import { PTY_QUIET_TICK_MS } from "./limits.ts";

/** A record of a session about to start (80×24, here). */
function startingRecord(): SessionRecord {
  return testRecord({
    statusSince: new Date().toISOString(),
    runs: [],
    status: "starting",
    cwd: Deno.cwd(),
    cols: 80,
    rows: 24,
  } as Partial<SessionRecord>);
}

/** A host that records what the session tells it; `over` replaces any part. */
function testHost(events: SessionEvent[], over: Partial<SessionHost> = {}): SessionHost {
  return {
    save: () => {},
    emit: (ev) => events.push(ev),
    graceSeconds: () => 1,
    scrollback: () => 100,
    log: () => {},
    ...over,
  };
}

function setup(over: Partial<SessionRecord> = {}) {
  const events: SessionEvent[] = [];
  const host = testHost(events);
  const rec = testRecord({ statusSince: new Date().toISOString(), runs: [], ...over });
  return { s: new Session(rec, host), rec, events };
}

Deno.test("observe: what changes no status is told as `updated`; nothing new, nothing told", () => {
  const { s, rec, events } = setup();
  s.observe({
    source: "hook",
    at: Date.now(),
    status: null,
    event: "SubagentStart",
    backgroundTasks: 2,
  });
  assert.deepEqual(events.map((e) => e.event), ["updated"]);
  assert.equal(rec.backgroundTasks, 2);
  assert.equal(events[0]!.status, "running");
  s.observe({ source: "hook", at: Date.now(), status: null, event: "PreToolUse" });
  assert.equal(events.length, 1, "an observation that changes nothing");
});

Deno.test("observe: details of a permission wait arriving later are told as `updated`", () => {
  const { s, rec, events } = setup({
    status: "waiting_permission",
    waitingFor: { kind: "permission" },
  } as Partial<SessionRecord>);
  s.observe({
    source: "hook",
    at: Date.now(),
    status: null,
    event: "Notification",
    waitingFor: { kind: "permission", tool: "Bash", input: "touch x" },
  });
  assert.deepEqual(events.map((e) => e.event), ["updated"]);
  assert.deepEqual(rec.waitingFor, { kind: "permission", tool: "Bash", input: "touch x" });
  // A status change is told once, as `status` (its record tells the rest).
  s.observe({ source: "hook", at: Date.now(), status: "running", event: "PostToolUse" });
  assert.deepEqual(events.map((e) => e.event), ["updated", "status"]);
});

Deno.test({
  name: "hibernation: the last screen is kept before anyone hears the session is hibernated",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const events: SessionEvent[] = [];
    let keptAt = 0;
    const host = testHost(events, {
      settle: () => Promise.resolve(),
      // A slow disk: the write ends well after the program did.
      keepScreen: async (_id, screen) => {
        assert.match(screen.plain.join("\n"), /about to hibernate/);
        await new Promise((r) => setTimeout(r, 300));
        keptAt = performance.now();
      },
    });
    const rec = startingRecord();
    const s = new Session(rec, host);
    const seen = new Promise<void>((resolve) => {
      const off = s.onOutput((chunk) => {
        if (new TextDecoder().decode(chunk).includes("about to hibernate")) {
          off();
          resolve();
        }
      });
    });
    s.start({
      command: "/bin/sh",
      args: ["-c", "echo about to hibernate; exec sleep 30"],
      env: { PATH: "/usr/bin:/bin" },
    });
    const r = await within(seen, 10_000);
    assert.notEqual(r, TIMED_OUT, "the program's output did not come");
    await within(s.kill("hibernated"), 10_000);
    const told = events.find((e) => e.event === "exited");
    assert.ok(told, "the end was told");
    assert.equal(told.status, "hibernated");
    assert.ok(keptAt > 0, "said hibernated before its last screen was kept");
  },
});

Deno.test({
  name: "onOutput: a `first` listener hears each chunk before the others, even registered after",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const logged: string[] = [];
    const host = testHost([], { log: (msg) => logged.push(msg) });
    const rec = startingRecord();
    const s = new Session(rec, host);
    const heard: string[] = [];
    const dec = new TextDecoder();
    const done = Promise.withResolvers<void>();
    let text = "";
    s.onOutput((chunk) => {
      heard.push("other");
      text += dec.decode(chunk);
      if (text.includes("the-end")) done.resolve();
    });
    s.onOutput(() => heard.push("first"), true);
    s.onOutput(() => {
      throw new Error("a failing first listener");
    }, true);
    s.start({
      command: "/bin/sh",
      args: ["-c", "echo the-end; exec sleep 30"],
      env: { PATH: "/usr/bin:/bin" },
    });
    try {
      assert.notEqual(await within(done.promise, 10_000), TIMED_OUT, "no output came");
      assert.ok(heard.length >= 2);
      for (let i = 0; i < heard.length; i += 2) {
        assert.deepEqual(heard.slice(i, i + 2), ["first", "other"]);
      }
      assert.ok(logged.some((l) => l.includes("a failing first listener")), logged.join("\n"));
    } finally {
      await within(s.kill("killed"), 10_000);
    }
  },
});

/**
 * Runs a program that prints 60 lines 10 ms apart in a session (watched or
 * not) and counts the chunks its output came in, and over how long.
 */
async function trickle(watch: boolean): Promise<{ chunks: number; ms: number; text: string }> {
  const s = new Session(startingRecord(), testHost([]));
  let chunks = 0;
  let first = 0;
  let last = 0;
  let text = "";
  const done = deferred();
  s.onOutput((chunk) => {
    const now = performance.now();
    if (chunks++ === 0) first = now;
    last = now;
    text += new TextDecoder().decode(chunk);
    if (text.includes("line59")) done.resolve();
  });
  s.start({
    command: "/bin/sh",
    args: [
      "-c",
      "i=0; while [ $i -lt 60 ]; do echo line$i; sleep 0.01; i=$((i+1)); done; exec sleep 30",
    ],
    env: { PATH: "/usr/bin:/bin" },
  });
  if (watch) s.watch(); // as a client attaching to a running session
  const r = await within(done.promise, 30_000);
  await within(s.kill(), 10_000);
  assert.notEqual(r, TIMED_OUT, `the output did not all come: ${text}`);
  return { chunks, ms: last - first, text };
}

Deno.test({
  name: "watch: a watched session's trickling output is read as it comes; unwatched, once a tick",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bound = (ms: number) => Math.floor(ms / PTY_QUIET_TICK_MS) + 3;
    const quiet = await trickle(false);
    assert.ok(quiet.chunks <= bound(quiet.ms), `unwatched: ${quiet.chunks} in ${quiet.ms} ms`);
    const watched = await trickle(true);
    assert.ok(watched.chunks > bound(watched.ms), `watched: ${watched.chunks} in ${watched.ms} ms`);
  },
});
