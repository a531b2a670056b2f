/**
 * Text from outside (a session's directory or name, a hook's detail, a
 * config key, an error that echoes what the user typed) made safe to print
 * to a terminal: control characters are shown as escapes instead of acting.
 * Every human-readable output goes through {@linkcode printable}; JSON output
 * does not need to (JSON escapes them itself).
 *
 * @module
 */

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e" };

/**
 * C0 controls and DEL, C1 controls (8-bit CSI, OSC…), and the Unicode
 * characters that reorder or break lines on screen (bidi overrides and
 * isolates, line and paragraph separators).
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every control character replaced by a visible escape: `\n`,
 * `\r`, `\t`, `\e` (ESC), `\xHH` for other C0/C1 controls and DEL, `\uHHHH`
 * for bidi and separator characters. Nothing else changes.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
