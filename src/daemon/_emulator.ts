/**
 * One session's screen model, as the screen worker holds it: a headless
 * xterm.js terminal fed the program's output, plus what it answers (a redraw
 * for attach, the text for peek), kept small while the session is quiet.
 *
 * **Old scrollback as text.** xterm.js keeps every line, scrollback
 * included, as 12 bytes per cell of the full width (1.4 KB a line at 120
 * columns, plus some 250 bytes of objects): 10 000 lines of scrollback cost
 * ~17 MB. Whenever output pauses (and at least every
 * {@linkcode COMPACT_EVERY_MS} while it does not), the scrollback beyond the
 * newest {@linkcode SCREEN_HOT_LINES} lines is moved out of the emulator and
 * kept as the text `peek` prints for it — plain, and with colours when it
 * has any, as UTF-8 (~0.1–0.3 KB a line). While output flows, the emulator
 * keeps its scrollback itself, as it always did (it reuses the lines it
 * drops, so a flood costs no more than before). The scrollback is the same
 * length either way, and output only scrolls lines into it, never changes
 * them there, so `peek --lines` prints what it printed before; the one
 * difference is that lines moved out are not rewrapped when the terminal's
 * width changes. The screen itself, attach's redraw and the modes are the
 * emulator's, untouched.
 *
 * **Output in pieces.** Output is parsed in pieces of at most
 * {@linkcode PIECE_BYTES}: xterm.js's parse buffer grows to the largest
 * write it has seen (4 bytes a byte) and stays so; this keeps it at its
 * initial size.
 *
 * Moving lines out trims the emulator's buffer through xterm.js internals
 * (the public API has no way to drop only some scrollback lines); they are
 * checked when an emulator is made, and where they are not as expected the
 * emulator keeps all its scrollback itself, as before, and says so once.
 *
 * @module
 */

import { SerializeAddon } from "@xterm/addon-serialize";
import { hasAltScreenMode, type IMarker, lineAnsi, lineText, Terminal } from "../xterm.ts";
import { ModeTracker } from "./_modes.ts";
import { alignedDelay } from "../clock.ts";
import { SCREEN_HOT_LINES } from "./limits.ts";

/** Bytes of output parsed at a time (xterm.js's initial parse buffer holds 4096). */
export const PIECE_BYTES = 4096;

/** Quiet time after which old scrollback is moved out of the emulator. */
export const COMPACT_AFTER_MS = 250;

/** Longest time old scrollback stays in the emulator while output keeps coming. */
export const COMPACT_EVERY_MS = 5000;

/**
 * The compaction checks of every screen fire on this grid (so a pause is
 * noticed up to this much later): one wakeup of the worker checks them all,
 * instead of one a screen every {@linkcode COMPACT_AFTER_MS} while output
 * trickles.
 */
const COMPACT_GRID_MS = 1000;

/** The emulator's own buffer, as far as trimming it needs (xterm.js internals). */
export interface CoreBuffer {
  lines: {
    length: number;
    splice(start: number, deleteCount: number): void;
    set(index: number, line: undefined): void;
  };
  ybase: number;
  ydisp: number;
  savedY: number;
}

/** The normal buffer's internals, or null when they are not what this module expects. */
export function coreNormal(term: Terminal): CoreBuffer | null {
  const core = (term as unknown as { _core?: { buffers?: { normal?: Partial<CoreBuffer> } } })
    ._core;
  const b = core?.buffers?.normal;
  if (
    !b || typeof b.lines?.splice !== "function" || typeof b.lines.set !== "function" ||
    typeof b.lines.length !== "number" ||
    typeof b.ybase !== "number" || typeof b.ydisp !== "number" || typeof b.savedY !== "number"
  ) {
    return null;
  }
  return b as CoreBuffer;
}

/** Bytes of one block of {@linkcode ColdLines}' text (a longer line gets a block of its own). */
const BLOCK_BYTES = 16 * 1024;

/** The plain text of a line `lineAnsi` wrote (its only escapes are SGR sequences). */
function stripSgr(ansi: string): string {
  return ansi.replace(/\x1b\[[0-9;]*m/g, "");
}

/**
 * Old scrollback lines as text, oldest first, as UTF-8 in blocks of
 * {@linkcode BLOCK_BYTES}: a line costs its bytes (with colours, or plain
 * when it has none; both only when the plain text is not the coloured one's
 * characters) and 16 bytes of index.
 */
class ColdLines {
  /**
   * Per line: its block, its offset there, and two lengths: the plain text
   * and the coloured text after it; or -1 and the plain text (no colours);
   * or -2 and the coloured text (plain: its characters).
   */
  #index = new Int32Array(0);
  #first = 0; // the oldest line's entry in #index (entries before it are dropped lines)
  #count = 0;
  #blocks: { bytes: Uint8Array; used: number; id: number }[] = [];
  #nextBlock = 0;
  #enc = new TextEncoder();
  #dec = new TextDecoder();

  get length(): number {
    return this.#count;
  }

  push(plain: string, ansi: string): void {
    // One text where the other follows from it.
    let kind = 0;
    if (ansi === plain) [kind, plain] = [-1, ""];
    else if (stripSgr(ansi) === plain) [kind, plain] = [-2, ""];
    const most = (plain.length + ansi.length) * 3;
    let block = this.#blocks.at(-1);
    if (!block || block.bytes.length - block.used < most) {
      // The last block keeps only what it holds.
      if (block && block.used < block.bytes.length) block.bytes = block.bytes.slice(0, block.used);
      block = {
        bytes: new Uint8Array(Math.max(BLOCK_BYTES, most)),
        used: 0,
        id: this.#nextBlock++,
      };
      this.#blocks.push(block);
    }
    const at = block.used;
    const p = this.#enc.encodeInto(plain, block.bytes.subarray(at)).written;
    const c = this.#enc.encodeInto(ansi, block.bytes.subarray(at + p)).written;
    block.used += p + c;
    let end = (this.#first + this.#count) * 4;
    if (end + 4 > this.#index.length) {
      // Grows, leaving out the entries of dropped lines.
      const next = new Int32Array(Math.max(64, this.#count * 2) * 4);
      next.set(this.#index.subarray(this.#first * 4, end));
      this.#index = next;
      this.#first = 0;
      end = this.#count * 4;
    }
    this.#index[end] = block.id;
    this.#index[end + 1] = at;
    this.#index[end + 2] = kind < 0 ? kind : p;
    this.#index[end + 3] = c;
    this.#count++;
  }

  /** Line `y` (0: the oldest), plain or coloured. */
  line(y: number, ansi: boolean): string {
    const i = (this.#first + y) * 4;
    const ix = this.#index;
    const block = this.#blocks[ix[i]! - this.#blocks[0]!.id]!.bytes;
    const at = ix[i + 1]!;
    const kind = ix[i + 2]!;
    const plain = Math.max(kind, 0);
    const text = this.#dec.decode(block.subarray(at + plain, at + plain + ix[i + 3]!));
    if (ansi || kind === -1) return text;
    return kind === -2 ? stripSgr(text) : this.#dec.decode(block.subarray(at, at + plain));
  }

  /** Drops the `n` oldest lines, and the blocks none of the rest is in. */
  drop(n: number): void {
    n = Math.min(n, this.#count);
    if (n <= 0) return;
    this.#first += n;
    this.#count -= n;
    if (this.#count === 0) {
      this.clear();
      return;
    }
    const oldest = this.#index[this.#first * 4]!;
    while (this.#blocks[0]!.id < oldest) this.#blocks.shift();
    // The index too, once it is mostly dropped entries.
    if (this.#first > 1024 && this.#first > this.#count) {
      this.#index = this.#index.slice(this.#first * 4, (this.#first + this.#count) * 4);
      this.#first = 0;
    }
  }

  clear(): void {
    this.#index = new Int32Array(0);
    this.#first = 0;
    this.#count = 0;
    this.#blocks = [];
  }
}

/** Options of an {@linkcode Emulator}. */
export interface EmulatorOptions {
  cols: number;
  rows: number;
  /** Lines of scrollback kept. */
  scrollback: number;
  /** Scrollback lines kept in the emulator's form (default {@linkcode SCREEN_HOT_LINES}). */
  hotLines?: number;
  /** Told once when old scrollback cannot be kept as text (see the module). */
  warn?: (msg: string) => void;
  /** How the emulator's internals are reached (tests replace it). */
  internals?: (term: Terminal) => CoreBuffer | null;
  /** Called after each compaction with the number of lines moved out. */
  onCompact?: (lines: number) => void;
}

/** One session's screen model. */
export class Emulator {
  readonly term: Terminal;
  readonly #serializer: SerializeAddon;
  readonly #modes = new ModeTracker();
  readonly #scrollback: number;
  readonly #hot: number;
  /** Old scrollback as text (null: the emulator keeps all of it). */
  readonly #cold: ColdLines | null;
  readonly #core: (term: Terminal) => CoreBuffer | null;
  readonly #onCompact: (lines: number) => void;
  #disposed = false;
  #lastWrite = 0;
  #lastCompact = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Where the program entered the alternate screen (the normal screen's cursor line). */
  #enteredAlt: IMarker | null = null;
  /** The alternate screen as the program last left it, and where it had entered it. */
  #lastAlt: { plain: string[]; ansi: string[]; at: IMarker | null } | null = null;

  constructor(o: EmulatorOptions) {
    this.#scrollback = o.scrollback;
    this.#hot = o.hotLines ?? SCREEN_HOT_LINES;
    this.term = new Terminal({
      cols: o.cols,
      rows: o.rows,
      scrollback: o.scrollback,
      allowProposedApi: true,
      // Never log: binary output would make it report a parse error per byte.
      logLevel: "off",
    });
    this.#core = o.internals ?? coreNormal;
    this.#onCompact = o.onCompact ?? (() => {});
    let cold: ColdLines | null = null;
    if (o.scrollback > this.#hot) {
      if (this.#core(this.term)) {
        cold = new ColdLines();
      } else {
        o.warn?.(
          "xterm.js internals changed: old scrollback stays in the emulator's form (more memory)",
        );
      }
    }
    this.#cold = cold;
    this.#serializer = new SerializeAddon();
    this.term.loadAddon(this.#serializer);
    this.#watch();
  }

  /** The modes the program set that the serializer does not reproduce. */
  get modes(): ModeTracker {
    return this.#modes;
  }

  /** Lines of scrollback kept as text (for tests and measurements). */
  get coldLines(): number {
    return this.#visibleCold();
  }

  /** Feeds output; `done` runs once it is parsed. */
  write(chunk: Uint8Array, done?: () => void): void {
    this.#modes.feed(chunk);
    this.#lastWrite = performance.now();
    for (let at = 0; at < chunk.length; at += PIECE_BYTES) {
      const end = Math.min(chunk.length, at + PIECE_BYTES);
      this.term.write(chunk.subarray(at, end), end === chunk.length ? done : undefined);
    }
    if (chunk.length === 0 && done) this.term.write("", done);
    this.#compactLater();
  }

  /** Runs `fn` once everything written so far is parsed. */
  whenParsed(fn: () => void): void {
    this.term.write("", fn);
  }

  /** Resizes (reflowing the screen and the scrollback still in the emulator). */
  resize(cols: number, rows: number): void {
    if (this.term.cols === cols && this.term.rows === rows) return;
    this.term.resize(cols, rows);
  }

  /** A redraw of the visible screen and the modes (call once parsed). */
  snapshot(): string {
    // Only the visible screen: a client shows it on its alternate screen,
    // which has no scrollback to fill.
    return this.#serializer.serialize({ scrollback: 0 }) + this.#modes.restoreSequence();
  }

  /**
   * Text of the screen: the visible screen, or the last `lines` lines
   * (scrollback included); with `final`, of the screen the program last
   * showed (see {@linkcode Emulator.lastScreen}). Call once parsed.
   */
  peek(ansi: boolean, lines: number | null, final: boolean): string {
    const kept = final ? this.lastScreen(ansi) : null;
    const plainKept = kept && ansi ? this.lastScreen(false)! : kept;
    const active = this.term.buffer.active;
    const view = active.type === "normal" ? this.#normal() : this.#alt();
    const count = kept ? kept.length : view.length;
    const plainAt = (y: number) => (plainKept ? plainKept[y]! : view.line(y, false));
    const at = (y: number) => (kept ? kept[y]! : view.line(y, ansi));
    let start: number;
    let end: number; // exclusive
    if (lines !== null || kept) {
      // Skip blank lines below the last written one before counting back.
      end = count;
      while (end > 0 && plainAt(end - 1) === "") end--;
      start = Math.max(0, end - (lines ?? this.term.rows));
    } else {
      start = view.offset + active.baseY;
      end = start + this.term.rows;
    }
    const out: string[] = [];
    for (let y = start; y < end; y++) out.push(at(y));
    while (out.length > 0 && plainAt(start + out.length - 1) === "") out.pop();
    return out.join("\n");
  }

  /**
   * The lines (plain or coloured) of the screen the program last showed,
   * when that was the alternate screen and it left it before the end: what
   * was on the normal screen before it entered the alternate screen, the
   * alternate screen as it left it, then what it wrote after (Claude's
   * "Resume this session with…"). Null when the alternate screen is active,
   * or was never used, or the program wrote a screenful or more since it
   * left it.
   */
  lastScreen(ansi: boolean): string[] | null {
    const { term } = this;
    const lastAlt = this.#lastAlt;
    if (term.buffer.active.type !== "normal") return null;
    if (!lastAlt || !lastAlt.at || lastAlt.at.isDisposed) return null;
    const normal = this.#normal();
    const from = normal.offset + lastAlt.at.line;
    let end = normal.length;
    while (end > from && normal.line(end - 1, false) === "") end--;
    if (end - from >= term.rows) return null;
    let frameEnd = lastAlt.plain.length;
    while (frameEnd > 0 && lastAlt.plain[frameEnd - 1] === "") frameEnd--;
    const out: string[] = [];
    for (let y = 0; y < from; y++) out.push(normal.line(y, ansi));
    out.push(...(ansi ? lastAlt.ansi : lastAlt.plain).slice(0, frameEnd));
    for (let y = from; y < end; y++) out.push(normal.line(y, ansi));
    return out;
  }

  /** Moves the old scrollback out of the emulator now (it is, once output pauses). */
  compact(): void {
    this.#lastCompact = performance.now();
    const cold = this.#cold;
    if (!cold || this.#disposed) return;
    const buf = this.term.buffer.normal;
    const over = buf.baseY - this.#hot;
    // Lines the emulator's own scrollback has pushed out of the total.
    cold.drop(cold.length - this.#visibleCold());
    if (over <= 0) return;
    const core = this.#core(this.term);
    if (!core) return;
    for (let y = 0; y < over; y++) cold.push(lineText(buf, y), lineAnsi(buf, y));
    // As xterm.js trims its scrollback when it shrinks: positions that count
    // from the top of the buffer move up (markers follow). Its ring keeps
    // what was in the slots it no longer uses: emptied, so the lines go.
    const before = core.lines.length;
    core.lines.splice(0, over);
    for (let i = core.lines.length; i < before; i++) core.lines.set(i, undefined);
    core.ybase -= over;
    core.ydisp = Math.max(core.ydisp - over, 0);
    core.savedY = Math.max(core.savedY - over, 0);
    this.#onCompact(over);
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.term.dispose();
    this.#cold?.clear();
  }

  /**
   * Old lines kept as text that are still part of the scrollback: while
   * output flows, the emulator's own scrollback grows again, and the oldest
   * text lines fall out of the total.
   */
  #visibleCold(): number {
    const cold = this.#cold;
    if (!cold) return 0;
    const own = this.term.buffer.normal.baseY;
    return Math.max(0, Math.min(cold.length, this.#scrollback - own));
  }

  /** The normal buffer with the old scrollback before it; `offset`: lines before the emulator's. */
  #normal(): { length: number; offset: number; line(y: number, ansi: boolean): string } {
    const buf = this.term.buffer.normal;
    const cold = this.#cold;
    const offset = this.#visibleCold();
    const skip = (cold?.length ?? 0) - offset;
    return {
      length: offset + buf.length,
      offset,
      line: (y, ansi) =>
        y < offset ? cold!.line(skip + y, ansi) : (ansi ? lineAnsi : lineText)(buf, y - offset),
    };
  }

  #alt(): { length: number; offset: number; line(y: number, ansi: boolean): string } {
    const buf = this.term.buffer.alternate;
    return {
      length: buf.length,
      offset: 0,
      line: (y, ansi) => (ansi ? lineAnsi : lineText)(buf, y),
    };
  }

  /**
   * Compacts once output has paused for {@linkcode COMPACT_AFTER_MS}, or
   * {@linkcode COMPACT_EVERY_MS} after the last time if it keeps coming.
   */
  #compactLater(): void {
    if (!this.#cold || this.#timer !== null) return;
    const check = () => {
      this.#timer = null;
      const now = performance.now();
      const quiet = now - this.#lastWrite;
      const due = Math.min(COMPACT_AFTER_MS - quiet, this.#lastCompact + COMPACT_EVERY_MS - now);
      // Parsing may lag behind the writes: compact once it has caught up.
      // Timers on a grid every screen shares: one wakeup checks them all.
      if (due <= 0) this.whenParsed(() => this.compact());
      else this.#timer = setTimeout(check, alignedDelay(now, now + due, COMPACT_GRID_MS));
    };
    const now = performance.now();
    this.#timer = setTimeout(check, alignedDelay(now, now + COMPACT_AFTER_MS, COMPACT_GRID_MS));
  }

  /**
   * Keeps the alternate screen as the program leaves it (Claude Code draws
   * there, and leaves it when it exits), and drops the old scrollback
   * whenever the emulator drops its own: a full reset, or "erase saved
   * lines" on the normal screen.
   */
  #watch(): void {
    const { term } = this;
    term.parser.registerCsiHandler({ prefix: "?", final: "h" }, (params) => {
      if (hasAltScreenMode(params) && term.buffer.active.type === "normal") {
        this.#enteredAlt?.dispose();
        this.#enteredAlt = term.registerMarker(0) ?? null;
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
        if (this.#lastAlt?.at !== this.#enteredAlt) this.#lastAlt?.at?.dispose();
        this.#lastAlt = { plain, ansi, at: this.#enteredAlt };
        this.#enteredAlt = null;
      }
      return false;
    });
    term.parser.registerEscHandler({ final: "c" }, () => {
      // A full reset: the screens are cleared.
      this.#enteredAlt?.dispose();
      this.#lastAlt?.at?.dispose();
      this.#enteredAlt = null;
      this.#lastAlt = null;
      this.#cold?.clear();
      return false;
    });
    // ED 3 / DECSED 3: the scrollback of the active buffer goes.
    for (const prefix of [undefined, "?"] as const) {
      const id = prefix ? { prefix, final: "J" } : { final: "J" };
      term.parser.registerCsiHandler(id, (params) => {
        const cold = this.#cold;
        if (params[0] === 3 && term.buffer.active.type === "normal" && cold) {
          // xterm.js leaves the saved cursor's line where it was while the
          // lines before it go (so a restore lands that much lower): as if
          // the old lines had been its own.
          const core = this.#core(term);
          if (core) core.savedY += this.#visibleCold();
          cold.clear();
        }
        return false;
      });
    }
  }
}
