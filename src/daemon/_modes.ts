/**
 * Tracks terminal modes a program sets that the xterm serializer does not
 * reproduce: cursor visibility (DECTCEM), mouse encodings (SGR, urxvt, UTF-8),
 * the kitty keyboard protocol flags, xterm's modifyOtherKeys, and the cursor
 * style. Escape sequences split across chunks are reassembled.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";

const ESC = 0x1b;
const MAX_CARRY = 64;
/** Final bytes of the CSI sequences `#apply` acts on: h, l, m (only `>…m`), p, q, u. */
const TRACKED_FINALS = new Set([0x68, 0x6c, 0x6d, 0x70, 0x71, 0x75]);

/** Sequences that put a terminal back to the defaults of everything tracked here and by the serializer. */
export const RESET_MODES = "\x1b[?25h" + // cursor visible
  "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?9l" + // mouse tracking off
  "\x1b[?1005l\x1b[?1006l\x1b[?1015l" + // mouse encodings off
  "\x1b[?1004l" + // focus events off
  "\x1b[?2004l" + // bracketed paste off
  "\x1b[?1l\x1b>" + // normal cursor keys, normal keypad
  "\x1b[?66l" +
  "\x1b[4l" + // replace mode
  "\x1b[?7h" + // autowrap on
  "\x1b[<99u" + // pop every kitty keyboard level
  "\x1b[>4;0m" + // modifyOtherKeys off
  "\x1b[0 q" + // default cursor style
  "\x1b[0m"; // default attributes

/** Incrementally parses output and remembers the tracked modes. */
export class ModeTracker {
  /** Bracketed paste (?2004); the serializer restores it, `send` needs to know. */
  bracketedPaste = false;
  /** Application cursor keys (?1); the serializer restores it, `send` needs to know. */
  applicationCursor = false;
  cursorHidden = false;
  mouseEncoding: 1005 | 1006 | 1015 | null = null;
  kittyStack: number[] = [];
  modifyOtherKeys = 0;
  cursorStyle = 0;
  #carry: Uint8Array | null = null;

  /** Feeds output bytes. */
  feed(chunk: Uint8Array): void {
    const buf = this.#carry ? concatBytes([this.#carry, chunk]) : chunk;
    this.#carry = null;
    let i = 0;
    while (i < buf.length) {
      const e = buf.indexOf(ESC, i);
      if (e === -1) return;
      const used = this.#parseAt(buf, e);
      if (used === -1) {
        // The chunk ends inside a sequence: keep its start for the next one.
        if (buf.length - e <= MAX_CARRY) this.#carry = buf.slice(e);
        return;
      }
      i = used;
    }
  }

  /** Sequences that set the tracked modes on a terminal in default state. */
  restoreSequence(): string {
    let s = "";
    if (this.cursorHidden) s += "\x1b[?25l";
    if (this.mouseEncoding !== null) s += `\x1b[?${this.mouseEncoding}h`;
    for (const flags of this.kittyStack) s += `\x1b[>${flags}u`;
    if (this.modifyOtherKeys) s += `\x1b[>4;${this.modifyOtherKeys}m`;
    if (this.cursorStyle) s += `\x1b[${this.cursorStyle} q`;
    return s;
  }

  #reset(): void {
    this.bracketedPaste = false;
    this.applicationCursor = false;
    this.cursorHidden = false;
    this.mouseEncoding = null;
    this.kittyStack = [];
    this.modifyOtherKeys = 0;
    this.cursorStyle = 0;
  }

  /**
   * Parses the escape sequence at `buf[at]` (an ESC). Returns the index just
   * past it, or -1 when the buffer ends inside it.
   */
  #parseAt(buf: Uint8Array, at: number): number {
    if (at + 1 >= buf.length) return -1;
    const kind = buf[at + 1]!;
    if (kind === 0x63) { // ESC c: full reset
      this.#reset();
      return at + 2;
    }
    if (kind !== 0x5b) return at + 1; // not a CSI: nothing we track
    let j = at + 2;
    let prefix = "";
    if (j < buf.length && buf[j]! >= 0x3c && buf[j]! <= 0x3f) {
      prefix = String.fromCharCode(buf[j]!);
      j++;
    }
    const paramsAt = j;
    let interAt = -1;
    while (j < buf.length) {
      const c = buf[j]!;
      if (c >= 0x30 && c <= 0x3f) {
        if (interAt !== -1) return j; // malformed
      } else if (c >= 0x20 && c <= 0x2f) {
        if (interAt === -1) interAt = j;
      } else if (c >= 0x40 && c <= 0x7e) {
        // Only a few finals set what is tracked here: the rest (SGR above
        // all) are skipped without decoding their parameters.
        if (TRACKED_FINALS.has(c) && (c !== 0x6d || prefix === ">")) {
          const end = interAt === -1 ? j : interAt;
          this.#apply(
            prefix,
            String.fromCharCode(...buf.subarray(paramsAt, end)),
            interAt === -1 ? "" : String.fromCharCode(...buf.subarray(interAt, j)),
            String.fromCharCode(c),
          );
        }
        return j + 1;
      } else {
        return j; // control character inside a sequence: abandoned
      }
      if (j - at > MAX_CARRY) return j;
      j++;
    }
    return -1;
  }

  #apply(prefix: string, params: string, inter: string, final: string): void {
    const nums = params === "" ? [] : params.split(";").map((p) => Number(p.split(":")[0]));
    if (prefix === "?" && inter === "" && (final === "h" || final === "l")) {
      const on = final === "h";
      for (const n of nums) {
        if (n === 25) this.cursorHidden = !on;
        else if (n === 2004) this.bracketedPaste = on;
        else if (n === 1) this.applicationCursor = on;
        else if (n === 1005 || n === 1006 || n === 1015) {
          if (on) this.mouseEncoding = n;
          else if (this.mouseEncoding === n) this.mouseEncoding = null;
        }
      }
    } else if (final === "u" && inter === "") {
      if (prefix === ">") {
        this.kittyStack.push(nums[0] || 0);
        if (this.kittyStack.length > 16) this.kittyStack.shift();
      } else if (prefix === "<") {
        const n = nums[0] || 1;
        this.kittyStack.splice(Math.max(0, this.kittyStack.length - n));
      } else if (prefix === "=") {
        const flags = nums[0] || 0;
        const mode = nums[1] || 1;
        const top = this.kittyStack.length ? this.kittyStack.pop()! : 0;
        const next = mode === 1 ? flags : mode === 2 ? top | flags : top & ~flags;
        this.kittyStack.push(next);
      }
    } else if (prefix === ">" && final === "m" && inter === "" && nums[0] === 4) {
      this.modifyOtherKeys = nums[1] ?? 0;
    } else if (prefix === "" && inter === " " && final === "q") {
      this.cursorStyle = nums[0] ?? 0;
    } else if (prefix === "" && inter === "!" && final === "p") {
      // DECSTR soft reset
      this.cursorHidden = false;
    }
  }
}
