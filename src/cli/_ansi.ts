/**
 * Streaming removal of terminal escape sequences, for `--strip-ansi`: CSI
 * (`ESC [ … final`), OSC and other strings (`ESC ] … BEL|ST`, DCS, SOS, PM,
 * APC), two- and three-byte escapes, and control characters other than
 * newline and tab. A sequence split across pushes is still removed whole.
 *
 * @module
 */

const enum S {
  Text,
  Esc,
  EscInter,
  Csi,
  Str,
  StrEsc,
}

/** Removes escape sequences from text fed piece by piece. */
export class AnsiStripper {
  #state = S.Text;
  /** The current string sequence ends with BEL too (OSC). */
  #bel = false;

  /** Feeds text; returns it without escape sequences and control characters. */
  push(text: string): string {
    let out = "";
    let runStart = -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#state === S.Text) {
        const plain = c === 10 || c === 9 || (c >= 0x20 && c !== 0x7f && !(c >= 0x80 && c < 0xa0));
        if (plain) {
          if (runStart === -1) runStart = i;
          continue;
        }
        if (runStart !== -1) {
          out += text.slice(runStart, i);
          runStart = -1;
        }
        if (c === 0x1b) this.#state = S.Esc;
        else if (c === 0x9b) this.#state = S.Csi;
        else if (c === 0x9d) this.#startString(true);
        else if (c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) this.#startString(false);
        continue;
      }
      switch (this.#state) {
        case S.Esc:
          if (c === 0x5b) this.#state = S.Csi; // [
          else if (c === 0x5d) this.#startString(true); // ]
          else if (c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) this.#startString(false);
          else if (c >= 0x20 && c <= 0x2f) this.#state = S.EscInter;
          else if (c === 0x1b) this.#state = S.Esc;
          else this.#state = S.Text;
          break;
        case S.EscInter:
          if (c < 0x20 || c > 0x2f) this.#state = S.Text;
          break;
        case S.Csi:
          if (c >= 0x40 && c <= 0x7e) this.#state = S.Text;
          else if (c === 0x1b) this.#state = S.Esc;
          break;
        case S.Str:
          if (c === 0x1b) this.#state = S.StrEsc;
          else if (c === 0x9c || (this.#bel && c === 0x07)) this.#state = S.Text;
          break;
        case S.StrEsc:
          this.#state = c === 0x5c ? S.Text : c === 0x1b ? S.StrEsc : S.Str;
          break;
      }
    }
    if (runStart !== -1) out += text.slice(runStart);
    return out;
  }

  #startString(bel: boolean): void {
    this.#state = S.Str;
    this.#bel = bel;
  }
}

/** `text` without escape sequences and control characters. */
export function stripAnsi(text: string): string {
  return new AnsiStripper().push(text);
}
