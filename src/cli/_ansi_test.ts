import assert from "node:assert/strict";
import { AnsiStripper, stripAnsi } from "./_ansi.ts";

Deno.test("strip-ansi removes CSI, OSC, escapes and control characters", () => {
  assert.equal(stripAnsi("\x1b[1;31mred\x1b[0m plain"), "red plain");
  assert.equal(stripAnsi("a\x1b]0;title\x07b\x1b]8;;http://x\x1b\\c"), "abc");
  assert.equal(stripAnsi("\x1b(Bx\x1b=y\x1b>z\x1b7"), "xyz");
  assert.equal(stripAnsi("\x1b[?1049h\x1b[2J\x1b[H"), "");
  assert.equal(stripAnsi("line\r\nnext\ttab\x07\x08"), "line\nnext\ttab");
  assert.equal(stripAnsi("\x1bP1$r0m\x1b\\é ✓"), "é ✓");
});

Deno.test("strip-ansi handles sequences split across pushes", () => {
  const s = new AnsiStripper();
  const input = "ok \x1b[38;5;208mcolour\x1b[0m \x1b]0;t\x07done";
  let out = "";
  for (const ch of input) out += s.push(ch);
  assert.equal(out, "ok colour done");
});
