/**
 * The screen worker: hosts one headless terminal emulator per session
 * (`_emulator.ts`), off the daemon's main thread (parsing terminal output is
 * the most CPU-hungry thing the daemon does). Messages are handled strictly
 * in order.
 *
 * Main -> worker: open, feeds (output of one or more screens, batched),
 * resize, snapshot, peek, close.
 * Worker -> main: acks (a batch that asked for it is parsed), snapshot, peek,
 * error.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { Emulator } from "./_emulator.ts";
import { COLLECT_EVERY_MS, Collector } from "./_gc.ts";
import type { ToMain, ToWorker } from "./_screen_protocol.ts";

const emulators = new Map<number, Emulator>();
let warned = false;

/**
 * While there are emulators: full collections once their garbage has grown,
 * or once they have moved many lines out of their emulators (see
 * `_gc.ts`).
 */
const collector = new Collector();
let collecting: ReturnType<typeof setInterval> | null = null;
/** Lines moved out (and left as garbage) worth a collection. */
const COLLECT_AFTER_LINES = 500;

function post(msg: ToMain): void {
  self.postMessage(msg);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    handle(msg);
  } catch (err) {
    post({ op: "error", message: `${msg.op}: ${(err as Error)?.stack ?? err}` });
  }
};

function handle(msg: ToWorker): void {
  if (msg.op === "open") {
    const em = new Emulator({
      cols: msg.cols,
      rows: msg.rows,
      scrollback: msg.scrollback,
      warn: (message) => {
        if (!warned) post({ op: "error", message });
        warned = true;
      },
      onCompact: (lines) => {
        if (lines >= COLLECT_AFTER_LINES) collector.request();
      },
    });
    emulators.set(msg.sid, em);
    collecting ??= setInterval(() => collector.check(), COLLECT_EVERY_MS);
    return;
  }
  if (msg.op === "feeds") {
    feeds(msg.sids, msg.seqs, msg.chunks, msg.ack);
    return;
  }
  const em = emulators.get(msg.sid);
  switch (msg.op) {
    case "resize":
      em?.resize(msg.cols, msg.rows);
      return;
    case "snapshot":
      if (!em) {
        post({ op: "snapshot", req: msg.req, data: "" });
        return;
      }
      // The callback runs once everything written before it is parsed.
      em.whenParsed(() => post({ op: "snapshot", req: msg.req, data: em.snapshot() }));
      return;
    case "peek":
      if (!em) {
        post({ op: "peek", req: msg.req, text: "" });
        return;
      }
      em.whenParsed(() => {
        post({ op: "peek", req: msg.req, text: em.peek(msg.ansi, msg.lines, msg.final ?? false) });
      });
      return;
    case "close":
      if (em) {
        em.dispose();
        emulators.delete(msg.sid);
      }
      if (emulators.size === 0 && collecting !== null) {
        clearInterval(collecting);
        collecting = null;
      }
      return;
  }
}

/** Writes a batch; with `ack`, one `acks` once every emulator in it has parsed its part. */
function feeds(sids: number[], seqs: number[], chunks: Uint8Array[], ack: boolean): void {
  if (!ack) {
    sids.forEach((sid, i) => emulators.get(sid)?.write(chunks[i]!));
    return;
  }
  const last = new Map<number, number>();
  let waiting = sids.length;
  const done = () => {
    if (--waiting > 0) return;
    post({ op: "acks", sids: [...last.keys()], seqs: [...last.values()] });
  };
  sids.forEach((sid, i) => {
    last.set(sid, seqs[i]!);
    const em = emulators.get(sid);
    if (em) em.write(chunks[i]!, done);
    else done();
  });
}
