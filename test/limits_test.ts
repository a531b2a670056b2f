/**
 * End-to-end: requests over the size limits fail at once with a clear
 * message instead of hanging; text up to the `send` limit is delivered
 * whole.
 */

import assert from "node:assert/strict";
import { Fifo, MAIN, RawClient, TestHome } from "./_harness.ts";
import { MAX_MESSAGE_BYTES, MAX_SEND_TEXT_BYTES, PROTOCOL_VERSION } from "../src/protocol.ts";
import { Client } from "../src/client/client.ts";
import { DaemonError } from "../src/client/errors.ts";
import { TIMED_OUT, within } from "../src/async.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Runs the CLI with `stdin` piped in; fails (and kills it) if it is not done within `ms`. */
async function cliWithStdin(
  home: TestHome,
  args: string[],
  stdin: Uint8Array,
  opts: { env?: Record<string, string>; ms?: number } = {},
): Promise<{ code: number; stderr: string; elapsedMs: number }> {
  const started = Date.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { ...home.env, ...(opts.env ?? {}) },
    clearEnv: true,
    cwd: home.dir,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // The CLI may stop reading early (and exit): a broken pipe is fine.
  const feeding = (async () => {
    const w = child.stdin.getWriter();
    try {
      for (let at = 0; at < stdin.length; at += 1 << 20) {
        await w.write(stdin.subarray(at, at + (1 << 20)));
      }
      await w.close();
    } catch { /* the CLI closed its stdin */ }
  })();
  const out = await within(child.output(), opts.ms ?? 30_000);
  if (out === TIMED_OUT) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(
      `claude-sessions ${args.join(" ")} did not finish within ${opts.ms ?? 30_000} ms`,
    );
  }
  await feeding;
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
    elapsedMs: Date.now() - started,
  };
}

/** The next reply on `c`, or a failure after 10 s. */
async function nextReply(c: RawClient): Promise<Record<string, unknown>> {
  const r = await within(c.next((m) => m.type === "reply"), 10_000);
  if (r === TIMED_OUT) throw new Error("no reply within 10 s");
  return r;
}

/** A home whose session program writes the next `bytes` bytes it reads to $OUT, then reports on $FIFO. */
async function sinkHome(bytes: number) {
  const home = await TestHome.create({
    claude: {
      command: "/bin/sh",
      args: [
        "-c",
        `stty raw -echo; head -c ${bytes} >"$OUT"; ` +
        `printf 'got=%s\\nEND\\n' "$(wc -c <"$OUT" | tr -d ' ')" >"$FIFO"; exec sleep 1000`,
      ],
    },
  });
  const daemon = await home.startDaemon();
  const fifo = await Fifo.create(home.dir);
  const id = (await home.ok(["new", home.dir], {
    env: { OUT: `${home.dir}/out`, FIFO: fifo.path },
  })).trim();
  return { home, daemon, fifo, id };
}

Deno.test("send - of 2 MB and of 30 MB fails at once with the stated limit", opts, async () => {
  const { home, daemon, fifo, id } = await sinkHome(10);
  try {
    for (const size of [2_000_000, 30_000_000]) {
      const r = await cliWithStdin(home, ["send", id, "-"], new Uint8Array(size).fill(0x61));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /too long to send: over 512\.0 KiB \(524288 bytes\)/);
      assert.match(r.stderr, /save it to a file/);
    }
    // Nothing was typed: the first bytes to arrive are the next send's.
    await home.ok(["send", id, "after-the-limit", "--no-enter"]);
    assert.deepEqual(await fifo.read(), { got: "10" });
    assert.equal(await Deno.readTextFile(`${home.dir}/out`), "after-the-");
  } finally {
    fifo.close();
    await home.cli(["kill", id]);
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("send - of just under the limit is delivered whole", opts, async () => {
  const text = "x".repeat(MAX_SEND_TEXT_BYTES - 1);
  // The text, then Enter (the program has no bracketed paste: sent as typed).
  const { home, daemon, fifo, id } = await sinkHome(text.length + 1);
  try {
    const r = await cliWithStdin(home, ["send", id, "-"], new TextEncoder().encode(text + "\n"));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fifo.read(), { got: String(text.length + 1) });
    const out = await Deno.readTextFile(`${home.dir}/out`);
    assert.equal(out, text + "\r");
  } finally {
    fifo.close();
    await home.cli(["kill", id]);
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test(
  "any request over 1 MiB fails at once in the CLI (a `new` with a huge environment)",
  opts,
  async () => {
    const home = await TestHome.create();
    const daemon = await home.startDaemon();
    try {
      // Each variable is under the kernel's per-string limit; together over 1 MiB.
      const env: Record<string, string> = {};
      for (let i = 0; i < 10; i++) env[`BIG_${i}`] = "y".repeat(120_000);
      const r = await cliWithStdin(home, ["new", home.dir], new Uint8Array(), { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /the new request is too large to send: 1\.\d MiB as JSON/);
      assert.match(r.stderr, /at most 1\.0 MiB per message/);
      assert.deepEqual(JSON.parse(await home.ok(["ls", "--all", "--json"])), []);
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "the daemon answers a too-long line under its id when the line starts with it",
  opts,
  async () => {
    const home = await TestHome.create();
    const daemon = await home.startDaemon();
    const c = await RawClient.connect(home.socket);
    try {
      const pad = "z".repeat(MAX_MESSAGE_BYTES);
      await c.write(`{"id":41,"type":"send","session":"x","text":"${pad}"}\n`);
      const r41 = await nextReply(c);
      assert.equal(r41.id, 41);
      assert.equal((r41.error as { code: string }).code, "too_large");
      await c.write(`{"id":"forty-two","type":"status","pad":"${pad}"}\n`);
      const r42 = await nextReply(c);
      assert.equal(r42.id, "forty-two");
      // Where the id comes later it cannot be known.
      await c.write(`{"type":"status","pad":"${pad}","id":43}\n`);
      const r43 = await nextReply(c);
      assert.equal(r43.id, null);
      assert.equal((r43.error as { code: string }).code, "too_large");
      // A send whose text is over the limit (the line itself fits).
      const big = "w".repeat(MAX_SEND_TEXT_BYTES + 1);
      await c.send({ id: 44, type: "send", session: "x", text: big });
      const r44 = await nextReply(c);
      assert.equal(r44.id, 44);
      assert.equal((r44.error as { code: string }).code, "too_large");
      assert.match((r44.error as { message: string }).message, /at most 524288/);
      assert.equal((await c.request("status", {}, 45)).ok, true);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "the CLI fails a request at once when the daemon answers it with id null",
  opts,
  async () => {
    // A daemon that cannot read any line: every reply names no request.
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-null-" });
    const listener = Deno.listen({ transport: "unix", path: `${dir}/s.sock` });
    const enc = new TextEncoder();
    const conns: Deno.UnixConn[] = [];
    const serving = (async () => {
      const conn = await listener.accept();
      conns.push(conn);
      await conn.write(enc.encode(
        JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, version: "x", pid: 1 }) + "\n",
      ));
      for await (const _ of conn.readable) {
        await conn.write(enc.encode(
          JSON.stringify({
            type: "reply",
            id: null,
            ok: false,
            error: { code: "too_large", message: "message too large" },
          }) + "\n",
        ));
      }
    })();
    let client: Client | null = null;
    try {
      client = await Client.connect(`${dir}/s.sock`);
      const r = await within(
        client.request("status", {}).then(() => "resolved", (e) => e),
        10_000,
      );
      assert.ok(r instanceof DaemonError, String(r));
      assert.equal(r.code, "too_large");
      assert.match(r.message, /could not read a request: message too large/);
    } finally {
      client?.close();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
);
