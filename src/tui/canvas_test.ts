import assert from "node:assert/strict";
import { Canvas, FrameClock, FrameWriter } from "./canvas.ts";
import { charWidth, textWidth } from "./_width.ts";
import { Terminal } from "../xterm.ts";
import { FakeClock } from "../_fake_clock.ts";

/** The rows of a canvas as text. */
function rowsOf(c: Canvas): string[] {
  return c.chars.map((r) => r.join(""));
}

/** Feeds output to a terminal emulator and returns its screen's lines. */
async function screenAfter(term: Terminal, out: string): Promise<string[]> {
  await new Promise<void>((r) => term.write(out, r));
  const buf = term.buffer.active;
  return Array.from({ length: term.rows }, (_, y) => buf.getLine(y)!.translateToString(false));
}

Deno.test("width: wide CJK and emoji take two columns, combining marks none", () => {
  assert.equal(textWidth("abc"), 3);
  assert.equal(textWidth("日本"), 4);
  assert.equal(textWidth("🎉"), 2);
  assert.equal(textWidth("e\u0301"), 1);
  assert.equal(charWidth(0x200d), 0);
  assert.equal(charWidth(0xfe0f), 0);
  assert.equal(charWidth("─".codePointAt(0)!), 1);
});

Deno.test("canvas: text is clipped with an ellipsis, wide characters kept whole, controls shown", () => {
  const c = new Canvas(10, 3);
  assert.equal(c.text(0, 0, "hello world"), 10);
  assert.equal(rowsOf(c)[0], "hello wor…");
  c.text(1, 0, "ab日本語", "", 6);
  // "ab日本" is 6 columns; the text is 8: cut to 5 columns and "…".
  assert.equal(rowsOf(c)[1], "ab日 …    ");
  c.text(2, 8, "日");
  assert.equal(rowsOf(c)[2], "        日");
  // Overwriting half of a wide character blanks the other half.
  c.text(2, 9, "x");
  assert.equal(rowsOf(c)[2], "         x");
  const d = new Canvas(6, 1);
  d.text(0, 0, "a\x1bb\u0007");
  assert.equal(rowsOf(d)[0], "a?b?  ");
  // Out of bounds: nothing.
  assert.equal(d.text(5, 0, "x"), 0);
  assert.equal(d.text(0, 6, "x"), 0);
});

Deno.test("canvas: ANSI lines keep their colours, or none without colour", () => {
  const c = new Canvas(12, 2);
  c.ansi(0, 0, "\x1b[32mgreen\x1b[0m \x1b[1;31mred\x1b[0m", 12, true);
  assert.equal(rowsOf(c)[0], "green red   ");
  assert.equal(c.styles[0]![0], "32");
  assert.equal(c.styles[0]![5], "");
  assert.equal(c.styles[0]![6], "1;31");
  c.ansi(1, 0, "\x1b[0;32mgreen\x1b[K\x1b[0m", 12, false);
  assert.equal(rowsOf(c)[1], "green       ");
  assert.ok(c.styles[1]!.every((s) => s === ""));
});

/** A 20x4 canvas with three lines: a header, a styled row, a plain row. */
function threeLines(second: string, secondStyle: string, third: string): Canvas {
  const c = new Canvas(20, 4);
  c.text(0, 0, "header");
  c.text(1, 0, second, secondStyle);
  c.text(2, 0, third);
  return c;
}

Deno.test("frame writer: the first frame in full, then only the cells that changed", async () => {
  const w = new FrameWriter();
  const term = new Terminal({ cols: 20, rows: 4, allowProposedApi: true });
  const first = w.frame(threeLines("row one", "32", "row two"));
  assert.match(first, /\x1b\[2J/);
  assert.deepEqual((await screenAfter(term, first)).map((l) => l.trimEnd()), [
    "header",
    "row one",
    "row two",
    "",
  ]);
  // Nothing changed: nothing written.
  assert.equal(w.frame(threeLines("row one", "32", "row two")), "");
  // One word changed: that word only (plus the cursor move and synchronized-output marks).
  const diff = w.frame(threeLines("row one", "32", "row 2"));
  assert.equal(diff, "\x1b[?2026h\x1b[3;5H2  \x1b[?2026l");
  assert.deepEqual((await screenAfter(term, diff)).map((l) => l.trimEnd()), [
    "header",
    "row one",
    "row 2",
    "",
  ]);
  // A style change rewrites the cells with their style, and ends in the default attributes.
  const c = threeLines("row one", "1;31", "row 2");
  const restyled = w.frame(c);
  assert.equal(restyled, "\x1b[?2026h\x1b[2;1H\x1b[0;1;31mrow one\x1b[0m\x1b[?2026l");
  // After invalidate (e.g. coming back from attach): everything again.
  w.invalidate();
  assert.match(w.frame(c), /\x1b\[2J/);
  // A full frame of another size: everything again.
  assert.match(w.frame(new Canvas(10, 4)), /\x1b\[2J/);
  term.dispose();
});

Deno.test("frame writer: changes close together go in one run; the cursor is shown where asked", () => {
  const w = new FrameWriter();
  const a = new Canvas(30, 1);
  a.text(0, 0, "a.b.c.d.e...................z");
  w.frame(a);
  const b = new Canvas(30, 1);
  b.text(0, 0, "A.B.c.d.e...................Z");
  // a→A and b→B are 2 apart: one run; z→Z is far: a run of its own.
  assert.equal(w.frame(b), "\x1b[?2026h\x1b[1;1HA.B\x1b[1;29HZ\x1b[?2026l");
  const withCursor = w.frame(b, { row: 0, col: 3 });
  assert.equal(withCursor, "\x1b[?2026h\x1b[1;4H\x1b[?25h\x1b[?2026l");
  // Same place: nothing; another place: moved; none: hidden.
  assert.equal(w.frame(b, { row: 0, col: 3 }), "");
  assert.equal(w.frame(b, { row: 0, col: 5 }), "\x1b[?2026h\x1b[1;6H\x1b[?2026l");
  assert.equal(w.frame(b, null), "\x1b[?2026h\x1b[?25l\x1b[?2026l");
});

Deno.test("frame writer: a changed wide character is rewritten whole", async () => {
  const w = new FrameWriter();
  const term = new Terminal({ cols: 10, rows: 1, allowProposedApi: true });
  const a = new Canvas(10, 1);
  a.text(0, 0, "x日y");
  await screenAfter(term, w.frame(a));
  const b = new Canvas(10, 1);
  b.text(0, 0, "x本y");
  const out = w.frame(b);
  assert.match(out, /\x1b\[1;2H本/);
  assert.equal((await screenAfter(term, out))[0]!.trimEnd(), "x本y");
  term.dispose();
});

Deno.test("frame clock: any number of requests, at most one frame per interval, none owed", () => {
  const timers = new FakeClock();
  const frames: number[] = [];
  const clock = new FrameClock(100, () => frames.push(timers.t), timers);
  clock.request();
  clock.request();
  timers.advance(0);
  assert.deepEqual(frames, [0]);
  // 50 requests over the next second, one every 20 ms.
  for (let i = 0; i < 50; i++) {
    timers.advance(20);
    clock.request();
  }
  timers.advance(200);
  assert.ok(frames.length <= 12, `${frames.length} frames`);
  for (let i = 1; i < frames.length; i++) assert.ok(frames[i]! - frames[i - 1]! >= 100);
  // The last request was drawn.
  assert.ok(frames.at(-1)! >= 1000);
  // Cancelled: not drawn.
  const n = frames.length;
  clock.request();
  clock.cancel();
  timers.advance(500);
  assert.equal(frames.length, n);
});
