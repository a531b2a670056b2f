/**
 * Reading Claude Code's input box off its screen, for the one question hooks
 * cannot answer: is the text `send` typed still sitting there, unsubmitted?
 * (Statuses never come from the screen; only `send`'s recovery looks at it.)
 *
 * Claude draws its input box as the text between the last two horizontal
 * rules of the screen, the first line led by its prompt mark:
 *
 * ```
 * ────────────────────────────
 * ❯ fix the failing test
 * ────────────────────────────
 * ```
 *
 * @module
 */

/** A rule: a line that is mostly box-drawing horizontals. */
function isRule(line: string): boolean {
  const t = line.trim();
  if (t.length < 10) return false;
  let h = 0;
  for (const ch of t) if (ch === "─" || ch === "━" || ch === "═") h++;
  return h >= t.length * 0.8;
}

/**
 * The text in Claude's input box (prompt mark and padding removed, lines
 * joined with spaces), `""` when it is empty, or null when no input box is on
 * the screen (a dialog covers it, or this is not Claude).
 */
export function claudeInputBox(screen: string): string | null {
  const lines = screen.split("\n");
  let bottom = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (isRule(lines[i]!)) {
      if (bottom === -1) {
        bottom = i;
        continue;
      }
      const inside = lines.slice(i + 1, bottom);
      if (inside.length === 0) return null;
      const first = inside[0]!.trimStart();
      if (!/^[❯>]/.test(first)) return null;
      inside[0] = first.replace(/^[❯>]\s?/, "");
      return inside.map((l) => l.replace(/^\s*│?\s?/, "").replace(/\s*│?\s*$/, "")).join(" ")
        .replace(/\s+/g, " ").trim();
    }
  }
  return null;
}

/** Text with every run of whitespace as one space, trimmed. */
export function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Whether the input box shows (the start of) `text`: the box holds it, or
 * what fits of it, or Claude's placeholder for a long paste.
 */
export function boxShows(box: string, text: string): boolean {
  const b = squash(box);
  const t = squash(text);
  if (b === "" || t === "") return false;
  if (/\[Pasted text #\d+/.test(b)) return true;
  const head = t.slice(0, Math.min(t.length, 24));
  return b.startsWith(head) || (b.length >= 8 && t.startsWith(b.replace(/…$/, "")));
}
