/**
 * End-to-end: names and conversations are claimed when a request arrives.
 * Requests pipelined on one connection (the daemon starts handling each
 * before the previous one finished) cannot make two live sessions share a
 * name or a conversation, nor resume one session twice. A stand-in program
 * is enough here: this is about the daemon's bookkeeping, not Claude.
 */

import assert from "node:assert/strict";
import { RawClient, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const CONV = "0b5e7a52-58a4-4a7e-9d0e-6d1f3f0c9a11";

/** Sends every request in one write, then collects each one's reply. */
async function pipelined(
  c: RawClient,
  requests: Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  await c.write(requests.map((r, i) => JSON.stringify({ ...r, id: i }) + "\n").join(""));
  return await Promise.all(
    requests.map((_, i) => c.next((m) => m.type === "reply" && m.id === i)),
  );
}

function codes(replies: Record<string, unknown>[]): string[] {
  return replies.map((r) => r.ok ? "ok" : (r.error as { code: string }).code).sort();
}

/** The environment a `new` request carries. */
const ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };

/**
 * Runs `fn` against a daemon whose program ignores its arguments and sleeps
 * (a script: `sh -c` would have its `-c` taken for --continue on resume),
 * then stops every session, the daemon, and removes the home.
 */
async function withDaemon(fn: (home: TestHome, c: RawClient) => Promise<void>): Promise<void> {
  const home = await TestHome.create();
  const script = `${home.dir}/sleeper.sh`;
  await Deno.writeTextFile(script, "#!/bin/sh\nexec sleep 1000\n", { mode: 0o755 });
  await home.writeConfig({ claude: { command: script } });
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  try {
    await fn(home, c);
  } finally {
    c.close();
    for (const s of await live(home).catch(() => [])) await home.cli(["kill", s.id]);
    await daemon.stop();
    await home.cleanup();
  }
}

async function live(home: TestHome): Promise<SessionRecord[]> {
  return JSON.parse(await home.ok(["ls", "--json"]));
}

Deno.test("ten pipelined `new --name dup`: one session, nine conflicts", opts, async () => {
  await withDaemon(async (home, c) => {
    const replies = await pipelined(
      c,
      Array.from({ length: 10 }, () => ({ type: "new", cwd: home.dir, name: "dup", env: ENV })),
    );
    assert.deepEqual(codes(replies), ["conflict", ...Array(8).fill("conflict"), "ok"].sort());
    const sessions = await live(home);
    assert.equal(sessions.filter((s) => s.name === "dup").length, 1);
    for (const r of replies.filter((r) => !r.ok)) {
      assert.match((r.error as { message: string }).message, /the name "dup" is taken/);
    }
  });
});

Deno.test(
  "ten pipelined `new --session-id SAME`: one live process on the conversation",
  opts,
  async () => {
    await withDaemon(async (home, c) => {
      const replies = await pipelined(
        c,
        Array.from({ length: 10 }, () => ({
          type: "new",
          cwd: home.dir,
          sessionId: CONV,
          env: ENV,
        })),
      );
      assert.deepEqual(codes(replies), ["conflict", ...Array(8).fill("conflict"), "ok"].sort());
      const sessions = await live(home);
      assert.equal(sessions.filter((s) => s.conversationId === CONV).length, 1);
    });
  },
);

Deno.test(
  "five pipelined resumes of one session: one new process; its conversation stays claimed",
  opts,
  async () => {
    await withDaemon(async (home, c) => {
      const id = (await home.ok(["new", home.dir, "--session-id", CONV])).trim();
      await home.ok(["kill", id]);
      const resumes = await pipelined(
        c,
        Array.from({ length: 5 }, () => ({ type: "resume", session: id })),
      );
      assert.deepEqual(codes(resumes), [...Array(4).fill("invalid_state"), "ok"]);
      const rec = JSON.parse(await home.ok(["ls", "--all", "--json"])) as SessionRecord[];
      assert.equal(rec.length, 1);
      assert.equal(rec[0]!.runs.length, 2, "resumed once");
      assert.equal(rec[0]!.runs.filter((r) => r.ended === null).length, 1, JSON.stringify(rec[0]));

      // While it runs, a new session for its conversation is refused.
      const more = await pipelined(c, [{ type: "new", cwd: home.dir, resume: CONV, env: ENV }]);
      assert.deepEqual(codes(more), ["conflict"]);
      assert.equal((await live(home)).length, 1);
    });
  },
);
