import assert from "node:assert/strict";
import * as net from "node:net";
import { NodeLink } from "./_link.ts";

/** A NodeLink on an accepted socket, and the client end (a Deno connection). */
async function pair(): Promise<{ link: NodeLink; client: Deno.UnixConn; done: () => void }> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const accepted = Promise.withResolvers<net.Socket>();
  const server = net.createServer((s) => accepted.resolve(s));
  await new Promise<void>((r) => server.listen(path, () => r()));
  const client = await Deno.connect({ transport: "unix", path });
  const link = new NodeLink(await accepted.promise);
  return {
    link,
    client,
    done: () => {
      link.close();
      try {
        client.close();
      } catch { /* closed */ }
      server.close();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(out.subarray(at));
    if (got === null) throw new Error(`ended after ${at} of ${n} bytes`);
    at += got;
  }
  return out;
}

Deno.test("NodeLink: a small send while nothing is queued reaches the kernel in the same turn", async () => {
  const { link, client, done } = await pair();
  try {
    link.send(new TextEncoder().encode("echo"));
    // Not queued in node:net (whose writes finish in a later turn): already sent.
    assert.equal(link.buffered, 0);
    assert.equal(link.written, 4);
    assert.equal(new TextDecoder().decode(await readBytes(client, 4)), "echo");
  } finally {
    done();
  }
});

Deno.test("NodeLink: what node:net still holds is never overtaken by a later send", async () => {
  const { link, client, done } = await pair();
  try {
    // More than the socket's buffers take: the rest waits in node:net.
    const big = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    link.send(big);
    assert.ok(link.buffered > 0, "the client reads nothing yet: some must be queued");
    // Room in the kernel again, though not enough for node:net to be told so
    // (a unix socket wakes its writer only once ¾ of its buffer is free):
    // a direct write now would be taken, ahead of what node:net holds.
    const head = await readBytes(client, 64 * 1024);
    link.send(new TextEncoder().encode("END"));
    const got = new Uint8Array(big.length + 3);
    got.set(head);
    got.set(await readBytes(client, got.length - head.length), head.length);
    assert.deepEqual(got.subarray(0, big.length), big);
    assert.equal(new TextDecoder().decode(got.subarray(big.length)), "END");
    await link.drained();
    assert.equal(link.written, big.length + 3);
  } finally {
    done();
  }
});
