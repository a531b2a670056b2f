/**
 * Client-side terminal logic for attaching, kept free of I/O so it can be
 * tested: spotting the detach key in typed bytes, and keeping the program's
 * alternate-screen switches from leaving the client's alternate screen.
 *
 * @module
 */

import type { DetachKey } from "../keys.ts";
import { concatBytes } from "../bytes.ts";

/** Finds the detach key in keystrokes; everything else is forwarded. */
export class DetachDetector {
  #key: DetachKey;
  #armed = false;

  constructor(key: DetachKey) {
    this.#key = key;
  }

  /** Bytes to forward to the program, and whether the user asked to detach. */
  push(chunk: Uint8Array): { forward: Uint8Array; detach: boolean } {
    const out: number[] = [];
    const { prefix, key } = this.#key;
    for (const b of chunk) {
      if (key === null) {
        if (b === prefix) return { forward: new Uint8Array(out), detach: true };
        out.push(b);
        continue;
      }
      if (this.#armed) {
        this.#armed = false;
        if (b === key) return { forward: new Uint8Array(out), detach: true };
        // The prefix twice sends it once; prefix + anything else sends both.
        out.push(prefix);
        if (b !== prefix) out.push(b);
      } else if (b === prefix) {
        this.#armed = true;
      } else {
        out.push(b);
      }
    }
    return { forward: new Uint8Array(out), detach: false };
  }
}

const enc = new TextEncoder();
const CLEAR = enc.encode("\x1b[H\x1b[2J");

/** Sequences that would switch the client's terminal between screens. */
const SWITCHES: { seq: Uint8Array; leaves: boolean }[] = [
  { seq: enc.encode("\x1b[?1049l"), leaves: true },
  { seq: enc.encode("\x1b[?1047l"), leaves: true },
  { seq: enc.encode("\x1b[?47l"), leaves: true },
  { seq: enc.encode("\x1bc"), leaves: true },
  { seq: enc.encode("\x1b[?1049h"), leaves: false },
  { seq: enc.encode("\x1b[?1047h"), leaves: false },
  { seq: enc.encode("\x1b[?47h"), leaves: false },
];
const LONGEST = Math.max(...SWITCHES.map((s) => s.seq.length));

/**
 * The client draws on its terminal's alternate screen. Programs that switch
 * screens themselves would take it back to the user's shell screen, so those
 * switches become "clear the screen", and leaving the program's alternate
 * screen asks for a redraw (the daemon's screen model knows what the main
 * screen holds).
 */
export class AltScreenGuard {
  #carry: Uint8Array | null = null;

  /** Filters output; `redraw` is true when a redraw should be requested. */
  push(chunk: Uint8Array): { bytes: Uint8Array; redraw: boolean } {
    const buf = this.#carry ? concatBytes([this.#carry, chunk]) : chunk;
    this.#carry = null;
    const parts: Uint8Array[] = [];
    let redraw = false;
    let from = 0;
    let i = buf.indexOf(0x1b);
    while (i !== -1) {
      let matched = false;
      for (const s of SWITCHES) {
        if (startsWith(buf, i, s.seq)) {
          parts.push(buf.subarray(from, i), CLEAR);
          if (s.leaves) redraw = true;
          from = i + s.seq.length;
          matched = true;
          break;
        }
      }
      if (!matched && buf.length - i < LONGEST && SWITCHES.some((s) => isPrefixAt(buf, i, s.seq))) {
        // The chunk ends with what may be the start of a switch: hold it.
        parts.push(buf.subarray(from, i));
        this.#carry = buf.slice(i);
        return { bytes: concatBytes(parts), redraw };
      }
      i = buf.indexOf(0x1b, matched ? from : i + 1);
    }
    parts.push(buf.subarray(from));
    return { bytes: concatBytes(parts), redraw };
  }
}

function startsWith(buf: Uint8Array, at: number, seq: Uint8Array): boolean {
  if (at + seq.length > buf.length) return false;
  for (let k = 0; k < seq.length; k++) if (buf[at + k] !== seq[k]) return false;
  return true;
}

/** Whether buf[at..end] is a proper prefix of seq. */
function isPrefixAt(buf: Uint8Array, at: number, seq: Uint8Array): boolean {
  const n = buf.length - at;
  if (n >= seq.length) return false;
  for (let k = 0; k < n; k++) if (buf[at + k] !== seq[k]) return false;
  return true;
}
