/**
 * The keystroke echo's hops, each measured alone (bench/results/profile-notes.md,
 * "Echo", says what they showed):
 *
 * - `daemon`: the daemon's side of an echo — a binary input frame written to
 *   its socket until the echo's binary output frame is back — from a client
 *   that blocks in read(2) (no event loop of its own), against a session
 *   running `stty raw -echo; exec cat`;
 * - `wake`: a thread blocked in poll(2) (as the PTY reactor is) woken by a
 *   pipe, waking an idle main thread: by `postMessage`, or through shared
 *   memory and `Atomics.waitAsync` (the reactor's lane);
 * - `socket`: a Deno client's round trip to a `node:net` echo server in
 *   another process, reading through the connection's `ReadableStream` or
 *   with `conn.read` (the attach client's way).
 *
 *   deno run -A bench/echo_hops.ts [daemon|wake|socket …] [--keys N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as net from "node:net";
import { withDaemon } from "./_daemon.ts";
import { libc, wakePipe } from "../src/daemon/_platform.ts";
import {
  BINARY_HEADER_BYTES,
  BINARY_INPUT,
  BINARY_OUTPUT,
  encodeBinaryFrame,
} from "../src/protocol.ts";
import { quantile } from "./_lib.ts";

const args = parseArgs({
  args: Deno.args,
  options: { keys: { type: "string" }, serve: { type: "string" } },
  allowPositionals: true,
});
const keys = Number(args.values.keys ?? 2000);

function report(what: string, ms: number[]): void {
  const f = (q: number) => quantile(ms, q).toFixed(3);
  console.log(`${what}: p50 ${f(0.5)}  p90 ${f(0.9)}  p99 ${f(0.99)} ms (n=${ms.length})`);
}

// --- daemon -------------------------------------------------------------------

const SOCK = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/** A blocking protocol client: reads lines and frames with read(2). */
class BlockingClient {
  #s = Deno.dlopen("libc.so.6", SOCK).symbols;
  #fd: number;
  #buf = new Uint8Array(1 << 20);
  #have = 0;

  constructor(path: string) {
    const addr = new Uint8Array(110);
    new DataView(addr.buffer).setUint16(0, 1, true); // AF_UNIX
    addr.set(new TextEncoder().encode(path), 2);
    this.#fd = this.#s.socket(1, 1, 0);
    if (this.#s.connect(this.#fd, addr, addr.length) !== 0) throw new Error("connect failed");
  }

  write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const n = Number(this.#s.write(this.#fd, bytes.subarray(at), BigInt(bytes.length - at)));
      if (n <= 0) throw new Error("write failed");
      at += n;
    }
  }

  /** The next line (without its newline) or frame (`kind`, payload). */
  next(): { line: string } | { kind: number; data: Uint8Array } {
    while (true) {
      const b = this.#buf.subarray(0, this.#have);
      let end = -1;
      if (b.length > 0 && b[0] === 0 && b.length >= BINARY_HEADER_BYTES) {
        const len = new DataView(b.buffer, b.byteOffset).getUint32(6);
        if (b.length >= BINARY_HEADER_BYTES + len) end = BINARY_HEADER_BYTES + len;
      } else if (b.length > 0 && b[0] !== 0) {
        const nl = b.indexOf(10);
        if (nl >= 0) end = nl + 1;
      }
      if (end >= 0) {
        const item = b.slice(0, end);
        this.#buf.copyWithin(0, end, this.#have);
        this.#have -= end;
        return item[0] === 0
          ? { kind: item[1]!, data: item.subarray(BINARY_HEADER_BYTES) }
          : { line: new TextDecoder().decode(item.subarray(0, -1)) };
      }
      const n = Number(
        this.#s.read(
          this.#fd,
          this.#buf.subarray(this.#have),
          BigInt(this.#buf.length - this.#have),
        ),
      );
      if (n <= 0) throw new Error("the daemon closed the connection");
      this.#have += n;
    }
  }

  close(): void {
    this.#s.close(this.#fd);
  }
}

async function daemonSide(): Promise<void> {
  await withDaemon({ log: { enabled: true } }, async (d) => {
    const id = await d.start("stty raw -echo; exec cat", { cols: 100, rows: 30 });
    await d.request("wait", { session: id, until: ["running"] });
    const c = new BlockingClient(d.home.socket);
    try {
      c.next(); // the greeting
      const sub = 7;
      c.write(new TextEncoder().encode(
        JSON.stringify({
          id: sub,
          type: "attach",
          session: id,
          binary: true,
          cols: 100,
          rows: 30,
        }) +
          "\n",
      ));
      while (true) {
        const m = c.next();
        if ("line" in m && JSON.parse(m.line).type === "reply") break;
      }
      const echo = (ch: number) => {
        c.write(encodeBinaryFrame(BINARY_INPUT, sub, new Uint8Array([ch])));
        while (true) {
          const m = c.next();
          if ("kind" in m && m.kind === BINARY_OUTPUT && m.data.includes(ch)) return;
        }
      };
      for (let i = 0; i < 50; i++) echo(0x51); // warm up
      const ms: number[] = [];
      for (let i = 0; i < keys; i++) {
        const t0 = performance.now();
        echo(0x61 + (i % 26));
        ms.push(performance.now() - t0);
      }
      report("daemon side, input frame to echo frame (blocking client)", ms);
    } finally {
      c.close();
    }
  });
}

// --- wake ---------------------------------------------------------------------

/** The worker: blocks in poll on a pipe; per byte, wakes the main thread one way. */
const WORKER = `
  import { libc, POLL } from ${
  JSON.stringify(new URL("../src/daemon/_platform.ts", import.meta.url).href)
};
  self.onmessage = (e) => {
    self.onmessage = null;
    const { fd, sab } = e.data;
    const s = libc();
    const pfd = new Uint8Array(8);
    const v = new DataView(pfd.buffer);
    const buf = new Uint8Array(64);
    const ints = sab ? new Int32Array(sab) : null;
    while (true) {
      v.setInt32(0, fd, true);
      v.setInt16(4, POLL.IN, true);
      v.setInt16(6, 0, true);
      s.pollSync(pfd, 1n, -1);
      if (Number(s.read(fd, buf, 64n)) <= 0) continue;
      if (ints) {
        Atomics.add(ints, 0, 1);
        Atomics.notify(ints, 0);
      } else {
        const out = buf.slice(0, 1);
        self.postMessage(out, [out.buffer]);
      }
    }
  };
`;

async function wake(way: "postMessage" | "Atomics.waitAsync"): Promise<void> {
  const [r, w] = wakePipe();
  const url = URL.createObjectURL(new Blob([WORKER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  let woke: (() => void) | null = null;
  let waitNext: () => Promise<void>;
  if (way === "postMessage") {
    worker.onmessage = () => woke?.();
    worker.postMessage({ fd: r });
    waitNext = () => new Promise<void>((res) => (woke = res));
  } else {
    const ints = new Int32Array(new SharedArrayBuffer(4));
    worker.postMessage({ fd: r, sab: ints.buffer });
    let seen = 0;
    waitNext = async () => {
      while (Atomics.load(ints, 0) === seen) {
        const res = Atomics.waitAsync(ints, 0, seen);
        if (res.async) await res.value;
      }
      seen = Atomics.load(ints, 0);
    };
  }
  const s = libc();
  const one = new Uint8Array([1]);
  const ms: number[] = [];
  const n = Math.min(keys, 2000);
  for (let i = 0; i < n; i++) {
    // The main thread idles 1 ms first, as between keystrokes.
    await new Promise((res) => setTimeout(res, 1));
    const p = waitNext();
    const t0 = performance.now();
    s.write(w, one, 1n);
    await p;
    ms.push(performance.now() - t0);
  }
  // The worker cannot be stopped inside poll(2): its pipe stays open (were
  // its number reused, the old worker would take the next pipe's bytes).
  worker.terminate();
  report(`poll thread to idle main thread, ${way}`, ms);
}

// --- socket -------------------------------------------------------------------

/** `--serve PATH`: a node:net echo server (run in its own process). */
async function serve(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
  const server = net.createServer((sock) => sock.on("data", (d) => sock.write(d)));
  await new Promise<void>((r) => server.listen(path, () => r()));
  console.log("ready");
}

async function socket(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cs-hops-" });
  const path = `${dir}/echo.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve", path],
    stdout: "piped",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    reader.releaseLock();
    for (const way of ["ReadableStream", "conn.read"] as const) {
      const conn = await Deno.connect({ transport: "unix", path });
      const msg = new Uint8Array(11).fill(0x61);
      const buf = new Uint8Array(64 * 1024);
      const streamReader = way === "ReadableStream" ? conn.readable.getReader() : null;
      const ms: number[] = [];
      for (let i = 0; i < keys; i++) {
        const t0 = performance.now();
        await conn.write(msg);
        if (streamReader) await streamReader.read();
        else await conn.read(buf);
        ms.push(performance.now() - t0);
      }
      streamReader?.releaseLock();
      conn.close();
      report(`socket round trip to node:net in another process, reading with ${way}`, ms);
    }
  } finally {
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

if (args.values.serve) {
  await serve(args.values.serve);
} else {
  const which = args.positionals.length ? args.positionals : ["daemon", "wake", "socket"];
  for (const w of which) {
    if (w === "daemon") await daemonSide();
    else if (w === "wake") {
      await wake("postMessage");
      await wake("Atomics.waitAsync");
    } else if (w === "socket") await socket();
    else throw new Error(`unknown measurement ${w}: daemon, wake or socket`);
  }
  Deno.exit(0);
}
