/**
 * Running `watch` on a terminal a test owns, and checking that it left the
 * terminal as it found it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAIN } from "./_harness.ts";
import { TermClient } from "./_term.ts";
import { lineText, Terminal } from "../src/xterm.ts";
import { ModeTracker } from "../src/daemon/_modes.ts";

/** What the terminal shows before `watch` starts. */
export const BEFORE = "BEFORE-WATCH";

/** Runs `watch ARGS` on a new terminal, after printing a line on its main screen. */
export function startWatch(
  env: Record<string, string>,
  size = { cols: 120, rows: 30 },
  args: string[] = [],
): TermClient {
  return TermClient.spawnArgv(
    [
      "/bin/sh",
      "-c",
      `printf '${BEFORE}\\n'; exec "$@"`,
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      MAIN,
      "watch",
      ...args,
    ],
    env,
    size,
  );
}

const MODE_KEYS = [
  "applicationCursorKeysMode",
  "applicationKeypadMode",
  "bracketedPasteMode",
  "insertMode",
  "mouseTrackingMode",
  "originMode",
  "reverseWraparoundMode",
  "sendFocusMode",
  "synchronizedOutputMode",
  "wraparoundMode",
] as const;

function modesOf(t: Terminal): Record<string, unknown> {
  return Object.fromEntries(MODE_KEYS.map((k) => [k, t.modes[k]]));
}

/**
 * Checks that everything watch wrote leaves the terminal as it found it:
 * the main screen (with what was on it), every mode as a fresh terminal's,
 * the cursor visible. Returns the main screen's lines.
 */
export async function assertRestored(t: TermClient, cols: number, rows: number): Promise<string[]> {
  const term = new Terminal({ cols, rows, allowProposedApi: true });
  const fresh = new Terminal({ cols, rows, allowProposedApi: true });
  try {
    await new Promise<void>((r) => term.write(t.raw, r));
    assert.equal(term.buffer.active.type, "normal", "back on the main screen");
    assert.deepEqual(modesOf(term), modesOf(fresh));
    const modes = new ModeTracker();
    modes.feed(new TextEncoder().encode(t.raw));
    assert.equal(modes.cursorHidden, false, "the cursor is visible");
    assert.equal(modes.mouseEncoding, null);
    assert.deepEqual(modes.kittyStack, []);
    const buf = term.buffer.active;
    const lines = Array.from({ length: rows }, (_, y) => lineText(buf, y).trimEnd());
    assert.equal(lines[0], BEFORE, "the main screen kept what was on it");
    return lines;
  } finally {
    term.dispose();
    fresh.dispose();
  }
}
