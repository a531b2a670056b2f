import assert from "node:assert/strict";
import { ModeTracker } from "./_modes.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("tracks cursor visibility, mouse encoding, kitty flags, modifyOtherKeys, cursor style", () => {
  const m = new ModeTracker();
  m.feed(enc("hello\x1b[?25l\x1b[?1000;1006h\x1b[>1u\x1b[>4;2m\x1b[5 q"));
  assert.equal(m.cursorHidden, true);
  assert.equal(m.mouseEncoding, 1006);
  assert.deepEqual(m.kittyStack, [1]);
  assert.equal(m.modifyOtherKeys, 2);
  assert.equal(m.cursorStyle, 5);
  assert.equal(m.restoreSequence(), "\x1b[?25l\x1b[?1006h\x1b[>1u\x1b[>4;2m\x1b[5 q");
  m.feed(enc("\x1b[?25h\x1b[?1006l\x1b[<u\x1b[>4m\x1b[0 q"));
  assert.equal(m.restoreSequence(), "");
});

Deno.test("sequences split across chunks are reassembled", () => {
  const m = new ModeTracker();
  const s = enc("abc\x1b[?25l");
  for (let cut = 1; cut < s.length; cut++) {
    const t = new ModeTracker();
    t.feed(s.subarray(0, cut));
    t.feed(s.subarray(cut));
    assert.equal(t.cursorHidden, true, `cut at ${cut}`);
  }
  // One byte at a time.
  for (const b of enc("\x1b[>3u\x1b[=1;2u")) m.feed(new Uint8Array([b]));
  assert.deepEqual(m.kittyStack, [3]);
});

Deno.test("a full reset clears everything; junk does not throw", () => {
  const m = new ModeTracker();
  m.feed(enc("\x1b[?25l\x1b[>1u"));
  m.feed(enc("\x1bc"));
  assert.equal(m.restoreSequence(), "");
  m.feed(crypto.getRandomValues(new Uint8Array(65_536)));
  m.feed(enc("\x1b[" + "9".repeat(200) + "h"));
  m.feed(enc("\x1b[?25l"));
  assert.equal(m.cursorHidden, true);
});

Deno.test("SGR and other untracked sequences are skipped; tracked ones beside them apply", () => {
  const m = new ModeTracker();
  // SGR 4;2 (underline, dim) is not xterm's modifyOtherKeys (`>4;2m`).
  m.feed(enc("\x1b[4;2m\x1b[1;38:5:196mtext\x1b[0m\x1b[2J\x1b[?2004h\x1b[38;2;1;2;3m\x1b[?1h"));
  assert.equal(m.modifyOtherKeys, 0);
  assert.equal(m.bracketedPaste, true);
  assert.equal(m.applicationCursor, true);
  m.feed(enc("\x1b[>4;2m\x1b[3 q\x1b[?25l"));
  assert.equal(m.restoreSequence(), "\x1b[?25l\x1b[>4;2m\x1b[3 q");
  m.feed(enc("\x1b[!p"));
  assert.equal(m.cursorHidden, false);
});
