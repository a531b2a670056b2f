/**
 * End-to-end: the daemon survives abusive clients. Malformed, oversized and
 * unknown messages each get an error reply, on one connection and on many;
 * a client that never reads does not stall anyone; permissions are tight.
 */

import assert from "node:assert/strict";
import { RawClient, TestHome } from "./_harness.ts";
import { LineDecoder, MAX_MESSAGE_BYTES } from "../src/protocol.ts";
import { TIMED_OUT, within } from "../src/async.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const BAD_LINES = [
  "not json at all",
  "{",
  "[1,2,3]",
  '"a string"',
  "42",
  "null",
  '{"type":"status"}', // no id
  '{"id":{},"type":"status"}', // bad id
  '{"id":7}', // no type
  '{"id":8,"type":"no-such-request"}',
  '{"id":9,"type":"kill"}', // missing field
  '{"id":10,"type":"kill","session":123}', // wrong type
  '{"id":11,"type":"new","cwd":"relative","env":{}}',
  '{"id":12,"type":"input","session":"x","data":"***"}',
];

/** Sends `count` bad messages and returns how many error replies came back. */
async function abuse(c: RawClient, count: number): Promise<number> {
  const hello = await c.next((m) => m.type === "hello");
  assert.equal(hello.protocol, 1);
  const big = "x".repeat(MAX_MESSAGE_BYTES + 10);
  let sent = 0;
  const chunks: string[] = [];
  for (let i = 0; i < count; i++) {
    // Every 100th message is oversized (a single line over the cap).
    chunks.push(
      i % 100 === 99
        ? `{"id":${i},"type":"status","pad":"${big}"}`
        : BAD_LINES[i % BAD_LINES.length]!,
    );
    sent++;
  }
  await c.write(chunks.join("\n") + "\n");
  let errors = 0;
  while (errors < sent) {
    const m = await c.next((m) => m.type === "reply");
    assert.equal(m.ok, false, JSON.stringify(m));
    const err = m.error as { code: string; message: string };
    assert.ok(
      ["bad_json", "too_large", "bad_request", "unknown_type", "not_found"].includes(err.code),
      err.code,
    );
    assert.equal(typeof err.message, "string");
    errors++;
  }
  return errors;
}

Deno.test(
  "1000 bad messages on one connection: each gets an error, the daemon still answers",
  opts,
  async () => {
    const home = await TestHome.create();
    const daemon = await home.startDaemon();
    try {
      const c = await RawClient.connect(home.socket);
      assert.equal(await abuse(c, 1000), 1000);
      // Same connection still works.
      const st = await c.request("status", {}, "after");
      assert.equal(st.ok, true);
      assert.equal(st.id, "after");
      c.close();
      assert.match(await home.ok(["status"]), /running/);
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test("bad messages on many connections at once", opts, async () => {
  const home = await TestHome.create();
  const daemon = await home.startDaemon();
  try {
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => RawClient.connect(home.socket)),
    );
    const counts = await Promise.all(clients.map((c) => abuse(c, 1000)));
    assert.deepEqual(counts, clients.map(() => 1000));
    for (const c of clients) c.close();
    assert.match(await home.ok(["status"]), /running/);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("error replies: codes, echoed ids, unknown types named", opts, async () => {
  const home = await TestHome.create();
  const daemon = await home.startDaemon();
  try {
    const c = await RawClient.connect(home.socket);
    const r1 = await c.request("frob", {}, 1);
    assert.deepEqual(r1.error, { code: "unknown_type", message: 'unknown request type "frob"' });
    const r2 = await c.request("kill", { session: "nope" }, "two");
    assert.equal(r2.id, "two");
    assert.equal((r2.error as { code: string }).code, "not_found");
    const r3 = await c.request("wait", { session: "x", until: ["sleeping"] }, 3);
    assert.equal((r3.error as { code: string }).code, "not_found");
    await c.write('{"id":4,\n');
    const r4 = await c.next((m) => m.type === "reply");
    assert.equal(r4.id, null);
    assert.equal((r4.error as { code: string }).code, "bad_json");
    c.close();
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("a client that never reads is dropped; others are not stalled", opts, async () => {
  const home = await TestHome.create();
  const daemon = await home.startDaemon();
  try {
    const hog = await Deno.connect({ transport: "unix", path: home.socket });
    // Ask for far more replies than the backlog allows, never reading them.
    const req = new TextEncoder().encode('{"id":1,"type":"ls","all":true}\n'.repeat(2000));
    const pad = new TextEncoder().encode(`{"id":2,"type":"status","x":"${"y".repeat(1000)}"}\n`);
    const writes = (async () => {
      try {
        for (let i = 0; i < 400; i++) {
          await hog.write(req);
          await hog.write(pad);
        }
      } catch { /* dropped */ }
    })();
    // Meanwhile another client is served promptly.
    for (let i = 0; i < 5; i++) assert.match(await home.ok(["status"]), /running/);
    await writes;
    await daemon.waitForLog(/client #\d+ dropped: client not reading/);
    hog.close();
    assert.match(await home.ok(["status"]), /running/);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("permissions: home 0700, socket 0600, records 0600", opts, async () => {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", "exec sleep 1000"] },
  });
  await Deno.chmod(home.dir, 0o755);
  const daemon = await home.startDaemon();
  try {
    const id = (await home.ok(["new", home.dir])).trim();
    const mode = async (p: string) => (await Deno.lstat(p)).mode! & 0o777;
    assert.equal(await mode(home.dir), 0o700);
    assert.equal(await mode(`${home.dir}/sessions`), 0o700);
    assert.equal(await mode(`${home.dir}/logs`), 0o700);
    assert.equal(await mode(home.socket), 0o600);
    assert.equal(await mode(`${home.dir}/sessions/${id}.json`), 0o600);
    assert.equal(await mode(`${home.dir}/daemon.pid`), 0o600);
    await home.ok(["kill", id]);
    assert.equal(await mode(`${home.dir}/sessions/${id}.json`), 0o600);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test(
  "a request sent with the connection, before the greeting, is answered after it",
  opts,
  async () => {
    const home = await TestHome.create();
    const daemon = await home.startDaemon();
    try {
      const conn = await Deno.connect({ transport: "unix", path: home.socket });
      try {
        await conn.write(new TextEncoder().encode('{"id":"early","type":"ls","usage":true}\n'));
        const decoder = new LineDecoder(64 * 1024 * 1024);
        const buf = new Uint8Array(64 * 1024);
        const lines: Record<string, unknown>[] = [];
        const deadline = Date.now() + 30_000;
        while (lines.length < 2) {
          const n = await within(conn.read(buf), Math.max(0, deadline - Date.now()));
          assert.ok(n !== TIMED_OUT, "no greeting and reply within 30 s");
          assert.ok(n !== null, "the daemon closed the connection");
          for (const f of decoder.push(buf.subarray(0, n))) {
            if (f.kind === "line") lines.push(JSON.parse(f.text));
          }
        }
        assert.equal(lines[0]!.type, "hello");
        assert.equal(lines[1]!.type, "reply");
        assert.equal(lines[1]!.id, "early");
        assert.equal(lines[1]!.ok, true);
      } finally {
        conn.close();
      }
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
);
