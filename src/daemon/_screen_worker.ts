/**
 * The screen worker: hosts one headless terminal emulator per session, off
 * the daemon's main thread (parsing terminal output is the most CPU-hungry
 * thing the daemon does). Messages are handled strictly in order.
 *
 * Main -> worker: open, feed, resize, snapshot, peek, close.
 * Worker -> main: ack (a fed chunk is parsed), snapshot, peek, error.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

// The package's "module" field names a file it does not ship, which bundlers
// follow; import its CommonJS entry ("main") by path instead.
// @ts-types="@xterm/headless/typings/xterm-headless.d.ts"
import xterm from "@xterm/headless/lib-headless/xterm-headless.js";
import { SerializeAddon } from "@xterm/addon-serialize";
import type { Terminal as TerminalType } from "@xterm/headless";
import { ModeTracker } from "./_modes.ts";
import type { ToMain, ToWorker } from "./_screen_protocol.ts";

// A CommonJS module: the class is a property of its default export.
const { Terminal } = xterm as unknown as { Terminal: typeof TerminalType };

interface Emulator {
  term: TerminalType;
  serializer: SerializeAddon;
  modes: ModeTracker;
}

const emulators = new Map<number, Emulator>();

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
    const term = new Terminal({
      cols: msg.cols,
      rows: msg.rows,
      scrollback: msg.scrollback,
      allowProposedApi: true,
      // Never log: binary output would make it report a parse error per byte.
      logLevel: "off",
    });
    const serializer = new SerializeAddon();
    term.loadAddon(serializer);
    emulators.set(msg.sid, { term, serializer, modes: new ModeTracker() });
    return;
  }
  const em = emulators.get(msg.sid);
  switch (msg.op) {
    case "feed": {
      if (!em) {
        post({ op: "ack", sid: msg.sid, seq: msg.seq });
        return;
      }
      em.modes.feed(msg.chunk);
      em.term.write(msg.chunk, () => post({ op: "ack", sid: msg.sid, seq: msg.seq }));
      return;
    }
    case "resize":
      if (em && (em.term.cols !== msg.cols || em.term.rows !== msg.rows)) {
        em.term.resize(msg.cols, msg.rows);
      }
      return;
    case "snapshot":
      if (!em) {
        post({ op: "snapshot", req: msg.req, data: "" });
        return;
      }
      // The callback runs once everything written before it is parsed.
      em.term.write("", () => {
        // Only the visible screen: a client shows it on its alternate
        // screen, which has no scrollback to fill.
        const data = em.serializer.serialize({ scrollback: 0 }) + em.modes.restoreSequence();
        post({ op: "snapshot", req: msg.req, data });
      });
      return;
    case "peek":
      if (!em) {
        post({ op: "peek", req: msg.req, text: "" });
        return;
      }
      em.term.write("", () => {
        post({ op: "peek", req: msg.req, text: peek(em, msg.ansi, msg.lines) });
      });
      return;
    case "close":
      if (em) {
        em.term.dispose();
        emulators.delete(msg.sid);
      }
      return;
  }
}

function peek(em: Emulator, ansi: boolean, lines: number | null): string {
  const buf = em.term.buffer.active;
  let start: number;
  let end: number; // exclusive
  if (lines !== null) {
    // Skip blank lines below the last written one before counting back.
    end = buf.length;
    while (end > 0 && (buf.getLine(end - 1)?.translateToString(true) ?? "") === "") end--;
    start = Math.max(0, end - lines);
  } else {
    start = buf.baseY;
    end = buf.baseY + em.term.rows;
  }
  if (ansi) {
    if (end <= start) return "";
    const text = em.serializer.serialize({
      range: { start, end: end - 1 },
      excludeAltBuffer: true,
      excludeModes: true,
    });
    return text.replace(/(\r\n)+$/, "") + "\x1b[0m";
  }
  const out: string[] = [];
  for (let y = start; y < end; y++) out.push(buf.getLine(y)?.translateToString(true) ?? "");
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out.join("\n");
}
