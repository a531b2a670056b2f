/**
 * Named keys for `send --keys`, and the detach key of `attach`.
 *
 * Names are case-insensitive: `Enter`, `Esc`, `Up`, `C-c`, `M-x`, `F5`…
 * Cursor keys follow the program's mode (DECCKM): `ESC O A` in application
 * mode, `ESC [ A` otherwise.
 *
 * @module
 */

const SIMPLE: Record<string, string> = {
  enter: "\r",
  return: "\r",
  tab: "\t",
  btab: "\x1b[Z",
  "s-tab": "\x1b[Z",
  esc: "\x1b",
  escape: "\x1b",
  space: " ",
  bspace: "\x7f",
  backspace: "\x7f",
  pageup: "\x1b[5~",
  ppage: "\x1b[5~",
  pagedown: "\x1b[6~",
  npage: "\x1b[6~",
  insert: "\x1b[2~",
  ic: "\x1b[2~",
  delete: "\x1b[3~",
  dc: "\x1b[3~",
  f1: "\x1bOP",
  f2: "\x1bOQ",
  f3: "\x1bOR",
  f4: "\x1bOS",
  f5: "\x1b[15~",
  f6: "\x1b[17~",
  f7: "\x1b[18~",
  f8: "\x1b[19~",
  f9: "\x1b[20~",
  f10: "\x1b[21~",
  f11: "\x1b[23~",
  f12: "\x1b[24~",
};

const CURSOR: Record<string, string> = {
  up: "A",
  down: "B",
  right: "C",
  left: "D",
  home: "H",
  end: "F",
};

/** Every accepted key name, for help and error messages. */
export const KEY_NAMES: readonly string[] = [
  "Enter",
  "Tab",
  "BTab",
  "Esc",
  "Space",
  "BSpace",
  "Up",
  "Down",
  "Left",
  "Right",
  "Home",
  "End",
  "PageUp",
  "PageDown",
  "Insert",
  "Delete",
  "F1…F12",
  "C-a…C-z",
  "C-@",
  "C-[",
  "C-\\",
  "C-]",
  "C-^",
  "C-_",
  "M-<key>",
];

/** What the encoding depends on. */
export interface KeyModes {
  /** The program enabled application cursor keys. */
  applicationCursor: boolean;
}

/**
 * The bytes a terminal sends for a named key, or null when the name is not
 * a key.
 */
export function encodeKey(name: string, modes: KeyModes): string | null {
  const lower = name.toLowerCase();
  if (lower.startsWith("m-") && name.length > 2) {
    const rest = encodeKey(name.slice(2), modes) ?? (name.length === 3 ? name.slice(2) : null);
    return rest === null ? null : "\x1b" + rest;
  }
  if (lower.startsWith("c-") && name.length === 3) {
    return control(name[2]!);
  }
  if (lower in SIMPLE) return SIMPLE[lower]!;
  if (lower in CURSOR) {
    return (modes.applicationCursor ? "\x1bO" : "\x1b[") + CURSOR[lower]!;
  }
  return null;
}

/** The control character for `C-<ch>`, or null. */
export function control(ch: string): string | null {
  if (ch === " " || ch === "@" || ch === "2") return "\x00";
  const c = ch.toLowerCase().charCodeAt(0);
  if (c >= 0x61 && c <= 0x7a) return String.fromCharCode(c - 0x60);
  const punct: Record<string, string> = {
    "[": "\x1b",
    "\\": "\x1c",
    "]": "\x1d",
    "^": "\x1e",
    "_": "\x1f",
    "?": "\x7f",
  };
  return punct[ch] ?? null;
}

/** A parsed detach key: a prefix byte and the key that follows it, or a single byte. */
export interface DetachKey {
  /** First byte. */
  prefix: number;
  /** Second byte, or null when the prefix alone detaches. */
  key: number | null;
  /** As configured, for messages ("C-b d"). */
  label: string;
}

/**
 * Parses a detach key spec: `"C-b d"` (prefix, then key; the prefix twice
 * sends it through) or a single control key like `"C-\\"`.
 * @throws {Error} when the spec is not understood
 */
export function parseDetachKey(spec: string): DetachKey {
  const parts = spec.trim().split(/\s+/);
  if (parts.length < 1 || parts.length > 2 || parts[0] === "") {
    throw new Error(`invalid detach key "${spec}": expected e.g. "C-b d" or "C-\\\\"`);
  }
  const first = keyByte(parts[0]!);
  if (first === null) throw new Error(`invalid detach key "${spec}": "${parts[0]}" is not a key`);
  let second: number | null = null;
  if (parts[1] !== undefined) {
    second = keyByte(parts[1]);
    if (second === null) {
      throw new Error(`invalid detach key "${spec}": "${parts[1]}" is not a key`);
    }
  }
  return { prefix: first, key: second, label: spec.trim() };
}

function keyByte(token: string): number | null {
  if (token.length === 1) return token.charCodeAt(0);
  const enc = encodeKey(token, { applicationCursor: false });
  if (enc === null || enc.length !== 1) return null;
  return enc.charCodeAt(0);
}
