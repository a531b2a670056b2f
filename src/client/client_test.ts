import assert from "node:assert/strict";
import { Client } from "./client.ts";
import { ClientError, DaemonError, MissingFeaturesError, ProtocolMismatchError } from "./errors.ts";
import { LineDecoder } from "../protocol.ts";
import { TIMED_OUT, within } from "../async.ts";

const enc = new TextEncoder();

/** What a stand-in daemon does on a connection, given what it has read so far. */
type Script = (conn: Deno.UnixConn, firstLine: string | null) => Promise<void>;

/**
 * A one-connection stand-in daemon that does NOT greet first: it waits (up
 * to `waitMs`) for a line from the client, then runs `script` with it (null
 * when none came: a client that waits for the greeting).
 */
async function standIn(
  script: Script,
  waitMs = 5000,
): Promise<{ socket: string; done: Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "cs-client-" });
  const socket = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path: socket });
  const done = (async () => {
    const accepted = await within(listener.accept(), 10_000);
    listener.close();
    assert.ok(accepted !== TIMED_OUT, "the client never connected");
    const conn = accepted;
    const decoder = new LineDecoder(1024 * 1024);
    const buf = new Uint8Array(64 * 1024);
    let line: string | null = null;
    const deadline = Date.now() + waitMs;
    while (line === null && Date.now() < deadline) {
      const n = await within(conn.read(buf), Math.max(0, deadline - Date.now()));
      if (n === TIMED_OUT || n === null) break;
      for (const f of decoder.push(buf.subarray(0, n))) {
        if (f.kind === "line") line ??= f.text;
      }
    }
    try {
      await script(conn, line);
    } finally {
      conn.close();
      await Deno.remove(dir, { recursive: true });
    }
  })();
  return { socket, done };
}

const send = (conn: Deno.UnixConn, msg: unknown) =>
  conn.write(enc.encode(JSON.stringify(msg) + "\n"));
const hello = (extra: Record<string, unknown> = {}) => ({
  type: "hello",
  protocol: 1,
  version: "9.9.9",
  pid: 1,
  features: ["tags"],
  ...extra,
});

Deno.test("first: the request goes with the connection, before the greeting; first() is its reply", async () => {
  let got: Record<string, unknown> | null = null;
  const d = await standIn(async (conn, line) => {
    got = line === null ? null : JSON.parse(line);
    await send(conn, hello());
    await send(conn, { type: "reply", id: 1, ok: true, result: { sessions: [], shortLength: 8 } });
    // The next request gets the next id.
    const more = new Uint8Array(1024);
    const n = await within(conn.read(more), 10_000);
    assert.ok(n !== TIMED_OUT, "no second request");
    const next = JSON.parse(new TextDecoder().decode(more.subarray(0, n ?? 0)));
    await send(conn, { type: "reply", id: next.id, ok: true, result: { next: next.id } });
  });
  const c = await Client.connect(d.socket, {
    first: { type: "ls", params: { all: true, usage: true } },
  });
  try {
    assert.deepEqual(got, { id: 1, type: "ls", all: true, usage: true });
    assert.deepEqual(await c.first("ls"), { sessions: [], shortLength: 8 });
    // Not what was sent first.
    await assert.rejects(c.first("status"), ClientError);
    assert.deepEqual(await c.request("status", {}), { next: 2 });
  } finally {
    c.close();
    await d.done;
  }
});

Deno.test("first: a daemon of another protocol version fails the connection; its reply is not used", async () => {
  const d = await standIn(async (conn, line) => {
    assert.ok(line !== null, "the request came before the greeting");
    await send(conn, hello({ protocol: 2 }));
    await send(conn, { type: "reply", id: 1, ok: true, result: { sessions: [], shortLength: 8 } });
  });
  await assert.rejects(
    Client.connect(d.socket, { first: { type: "ls", params: {} } }),
    ProtocolMismatchError,
  );
  await d.done;
});

Deno.test("first: a feature the caller requires is missing: the connection fails, the reply unused", async () => {
  const d = await standIn(async (conn, line) => {
    assert.ok(line !== null, "the request came before the greeting");
    await send(conn, hello({ features: [] }));
    await send(conn, { type: "reply", id: 1, ok: true, result: { sessions: [], shortLength: 8 } });
  });
  await assert.rejects(
    Client.connect(d.socket, { require: ["tags"], first: { type: "ls", params: { tag: "x" } } }),
    MissingFeaturesError,
  );
  await d.done;
});

Deno.test("first: a refused connection (forbidden) fails with the daemon's reason", async () => {
  const d = await standIn(async (conn) => {
    await send(conn, {
      type: "reply",
      id: null,
      ok: false,
      error: { code: "forbidden", message: "not yours" },
    });
  });
  await assert.rejects(
    Client.connect(d.socket, { first: { type: "ls", params: {} } }),
    (e: unknown) => e instanceof DaemonError && /not yours/.test(e.message),
  );
  await d.done;
});

Deno.test("first: its error reply is first()'s error; without first, the client waits for the greeting", async () => {
  const d = await standIn(async (conn, line) => {
    assert.ok(line !== null);
    await send(conn, hello());
    await send(conn, {
      type: "reply",
      id: 1,
      ok: false,
      error: { code: "bad_request", message: "no" },
    });
  });
  const c = await Client.connect(d.socket, { first: { type: "ls", params: {} } });
  await assert.rejects(
    c.first("ls"),
    (e: unknown) => e instanceof DaemonError && e.code === "bad_request",
  );
  c.close();
  await d.done;
  // A plain connection sends nothing before the greeting (the stand-in waits, then greets).
  let early: string | null = "unset";
  const plain = await standIn(async (conn, line) => {
    early = line;
    await send(conn, hello());
  }, 300);
  const p = await Client.connect(plain.socket);
  assert.equal(early, null);
  await assert.rejects(p.first("ls"), ClientError);
  p.close();
  await plain.done;
});
