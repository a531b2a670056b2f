/**
 * Stress: 50 000 random and garbage protocol lines (some huge) over several
 * connections. The daemon answers every line that is one, never dies, and
 * its RSS stays within the documented bound through the run.
 */

import assert from "node:assert/strict";
import { RawClient, TestHome } from "../test/_harness.ts";
import { report, RssSampler, scaled, stressOpts } from "./_stress.ts";
import { MEMORY } from "../src/daemon/limits.ts";
import { BINARY_FRAME_MARK, encodeBinaryFrame } from "../src/protocol.ts";

const LINES = scaled(50_000, 500);
const CONNECTIONS = 8;
const MiB = 1024 * 1024;

/** A deterministic pseudo-random generator (the run can be repeated). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const TYPES = [
  "status",
  "ls",
  "get",
  "peek",
  "input",
  "resize",
  "send",
  "attach",
  "detach",
  "redraw",
  "events",
  "wait",
  "new",
  "nope",
  "",
];

/** One fuzz line, and whether the daemon owes it a reply. */
function line(r: (n: number) => number, i: number): { bytes: Uint8Array; reply: boolean } {
  const enc = new TextEncoder();
  const k = r(100);
  if (k < 3) {
    // A well-formed binary frame of any kind, for an attachment that does not
    // exist: ignored (and logged), no reply.
    const data = new Uint8Array(r(400));
    for (let j = 0; j < data.length; j++) data[j] = r(256);
    return { bytes: encodeBinaryFrame(r(256), r(1000), data), reply: false };
  }
  if (k < 25) {
    // Random bytes (no newline inside), not starting a binary frame (a
    // leading NUL byte is a frame header: see the case above).
    const b = new Uint8Array(1 + r(400));
    for (let j = 0; j < b.length; j++) {
      const v = r(256);
      b[j] = v === 10 ? 32 : v;
    }
    if (b[0] === 10 || b[0] === BINARY_FRAME_MARK) b[0] = 32;
    const blank = new TextDecoder().decode(b).trim() === "";
    return { bytes: concat(b, enc.encode("\n")), reply: !blank };
  }
  if (k < 27) {
    // Huge: over the line limit (discarded up to the newline, one error reply).
    const size = 1 * MiB + r(6 * MiB);
    const b = new Uint8Array(size + 1).fill(0x61);
    b[size] = 10;
    return { bytes: b, reply: true };
  }
  if (k < 29) {
    // Large but legal: a request with a big string field.
    const text = "x".repeat(r(900 * 1024));
    return {
      bytes: enc.encode(JSON.stringify({ id: i, type: "send", session: "nope", text }) + "\n"),
      reply: true,
    };
  }
  // A JSON object, more or less a request.
  const msg: Record<string, unknown> = { id: r(10) === 0 ? null : i, type: TYPES[r(TYPES.length)] };
  const junk = [null, 1, -1, 1e308, "x", "", [], {}, true, "/", "../..", "\u0000"];
  for (
    const f of [
      "session",
      "cwd",
      "env",
      "cols",
      "rows",
      "data",
      "text",
      "keys",
      "until",
      "timeout",
      "lines",
    ]
  ) {
    if (r(3) === 0) msg[f] = junk[r(junk.length)];
  }
  if (msg.type === "new") msg.cwd = "relative/dir"; // never starts anything
  if (msg.type === "wait" || msg.type === "events" || msg.type === "attach") {
    msg.session = "no-such-session";
  }
  const text = JSON.stringify(msg);
  return { bytes: enc.encode(text + "\n"), reply: true };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test(`fuzz: ${LINES} random protocol lines, RSS within the bound`, stressOpts, async () => {
  const home = await TestHome.create({ claude: { command: "/bin/true" } });
  const daemon = await home.startDaemon();
  const rss = new RssSampler(daemon.pid, 25);
  const start = rss.sample()!;
  try {
    const t0 = Date.now();
    let sent = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
      const r = rng(1234 + c);
      const client = await RawClient.connect(home.socket);
      try {
        await client.next((m) => m.type === "hello");
        // Pipelined, as a fuzzer does: lines go out as fast as the socket
        // takes them while the replies are read alongside.
        let owed = 0;
        let got = 0;
        let ended = false;
        const reading = (async () => {
          // Until the reply to the closing request, then every reply owed.
          while (!ended || got < owed) {
            const m = await client.next((m) => m.type === "reply");
            if (m.id === "fuzz-end") ended = true;
            else got++;
          }
        })();
        for (let i = c; i < LINES; i += CONNECTIONS) {
          const l = line(r, i);
          await client.write(l.bytes);
          sent += l.bytes.length;
          if (l.reply) owed++;
        }
        await client.send({ id: "fuzz-end", type: "status" });
        await reading;
        // Still serving on this connection.
        const st = await client.request("status");
        assert.equal(st.ok, true);
      } finally {
        client.close();
      }
    }));
    const ms = Date.now() - t0;
    const after = rss.sample()!;
    report("fuzz lines", `${LINES} (${(sent / MiB).toFixed(0)} MiB) in ${ms} ms`);
    report(
      "fuzz RSS",
      `start ${start.toFixed(0)} MiB, peak ${rss.peak.toFixed(0)} MiB, end ${after.toFixed(0)} MiB`,
    );
    assert.ok(
      rss.peak < MEMORY.fuzzPeakMiB,
      `peak RSS ${rss.peak.toFixed(0)} MiB over the documented ${MEMORY.fuzzPeakMiB} MiB`,
    );
    assert.equal((await daemon.stop()).code, 0);
  } finally {
    rss.stop();
    await daemon.stop();
    await home.cleanup();
  }
});
