/**
 * Drawing a full-screen program's frame as cells, and turning one frame into
 * the next with as few bytes as possible: only the cells that changed are
 * written (runs of them, with cursor addressing), the first frame and any
 * frame after {@linkcode FrameWriter.invalidate} in full. Pure: builds
 * strings, writes nothing.
 *
 * @module
 */

import { charWidth, textWidth } from "./_width.ts";
import { type Clock, REAL_CLOCK } from "../clock.ts";

/**
 * A frame: `rows` lines of `cols` cells, each a character (with any
 * combining marks) and a style (SGR parameters, "" for the default). The
 * right half of a wide character is an empty cell ("").
 */
export class Canvas {
  readonly cols: number;
  readonly rows: number;
  readonly chars: string[][];
  readonly styles: string[][];

  constructor(cols: number, rows: number) {
    this.cols = Math.max(0, cols);
    this.rows = Math.max(0, rows);
    this.chars = Array.from({ length: this.rows }, () => new Array<string>(this.cols).fill(" "));
    this.styles = Array.from({ length: this.rows }, () => new Array<string>(this.cols).fill(""));
  }

  /**
   * Draws `text` at (`row`, `col`) in `style`, in at most `width` columns
   * (default: up to the right edge); text that does not fit ends in "…".
   * Control characters are drawn as "?". Returns the columns drawn.
   */
  text(row: number, col: number, text: string, style = "", width?: number): number {
    if (row < 0 || row >= this.rows || col >= this.cols) return 0;
    const max = Math.min(width ?? this.cols - col, this.cols - col);
    if (max <= 0) return 0;
    const cut = textWidth(text) > max;
    const room = cut ? max - 1 : max;
    let x = col;
    let last = -1;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      const w = charWidth(cp);
      if (w === 0) {
        if (last >= 0) this.chars[row]![last] += ch;
        continue;
      }
      if (x - col + w > room) break;
      const shown = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? "?" : ch;
      this.#set(row, x, shown, style);
      if (w === 2) this.#set(row, x + 1, "", style);
      last = x;
      x += w;
    }
    if (cut) {
      // A wide character may have left one column short of the room.
      while (x - col < room) this.#set(row, x++, " ", style);
      this.#set(row, x++, "…", style);
    }
    return x - col;
  }

  /** Gives `width` cells from (`row`, `col`) the style `style` (keeping their characters). */
  paint(row: number, col: number, width: number, style: string): void {
    if (row < 0 || row >= this.rows) return;
    for (let x = Math.max(0, col); x < Math.min(this.cols, col + width); x++) {
      this.styles[row]![x] = style;
    }
  }

  /**
   * Draws a line of text carrying SGR sequences (as `peek --ansi` gives
   * them, each from the default state) at (`row`, `col`) in at most `width`
   * columns; without `color`, plain. Other escape sequences are dropped.
   */
  ansi(row: number, col: number, line: string, width: number, color: boolean): number {
    let x = col;
    let style = "";
    const end = Math.min(this.cols, col + width);
    const parts = line.split(/(\x1b\[[0-9;:]*m|\x1b\[[0-9;?]*[A-Za-z]|\x1b.)/);
    for (let i = 0; i < parts.length && x < end; i++) {
      const p = parts[i]!;
      if (i % 2 === 1) {
        const m = /^\x1b\[([0-9;:]*)m$/.exec(p);
        if (m && color) {
          const params = m[1]!.replace(/^0?(;|$)/, "");
          style = params;
        }
        continue;
      }
      if (p.length > 0) x += this.text(row, x, p, style, end - x);
    }
    return x - col;
  }

  /** Sets one cell, keeping wide characters whole (a half overwritten clears the other). */
  #set(row: number, x: number, ch: string, style: string): void {
    const chars = this.chars[row]!;
    if (x < 0 || x >= this.cols) return;
    if (chars[x] === "" && ch !== "" && x > 0) chars[x - 1] = " ";
    if (
      ch !== "" && x + 1 < this.cols && chars[x + 1] === "" && charWidth(ch.codePointAt(0)!) < 2
    ) {
      chars[x + 1] = " ";
    }
    chars[x] = ch;
    this.styles[row]![x] = style;
  }
}

/** Where the terminal's cursor should be shown (null: hidden). */
export interface CursorSpot {
  row: number;
  col: number;
}

/** Unchanged cells a run of writes carries through rather than move the cursor past. */
const BRIDGE = 4;

/**
 * Turns frames into terminal output. Each frame after the first writes only
 * the cells that differ from the frame before; the first, one after
 * {@linkcode invalidate}, one of another size, or one asked `full` clears
 * the screen and draws everything. A frame is wrapped in synchronized
 * output (terminals that know it show it at once) and ends in the default
 * attributes.
 */
export class FrameWriter {
  #prev: Canvas | null = null;
  #cursorShown = false;
  #cursorAt = "";

  /** Forgets what the screen shows: the next frame is drawn in full. */
  invalidate(): void {
    this.#prev = null;
  }

  /**
   * The cursor is hidden now (the program hid it on entering, or something
   * else reset it): the next frame that wants it shown shows it.
   */
  cursorHidden(): void {
    this.#cursorShown = false;
  }

  /** The bytes that take the screen from the previous frame to `next` ("" when nothing changed). */
  frame(next: Canvas, cursor: CursorSpot | null = null, full = false): string {
    let out = "";
    let base = this.#prev;
    if (full || !base || base.cols !== next.cols || base.rows !== next.rows) {
      out += "\x1b[0m\x1b[H\x1b[2J";
      base = new Canvas(next.cols, next.rows);
    }
    let sgr = "";
    for (let r = 0; r < next.rows; r++) {
      const a = base.chars[r]!;
      const as = base.styles[r]!;
      const b = next.chars[r]!;
      const bs = next.styles[r]!;
      const same = (x: number) => a[x] === b[x] && as[x] === bs[x];
      let x = 0;
      while (x < next.cols) {
        if (same(x)) {
          x++;
          continue;
        }
        let start = x;
        if (b[start] === "" && start > 0) start--;
        let last = x;
        for (let j = x + 1; j < next.cols && j - last <= BRIDGE; j++) if (!same(j)) last = j;
        let end = last + 1;
        if (end < next.cols && b[end] === "") end++;
        out += `\x1b[${r + 1};${start + 1}H`;
        for (let k = start; k < end; k++) {
          const ch = b[k]!;
          if (ch === "") continue;
          const st = bs[k]!;
          if (st !== sgr) {
            out += st === "" ? "\x1b[0m" : `\x1b[0;${st}m`;
            sgr = st;
          }
          out += ch;
        }
        x = end;
      }
    }
    if (sgr !== "") out += "\x1b[0m";
    this.#prev = next;
    if (cursor) {
      const at = `\x1b[${cursor.row + 1};${cursor.col + 1}H`;
      if (out !== "" || !this.#cursorShown || at !== this.#cursorAt) out += at;
      if (!this.#cursorShown) out += "\x1b[?25h";
      this.#cursorShown = true;
      this.#cursorAt = at;
    } else if (this.#cursorShown) {
      out += "\x1b[?25l";
      this.#cursorShown = false;
    }
    return out === "" ? "" : `\x1b[?2026h${out}\x1b[?2026l`;
  }
}

/**
 * Coalesces redraw requests: however many come, `draw` runs at most once
 * per `intervalMs`, soon after the first request (at once when the last
 * frame is that old, in the same turn's end), never left owed.
 */
export class FrameClock {
  readonly #intervalMs: number;
  readonly #draw: () => void;
  readonly #timers: Clock;
  #last = -Infinity;
  #timer: unknown = null;

  constructor(intervalMs: number, draw: () => void, timers: Clock = REAL_CLOCK) {
    this.#intervalMs = intervalMs;
    this.#draw = draw;
    this.#timers = timers;
  }

  /** Asks for a frame. */
  request(): void {
    if (this.#timer !== null) return;
    const wait = Math.max(0, this.#last + this.#intervalMs - this.#timers.now());
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null;
      this.#last = this.#timers.now();
      this.#draw();
    }, wait);
  }

  /** Drops a frame asked for and not drawn yet. */
  cancel(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
