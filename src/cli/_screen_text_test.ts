import assert from "node:assert/strict";
import { ScreenText } from "./_screen_text.ts";

type Step = string | { resize: [number, number] } | { start: [number, number] } | {
  at: string;
};

/** Renders chunks of output (each string one logged chunk) at `cols`x`rows`. */
async function render(
  steps: Step[],
  opts: { cols?: number; rows?: number; since?: string } = {},
): Promise<string[]> {
  const screen = new ScreenText({
    cols: opts.cols ?? 40,
    rows: opts.rows ?? 5,
    since: opts.since ? Date.parse(opts.since) : null,
  });
  const enc = new TextEncoder();
  let at = "2026-01-01T00:00:00.000Z";
  const out: string[] = [];
  try {
    for (const s of steps) {
      if (typeof s === "string") await screen.feed(enc.encode(s), at);
      else if ("at" in s) at = s.at;
      else if ("resize" in s) screen.resize(s.resize[0], s.resize[1], at);
      else await screen.restart(s.start[0], s.start[1], at);
      out.push(...screen.take().map((l) => l.text));
    }
    await screen.flush();
    out.push(...screen.take().map((l) => l.text));
  } finally {
    screen.dispose();
  }
  return out;
}

const CSI = "\x1b[";

Deno.test("text placed with cursor movements keeps its spaces", async () => {
  // As Claude Code draws: each word at its column.
  const out = await render([
    `${CSI}2J${CSI}H\r${CSI}1B❯${CSI}3GECHO${CSI}8Grun${CSI}12Gthe${CSI}16Gtests`,
  ]);
  assert.deepEqual(out, ["❯ ECHO run the tests"]);
  // Spaces written at the end of a line are not part of it.
  assert.deepEqual(await render(["done   ", `${CSI}2;1Hdone`]), ["done"]);
});

Deno.test("non-breaking spaces are spaces: the same words drawn either way are one line", async () => {
  const out = await render([
    `${CSI}5;1H❯\u00a0ECHO run`, // typed in Claude's prompt box
    `${CSI}5;1H${CSI}K❯\u00a0${CSI}2;1H❯${CSI}3GECHO run`, // submitted: in the conversation
  ]);
  assert.deepEqual(out, ["❯ ECHO run", "❯"]); // the prompt once, then the empty box
});

Deno.test("lines scrolled off the normal screen are printed in order, repeats included", async () => {
  const lines = Array.from({ length: 12 }, (_, i) => (i === 3 || i === 7 ? "ok" : `line ${i}`));
  const out = await render(lines.map((l) => l + "\r\n"), { rows: 4 });
  assert.deepEqual(out, lines);
});

Deno.test("more lines than the emulator's scrollback in one chunk are all printed", async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `n${i}`);
  const out = await render([lines.join("\r\n") + "\r\n"], { rows: 3 });
  assert.deepEqual(out, lines);
});

Deno.test("a frame redrawn in place prints each line once; replaced lines in order", async () => {
  const frame = (spin: string) => `${CSI}H${CSI}2Jheader${CSI}2;1H${spin} Working…${CSI}4;1Hfooter`;
  const out = await render([
    frame("⠋"),
    frame("⠙"),
    frame("⠋"), // back to an earlier frame: printed before
    frame("⠹"),
    `${CSI}2;1H${CSI}K● Done.`,
  ]);
  // In the order they appeared: the footer was there from the first frame.
  assert.deepEqual(out, ["header", "⠋ Working…", "footer", "⠙ Working…", "⠹ Working…", "● Done."]);
});

Deno.test("a line written piece by piece (typing) is printed once, complete", async () => {
  const out = await render(["> ", "h", "e", "l", "l", "o", "\r\nnext"]);
  assert.deepEqual(out, ["> hello", "next"]);
});

Deno.test("a line that grows takes its place in the order when it grew", async () => {
  // A prompt box drawn first, answers above it, then typing in the box.
  const out = await render([`${CSI}5;1H> `, `${CSI}1;1Hanswer one`, `${CSI}5;3Hhi`]);
  assert.deepEqual(out, ["answer one", "> hi"]);
});

Deno.test("a full-screen program scrolling by redrawing prints each line once", async () => {
  const draw = (from: number) =>
    CSI + "H" + Array.from({ length: 4 }, (_, i) => `${CSI}${i + 1};1H${CSI}Kmsg ${from + i}`)
      .join("");
  const out = await render([
    `${CSI}?1049h`,
    draw(1),
    draw(2),
    draw(3),
    `${CSI}?1049l`,
  ], { rows: 4 });
  assert.deepEqual(out, ["msg 1", "msg 2", "msg 3", "msg 4", "msg 5", "msg 6"]);
});

Deno.test("alternate screen: its frames are printed, also one left in the chunk that drew it", async () => {
  const out = await render([
    "before\r\n",
    `${CSI}?1049h${CSI}H${CSI}2Jframe one`,
    // The last frame and the switch back in one chunk (Claude's /exit).
    `${CSI}H${CSI}2Jframe two${CSI}2;1Hbye${CSI}?1049l`,
    "\r\nafter\r\n",
  ]);
  assert.deepEqual(out, ["before", "frame one", "frame two", "bye", "after"]);
});

Deno.test("a screen cleared and redrawn: what was cleared is printed, also within one chunk", async () => {
  const out = await render([
    "one\r\ntwo",
    `${CSI}2J${CSI}Hthree`,
    `${CSI}2;1Hflash${CSI}2J${CSI}Hfour`,
  ]);
  assert.deepEqual(out, ["one", "two", "three", "flash", "four"]);
});

Deno.test("the recorded sizes are used: resize, and a new run's size", async () => {
  const out = await render([
    { resize: [10, 5] },
    "0123456789ABCDEF\r\n",
    { start: [20, 5] },
    "0123456789ABCDEF\r\n",
  ], { cols: 40 });
  assert.deepEqual(out, ["0123456789", "ABCDEF", "0123456789ABCDEF"]);
});

Deno.test("lines taken back from the scrollback by a taller screen are not printed twice", async () => {
  // a and b scroll off, come back when the screen grows, and scroll off again.
  const out = await render(["a\r\nb\r\nc\r\nd\r\ne", { resize: [40, 5] }, "\r\nf\r\ng\r\nh"], {
    rows: 3,
  });
  assert.deepEqual(out, ["a", "b", "c", "d", "e", "f", "g", "h"]);
});

Deno.test("--since: lines gone before it are dropped, lines still on the screen are kept", async () => {
  const out = await render([
    "old one\r\nold two",
    `${CSI}2;1H${CSI}Kreplaced`,
    { at: "2026-01-01T00:10:00.000Z" },
    "\r\nnew",
  ], { since: "2026-01-01T00:05:00.000Z" });
  assert.deepEqual(out, ["old one", "replaced", "new"]);
});

Deno.test("flush prints what is on the screen now, and not again later", async () => {
  const screen = new ScreenText({ cols: 20, rows: 3 });
  const enc = new TextEncoder();
  const at = "2026-01-01T00:00:00.000Z";
  try {
    await screen.feed(enc.encode("first\r\nsecond"), at);
    assert.equal(screen.pending, true);
    assert.deepEqual(screen.take(), []);
    await screen.flush();
    assert.deepEqual(screen.take().map((l) => l.text), ["first", "second"]);
    assert.equal(screen.pending, false);
    await screen.feed(enc.encode(" grown\r\nthird\r\n\r\n\r\n"), at);
    await screen.flush();
    assert.deepEqual(screen.take().map((l) => l.text), ["second grown", "third"]);
  } finally {
    screen.dispose();
  }
});

Deno.test("a full reset (RIS) finishes the screen", async () => {
  const out = await render(["gone soon", "\x1bc", "fresh"]);
  assert.deepEqual(out, ["gone soon", "fresh"]);
});
