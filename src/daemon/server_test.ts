import assert from "node:assert/strict";
import { Server } from "./server.ts";
import { LineDecoder } from "../protocol.ts";

/** Connects, sends one request, and returns every message until the server closes (or 10 s). */
async function talk(socket: string): Promise<Record<string, unknown>[]> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  await conn.write(new TextEncoder().encode('{"id":1,"type":"ping"}\n'));
  const out: Record<string, unknown>[] = [];
  const d = new LineDecoder();
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    for await (const chunk of conn.readable) {
      for (const f of d.push(chunk)) if (f.kind === "line") out.push(JSON.parse(f.text));
      if (out.some((m) => m.type === "reply")) break;
    }
  } catch { /* closed */ }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed */ }
  return out;
}

async function serve(ownerUid: number, fn: (socket: string, logged: string[]) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cs-srv-" });
  const logged: string[] = [];
  const server = new Server(
    new Map([["ping", () => ({ pong: true })]]),
    (m) => logged.push(m),
    ownerUid,
  );
  await server.listen({ kind: "path", path: `${dir}/s.sock` });
  server.open();
  try {
    await fn(`${dir}/s.sock`, logged);
  } finally {
    server.stopAccepting();
    await server.closeClients();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the server serves its owner's connections", async () => {
  await serve(Deno.uid()!, async (socket, logged) => {
    const msgs = await talk(socket);
    assert.equal(msgs[0]?.type, "hello");
    assert.deepEqual(msgs[1], { type: "reply", id: 1, ok: true, result: { pong: true } });
    assert.deepEqual(logged, []);
  });
});

Deno.test("the server refuses a peer of another uid: one forbidden reply, no hello, a log line", async () => {
  const other = Deno.uid() === 4242 ? 4243 : 4242;
  await serve(other, async (socket, logged) => {
    const msgs = await talk(socket);
    assert.equal(msgs.length, 1, JSON.stringify(msgs));
    assert.equal(msgs[0]!.id, null);
    assert.equal((msgs[0]!.error as { code: string }).code, "forbidden");
    assert.match(
      (msgs[0]!.error as { message: string }).message,
      new RegExp(`it is from uid ${Deno.uid()}; it serves only its own user \\(uid ${other}\\)`),
    );
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, new RegExp(`^refused a connection from .*uid ${Deno.uid()}`));
  });
});
