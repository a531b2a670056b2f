import assert from "node:assert/strict";
import { hasAltScreenMode, lineAnsi, lineText, Terminal } from "./xterm.ts";

async function screen(data: string, cols = 20): Promise<Terminal> {
  const term = new Terminal({ cols, rows: 3, allowProposedApi: true, logLevel: "off" });
  await new Promise<void>((r) => term.write(data, r));
  return term;
}

Deno.test("lineAnsi: colours and attributes as SGR, reset at the end; lineText: plain", async () => {
  const term = await screen(
    "\x1b[32mgreen\x1b[0m \x1b[1;38;5;200mbold\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[0m \x1b[44m  \x1b[0m   ",
  );
  try {
    const buf = term.buffer.active;
    assert.equal(
      lineAnsi(buf, 0),
      "\x1b[32mgreen\x1b[0m \x1b[1;38;5;200mbold\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[0m \x1b[44m  \x1b[0m",
    );
    assert.equal(lineText(buf, 0), "green bold rgb      "); // the spaces were written
    assert.equal(lineAnsi(buf, 1), "");
    assert.equal(lineText(buf, 99), "");
  } finally {
    term.dispose();
  }
});

Deno.test("lineAnsi: wide characters once, bright colours, inverse", async () => {
  const term = await screen("日本\x1b[91mx\x1b[7my\x1b[0m");
  try {
    assert.equal(lineAnsi(term.buffer.active, 0), "日本\x1b[91mx\x1b[0;7;91my\x1b[0m");
  } finally {
    term.dispose();
  }
});

Deno.test("hasAltScreenMode: 47, 1047, 1049 among the parameters", () => {
  assert.equal(hasAltScreenMode([1049]), true);
  assert.equal(hasAltScreenMode([25, 47]), true);
  assert.equal(hasAltScreenMode([1047]), true);
  assert.equal(hasAltScreenMode([2004, [1, 2]]), false);
});
