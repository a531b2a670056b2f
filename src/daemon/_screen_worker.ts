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

import { SerializeAddon } from "@xterm/addon-serialize";
import { hasAltScreenMode, type IMarker, lineAnsi, lineText, Terminal } from "../xterm.ts";
import { ModeTracker } from "./_modes.ts";
import type { ToMain, ToWorker } from "./_screen_protocol.ts";

interface Emulator {
  term: Terminal;
  serializer: SerializeAddon;
  modes: ModeTracker;
  /** Where the program entered the alternate screen (the normal screen's cursor line). */
  enteredAlt: IMarker | null;
  /** The alternate screen as the program last left it, and where it had entered it. */
  lastAlt: { plain: string[]; ansi: string[]; at: IMarker | null } | null;
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
    const em: Emulator = {
      term,
      serializer,
      modes: new ModeTracker(),
      enteredAlt: null,
      lastAlt: null,
    };
    watchAltScreen(em);
    emulators.set(msg.sid, em);
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
        post({ op: "peek", req: msg.req, text: peek(em, msg.ansi, msg.lines, msg.final ?? false) });
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

/**
 * Keeps the alternate screen as the program leaves it (Claude Code draws
 * there, and leaves it when it exits): `peek` of a session that has ended
 * shows it (see {@linkcode lastScreen}).
 */
function watchAltScreen(em: Emulator): void {
  const { term } = em;
  term.parser.registerCsiHandler({ prefix: "?", final: "h" }, (params) => {
    if (hasAltScreenMode(params) && term.buffer.active.type === "normal") {
      em.enteredAlt?.dispose();
      em.enteredAlt = term.registerMarker(0) ?? null;
    }
    return false; // the emulator switches
  });
  term.parser.registerCsiHandler({ prefix: "?", final: "l" }, (params) => {
    const alt = term.buffer.active;
    if (hasAltScreenMode(params) && alt.type === "alternate") {
      const plain: string[] = [];
      const ansi: string[] = [];
      for (let y = 0; y < term.rows; y++) {
        plain.push(lineText(alt, y));
        ansi.push(lineAnsi(alt, y));
      }
      if (em.lastAlt?.at !== em.enteredAlt) em.lastAlt?.at?.dispose();
      em.lastAlt = { plain, ansi, at: em.enteredAlt };
      em.enteredAlt = null;
    }
    return false;
  });
  term.parser.registerEscHandler({ final: "c" }, () => {
    // A full reset: the screens are cleared.
    em.enteredAlt?.dispose();
    em.lastAlt?.at?.dispose();
    em.enteredAlt = null;
    em.lastAlt = null;
    return false;
  });
}

/**
 * The lines (plain or coloured) of the screen the program last showed, when
 * that was the alternate screen and it left it before the end: what was on
 * the normal screen before it entered the alternate screen, the alternate
 * screen as it left it, then what it wrote after (Claude's "Resume this
 * session with…"). Null when the alternate screen is active, or was never
 * used, or the program wrote a screenful or more since it left it.
 */
function lastScreen(em: Emulator, ansi: boolean): string[] | null {
  const { term, lastAlt } = em;
  const normal = term.buffer.normal;
  if (term.buffer.active.type !== "normal") return null;
  if (!lastAlt || !lastAlt.at || lastAlt.at.isDisposed) return null;
  const from = lastAlt.at.line;
  let end = normal.length;
  while (end > from && lineText(normal, end - 1) === "") end--;
  if (end - from >= term.rows) return null;
  let frameEnd = lastAlt.plain.length;
  while (frameEnd > 0 && lastAlt.plain[frameEnd - 1] === "") frameEnd--;
  const line = ansi ? lineAnsi : lineText;
  const out: string[] = [];
  for (let y = 0; y < from; y++) out.push(line(normal, y));
  out.push(...(ansi ? lastAlt.ansi : lastAlt.plain).slice(0, frameEnd));
  for (let y = from; y < end; y++) out.push(line(normal, y));
  return out;
}

/**
 * Text of the screen: the visible screen, or the last `lines` lines
 * (scrollback included); with `final`, of the screen the program last
 * showed (see {@linkcode lastScreen}).
 */
function peek(em: Emulator, ansi: boolean, lines: number | null, final: boolean): string {
  const kept = final ? lastScreen(em, ansi) : null;
  const plainKept = kept && ansi ? lastScreen(em, false)! : kept;
  const buf = em.term.buffer.active;
  const count = kept ? kept.length : buf.length;
  const plainAt = (y: number) => plainKept ? plainKept[y]! : lineText(buf, y);
  const at = (y: number) => kept ? kept[y]! : ansi ? lineAnsi(buf, y) : lineText(buf, y);
  let start: number;
  let end: number; // exclusive
  if (lines !== null || kept) {
    // Skip blank lines below the last written one before counting back.
    end = count;
    while (end > 0 && plainAt(end - 1) === "") end--;
    start = Math.max(0, end - (lines ?? em.term.rows));
  } else {
    start = buf.baseY;
    end = buf.baseY + em.term.rows;
  }
  const out: string[] = [];
  for (let y = start; y < end; y++) out.push(at(y));
  while (out.length > 0 && plainAt(start + out.length - 1) === "") out.pop();
  return out.join("\n");
}
