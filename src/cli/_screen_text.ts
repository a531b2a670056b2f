/**
 * Recorded output as the text a user saw: the bytes go through a terminal
 * emulator (`@xterm/headless`) at the recorded sizes, and every line of text
 * that was on the screen at some point comes out once, in the order it
 * appeared. This is what `logs --text` (and `logs --grep`) print.
 *
 * How lines are found:
 *
 * - After each chunk of output (and just before the screen is cleared or the
 *   alternate screen is entered or left, so a frame drawn and replaced within
 *   one chunk is not missed), the visible rows are compared with the previous
 *   ones. A row's text that is still on the screen — in the same row or moved
 *   to another, as when a full-screen program scrolls by redrawing — is the
 *   same line. A row whose new text extends the old one (a line being
 *   written, a prompt being typed) is the same line, grown. Anything else is
 *   a new line; a line no longer on the screen is finished.
 * - A finished line is printed unless the same text was printed before: a
 *   program that redraws its screen (Claude's spinner, a repaint after a
 *   resize) does not print the same lines again and again. Lines that scroll
 *   off the top of the normal screen into its scrollback are history and
 *   always printed, repeats included (a build printing `ok` twice).
 * - Lines come out in the order they appeared (a line that grew: when it
 *   last grew), each as it was when it left the screen; lines still on the
 *   screen come out at the end (or when {@linkcode ScreenText.flush} is
 *   called, e.g. when a followed log goes quiet). Blank rows are never
 *   printed; non-breaking spaces are printed as spaces. A row is a line:
 *   text that wrapped at the right margin shows as the rows it wrapped into.
 *
 * @module
 */

import { hasAltScreenMode, type IBuffer, type IMarker, lineText, Terminal } from "../xterm.ts";

/** A line of text that was on the screen. */
export interface TextLine {
  text: string;
  /** Log timestamp of the output that first showed it. */
  at: string;
}

/** Options of {@linkcode ScreenText}. */
export interface ScreenTextOptions {
  cols: number;
  rows: number;
  /** Drop lines that left the screen before this time (epoch ms). */
  since?: number | null;
}

const enum State {
  /** On the screen. */
  Alive,
  /** Finished, to be printed. */
  Print,
  /** Finished, not to be printed (a repeat, or gone before `since`). */
  Drop,
}

interface Entry {
  text: string;
  at: string;
  state: State;
  /** Its place in the output queue (absolute), or null when not in it. */
  slot: number | null;
  /** The text already printed for it (by a flush while it was on the screen). */
  printed: string | null;
}

/** Bytes parsed between two looks at the scrollback (each byte scrolls at most one line). */
const SLICE = 512;
/** Scrollback the emulator keeps: more than a slice can scroll. */
const SCROLLBACK = 1024;
/** Bytes handed to the emulator and not parsed yet, above which feeding waits. */
const MAX_INFLIGHT = 1024 * 1024;

/** Renders output to lines of text; see the module documentation. */
export class ScreenText {
  #term: Terminal;
  #since: number;
  /** Entries of the normal screen's rows (index: row), and of the alternate screen's. */
  #normal: (Entry | null)[] = [];
  #alt: (Entry | null)[] = [];
  /** The normal screen's top line when last looked at (absolute; moves with scrollback trimming). */
  #top: IMarker | null = null;
  /** Entries in the order they appeared, not yet printed or dropped (null: moved on). */
  #queue: (Entry | null)[] = [];
  #head = 0;
  /** Absolute place of `#queue[0]`. */
  #base = 0;
  /** Texts printed (or to be printed) so far. */
  #seen = new Set<string>();
  #out: TextLine[] = [];
  #now = "";
  #nowMs = 0;
  #inflight = 0;
  /** Writes handed to the emulator whose callback has not run yet. */
  #writes = 0;
  #disposed = false;

  constructor(opts: ScreenTextOptions) {
    this.#since = opts.since ?? -Infinity;
    this.#term = this.#open(opts.cols, opts.rows);
  }

  #open(cols: number, rows: number): Terminal {
    const term = new Terminal({
      cols,
      rows,
      scrollback: SCROLLBACK,
      allowProposedApi: true,
      logLevel: "off",
    });
    // Look at the screen just before it is cleared or switched, so that a
    // frame replaced within one chunk of output is not missed.
    const before = () => {
      this.#look(false);
      return false; // then let the emulator do it
    };
    term.parser.registerCsiHandler({ final: "J" }, before);
    term.parser.registerCsiHandler({ prefix: "?", final: "h" }, (p) => {
      if (hasAltScreenMode(p)) this.#look(false);
      return false;
    });
    term.parser.registerCsiHandler({ prefix: "?", final: "l" }, (p) => {
      if (hasAltScreenMode(p)) this.#look(false);
      return false;
    });
    // A full reset (RIS): the screens are cleared and the emulator starts afresh.
    term.parser.registerEscHandler({ final: "c" }, () => {
      this.#look(false);
      this.#finishAll();
      this.#top?.dispose();
      this.#top = null;
      return false;
    });
    return term;
  }

  /** Feeds a chunk of output logged at `at` (an RFC 3339 time). */
  async feed(chunk: Uint8Array, at: string): Promise<void> {
    if (this.#disposed || chunk.length === 0) return;
    this.#at(at);
    for (let i = 0; i < chunk.length; i += SLICE) {
      const last = i + SLICE >= chunk.length;
      const piece = chunk.subarray(i, i + SLICE);
      this.#inflight += piece.length;
      this.#write(piece, () => {
        this.#inflight -= piece.length;
        this.#look(!last);
      });
    }
    if (this.#inflight > MAX_INFLIGHT) await this.#parsed();
  }

  /** The terminal was resized at `at`. */
  resize(cols: number, rows: number, at: string): void {
    if (this.#disposed) return;
    this.#at(at);
    this.#write("", () => {
      if (cols === this.#term.cols && rows === this.#term.rows) return;
      this.#term.resize(cols, rows);
      this.#look(false);
    });
  }

  /**
   * A new run of the program started at `at` in a fresh terminal of this
   * size: everything on the screen is finished.
   */
  async restart(cols: number, rows: number, at: string): Promise<void> {
    if (this.#disposed) return;
    await this.#parsed();
    this.#now = at;
    this.#nowMs = Date.parse(at);
    this.#look(false);
    this.#finishAll();
    this.#top?.dispose();
    this.#top = null;
    this.#term.dispose();
    this.#term = this.#open(cols, rows);
  }

  /**
   * Waits until everything fed is parsed, then prints every line not printed
   * yet, those still on the screen included (unless the screen's time, `at`
   * or the last output's, is before `since`).
   */
  async flush(at?: string): Promise<void> {
    if (this.#disposed) return;
    await this.#parsed();
    const ms = at === undefined ? this.#nowMs : Date.parse(at);
    this.#pump(true, ms >= this.#since);
  }

  /** Whether lines wait to be printed (by {@linkcode flush}), or output to be parsed. */
  get pending(): boolean {
    return this.#queue.length > this.#head || this.#writes > 0;
  }

  /** The lines finished since the last call, in order. */
  take(): TextLine[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Frees the emulator. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#top?.dispose();
    this.#term.dispose();
  }

  #write(data: string | Uint8Array, then: () => void): void {
    this.#writes++;
    this.#term.write(data, () => {
      this.#writes--;
      then();
    });
  }

  #at(at: string): void {
    this.#write("", () => {
      this.#now = at;
      this.#nowMs = Date.parse(at);
    });
  }

  #parsed(): Promise<void> {
    return new Promise((resolve) => this.#term.write("", resolve));
  }

  /**
   * Compares the screen with what was on it: lines that scrolled into the
   * scrollback are finished; with `scrollOnly`, that is all.
   */
  #look(scrollOnly: boolean): void {
    if (this.#disposed) return;
    const term = this.#term;
    const buf = term.buffer.active;
    if (buf.type === "alternate") {
      if (!scrollOnly) this.#match(this.#alt, rowTexts(buf, term.rows));
      return;
    }
    // Back from the alternate screen: what was on it is gone.
    if (this.#alt.length > 0) {
      for (const e of this.#alt) if (e) this.#finish(e, false);
      this.#alt = [];
    }
    this.#scrolled(buf);
    if (!scrollOnly) this.#match(this.#normal, rowTexts(buf, term.rows));
  }

  /** Finishes the rows of the normal screen that went into its scrollback since the last look. */
  #scrolled(buf: IBuffer): void {
    const top = buf.baseY;
    const marker = this.#top;
    let old: number;
    if (marker === null || marker.isDisposed) {
      // A new emulator, or it was reset (or trimmed past the mark): the rows
      // seen before are gone, and its lines are new from the first.
      for (const e of this.#normal) if (e) this.#finish(e, false);
      this.#normal = [];
      old = 0;
    } else {
      old = marker.line;
    }
    if (top > old) {
      const rows = this.#normal;
      for (let i = 0; i < top - old; i++) {
        let e = rows[i] ?? null;
        const text = textOf(buf, old + i);
        if (e && text !== e.text && !text.startsWith(e.text)) {
          this.#finish(e, false);
          e = null;
        }
        if (text === "") {
          if (e) this.#finish(e, false);
          continue;
        }
        if (!e) e = this.#appear(text);
        else if (text !== e.text) this.#grow(e, text);
        this.#finish(e, true);
      }
      this.#normal = rows.slice(top - old);
    } else if (top < old) {
      // The screen grew taller and took lines back from the scrollback:
      // they were printed when they went there.
      const back: (Entry | null)[] = [];
      for (let i = 0; i < old - top; i++) {
        const text = textOf(buf, top + i);
        back.push(text === "" ? null : this.#printedEntry(text));
      }
      this.#normal = [...back, ...this.#normal];
    }
    if (marker === null || marker.isDisposed || top !== old) {
      marker?.dispose();
      this.#top = this.#term.registerMarker(-buf.cursorY) ?? null;
    }
  }

  /** Updates the entries of a screen's rows to its new texts (see the module documentation). */
  #match(rows: (Entry | null)[], texts: string[]): void {
    const next: (Entry | null)[] = new Array(texts.length).fill(null);
    const used = new Set<Entry>();
    for (let y = 0; y < texts.length; y++) {
      const e = rows[y];
      if (e && texts[y] !== "" && e.text === texts[y]) {
        next[y] = e;
        used.add(e);
      }
    }
    if (used.size < texts.length) {
      // Moved: the same text in another row.
      const byText = new Map<string, Entry[]>();
      for (const e of rows) {
        if (!e || used.has(e)) continue;
        const list = byText.get(e.text);
        if (list) list.push(e);
        else byText.set(e.text, [e]);
      }
      for (let y = 0; y < texts.length; y++) {
        if (next[y] || texts[y] === "") continue;
        const e = byText.get(texts[y]!)?.shift();
        if (e) {
          next[y] = e;
          used.add(e);
        }
      }
      for (let y = 0; y < texts.length; y++) {
        const text = texts[y]!;
        if (next[y] || text === "") continue;
        const e = rows[y];
        if (e && !used.has(e) && text.startsWith(e.text)) {
          this.#grow(e, text);
          next[y] = e;
          used.add(e);
        } else {
          next[y] = this.#appear(text);
        }
      }
    }
    for (const e of rows) if (e && !used.has(e)) this.#finish(e, false);
    rows.length = 0;
    rows.push(...next);
  }

  #appear(text: string): Entry {
    const e: Entry = { text, at: this.#now, state: State.Alive, slot: null, printed: null };
    this.#enqueue(e);
    return e;
  }

  /** A line grew: it takes its place in the order now. */
  #grow(e: Entry, text: string): void {
    e.text = text;
    e.at = this.#now;
    if (e.slot === null) return; // printed by a flush: queued again when it leaves
    this.#queue[e.slot - this.#base] = null;
    this.#enqueue(e);
  }

  #enqueue(e: Entry): void {
    e.slot = this.#base + this.#queue.length;
    this.#queue.push(e);
  }

  /** An entry for a line printed before (back from the scrollback). */
  #printedEntry(text: string): Entry {
    return { text, at: this.#now, state: State.Alive, slot: null, printed: text };
  }

  /**
   * A line left the screen: by scrolling into the scrollback (`scrolled`:
   * printed even if the same text was), or by being replaced or cleared.
   */
  #finish(e: Entry, scrolled: boolean): void {
    if (e.state !== State.Alive) return;
    if (this.#nowMs < this.#since || e.printed === e.text) e.state = State.Drop;
    else if (!scrolled && this.#seen.has(e.text)) e.state = State.Drop;
    else {
      e.state = State.Print;
      this.#seen.add(e.text);
      if (e.slot === null) this.#enqueue(e);
    }
    this.#pump(false);
  }

  /** Everything on the screen is finished (a new run). */
  #finishAll(): void {
    for (const e of [...this.#normal, ...this.#alt]) if (e) this.#finish(e, false);
    this.#normal = [];
    this.#alt = [];
  }

  /**
   * Prints the queue's finished lines up to the first line still on the
   * screen; with `all`, past it too (`live`: print lines still on the screen).
   */
  #pump(all: boolean, live = all): void {
    const q = this.#queue;
    while (this.#head < q.length) {
      const e = q[this.#head]!;
      if (e === null) {
        this.#head++;
        continue;
      }
      if (e.state === State.Alive && !all) break;
      q[this.#head++] = null;
      e.slot = null;
      if (e.state === State.Print) {
        this.#out.push({ text: e.text, at: e.at });
      } else if (e.state === State.Alive && live) {
        if (!this.#seen.has(e.text)) {
          this.#seen.add(e.text);
          this.#out.push({ text: e.text, at: e.at });
        }
        e.printed = e.text;
      }
    }
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#base += this.#head;
      this.#head = 0;
    }
  }
}

/**
 * Text of a line as printed: without trailing spaces, and non-breaking
 * spaces (Claude's prompt is `❯` and one) as spaces, so that the same words
 * match however they were drawn.
 */
function textOf(buf: IBuffer, y: number): string {
  const text = lineText(buf, y);
  return (text.includes("\u00a0") ? text.replaceAll("\u00a0", " ") : text).trimEnd();
}

function rowTexts(buf: IBuffer, rows: number): string[] {
  const out: string[] = new Array(rows);
  for (let y = 0; y < rows; y++) out[y] = textOf(buf, buf.baseY + y);
  return out;
}
