import assert from "node:assert/strict";
import { AltScreenGuard, DetachDetector } from "./_terminal.ts";
import { parseDetachKey } from "../keys.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("detach key: prefix then key detaches; prefix twice sends it once", () => {
  const d = new DetachDetector(parseDetachKey("C-b d"));
  assert.deepEqual(d.push(enc("ab")), { forward: enc("ab"), detach: false });
  assert.deepEqual(d.push(enc("x\x02")), { forward: enc("x"), detach: false });
  assert.deepEqual(d.push(enc("\x02")), { forward: enc("\x02"), detach: false });
  assert.deepEqual(d.push(enc("\x02c")), { forward: enc("\x02c"), detach: false });
  // Split across reads.
  assert.deepEqual(d.push(enc("hi\x02")), { forward: enc("hi"), detach: false });
  assert.deepEqual(d.push(enc("d")), { forward: enc(""), detach: true });
  // Ctrl-C, Ctrl-D, Ctrl-Z and Esc are forwarded.
  const e = new DetachDetector(parseDetachKey("C-b d"));
  assert.deepEqual(e.push(enc("\x03\x04\x1a\x1b")), {
    forward: enc("\x03\x04\x1a\x1b"),
    detach: false,
  });
});

Deno.test("single-key detach", () => {
  const d = new DetachDetector(parseDetachKey("C-\\"));
  assert.deepEqual(d.push(enc("ab\x1ccd")), { forward: enc("ab"), detach: true });
});

Deno.test("detach key specs are validated", () => {
  assert.deepEqual(parseDetachKey("C-a d"), { prefix: 1, key: 100, label: "C-a d" });
  assert.throws(() => parseDetachKey("Ctrl-B"), /not a key/);
  assert.throws(() => parseDetachKey("C-b d e"), /invalid detach key/);
  assert.throws(() => parseDetachKey(""), /invalid detach key/);
});

Deno.test("alternate-screen switches stay on the client's alternate screen", () => {
  const g = new AltScreenGuard();
  assert.deepEqual(g.push(enc("plain")), { bytes: enc("plain"), redraw: false });
  const r = g.push(enc("a\x1b[?1049hvim\x1b[?1049lb"));
  assert.equal(dec(r.bytes), "a\x1b[H\x1b[2Jvim\x1b[H\x1b[2Jb");
  assert.equal(r.redraw, true);
  // Other escapes pass untouched.
  assert.equal(
    dec(g.push(enc("\x1b[31mred\x1b[0m\x1b[?25l")).bytes),
    "\x1b[31mred\x1b[0m\x1b[?25l",
  );
});

Deno.test("a switch split across chunks is still caught", () => {
  const seq = "x\x1b[?1049ly";
  for (let cut = 1; cut < seq.length; cut++) {
    const g = new AltScreenGuard();
    const a = g.push(enc(seq.slice(0, cut)));
    const b = g.push(enc(seq.slice(cut)));
    assert.equal(dec(a.bytes) + dec(b.bytes), "x\x1b[H\x1b[2Jy", `cut ${cut}`);
    assert.equal(a.redraw || b.redraw, true);
  }
  // An escape at the end that turns out to be something else is released.
  const g = new AltScreenGuard();
  assert.equal(dec(g.push(enc("a\x1b[")).bytes), "a");
  assert.equal(dec(g.push(enc("31m")).bytes), "\x1b[31m");
});
