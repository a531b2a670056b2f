/**
 * Keys from a raw terminal's input: printable characters, Enter, Esc,
 * Backspace, arrows and the other cursor keys (in their CSI and SS3 forms),
 * and Ctrl-letters. Pure: bytes in, keys out.
 *
 * @module
 */

/** A key. `name` is `char` (with `ch`), a key name, or `ctrl-<letter>`. */
export interface Key {
  name: string;
  /** The character typed (`char`, and `alt` for Alt/Meta with a character). */
  ch?: string;
}

const CSI_FINAL: Record<string, string> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "backtab",
};

const CSI_TILDE: Record<string, string> = {
  "1": "home",
  "7": "home",
  "4": "end",
  "8": "end",
  "2": "insert",
  "3": "delete",
  "5": "pageup",
  "6": "pagedown",
};

/** Turns input bytes into keys; a sequence cut between reads is completed by the next read. */
export class KeyReader {
  #decoder = new TextDecoder();
  #carry = "";

  /** The keys in `bytes` (with what an earlier read left unfinished). */
  push(bytes: Uint8Array): Key[] {
    const text = this.#carry + this.#decoder.decode(bytes, { stream: true });
    this.#carry = "";
    const keys: Key[] = [];
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      if (c === "\x1b") {
        const used = this.#escape(text, i, keys);
        if (used === -1) {
          // Unfinished: a lone Esc at the end of a read is the Esc key.
          if (i + 1 === text.length) {
            keys.push({ name: "escape" });
            i++;
            continue;
          }
          this.#carry = text.slice(i);
          break;
        }
        i = used;
        continue;
      }
      const code = c.charCodeAt(0);
      if (c === "\r" || c === "\n") keys.push({ name: "enter" });
      else if (code === 0x7f || code === 0x08) keys.push({ name: "backspace" });
      else if (c === "\t") keys.push({ name: "tab" });
      else if (code === 0) keys.push({ name: "ctrl-space" });
      else if (code < 0x20) keys.push({ name: `ctrl-${String.fromCharCode(code + 0x60)}` });
      else {
        const cp = text.codePointAt(i)!;
        const ch = String.fromCodePoint(cp);
        if (cp >= 0x80 && cp < 0xa0) {
          i += ch.length;
          continue; // C1 controls: nothing
        }
        keys.push({ name: "char", ch });
        i += ch.length;
        continue;
      }
      i++;
    }
    return keys;
  }

  /** Parses the escape sequence at `at`: the index after it, or -1 when the text ends inside it. */
  #escape(text: string, at: number, keys: Key[]): number {
    const next = text[at + 1];
    if (next === undefined) return -1;
    if (next === "[") {
      let j = at + 2;
      while (j < text.length && /[0-9;?<=>]/.test(text[j]!)) j++;
      if (j >= text.length) return text.length - at > 32 ? text.length : -1;
      const params = text.slice(at + 2, j);
      const final = text[j]!;
      if (final === "~") {
        const name = CSI_TILDE[params.split(";")[0]!];
        if (name) keys.push({ name });
      } else if (CSI_FINAL[final]) {
        keys.push({ name: CSI_FINAL[final]! });
      } else if (final === "M" && params === "") {
        return Math.min(text.length, j + 4); // X10 mouse report: three bytes follow
      }
      return j + 1;
    }
    if (next === "O") {
      const final = text[at + 2];
      if (final === undefined) return -1;
      const name = CSI_FINAL[final];
      if (name) keys.push({ name });
      return at + 3;
    }
    if (next === "\x1b") {
      keys.push({ name: "escape" });
      return at + 1;
    }
    keys.push({ name: "alt", ch: next });
    return at + 2;
  }
}
