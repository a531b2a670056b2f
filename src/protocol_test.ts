import assert from "node:assert/strict";
import { encodeMessage, errorReply, LineDecoder, okReply } from "./protocol.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("LineDecoder splits lines across chunk boundaries", () => {
  const d = new LineDecoder(100);
  assert.deepEqual(d.push(enc('{"a":')), []);
  assert.deepEqual(d.push(enc('1}\n{"b"')), [{ kind: "line", text: '{"a":1}' }]);
  assert.deepEqual(d.push(enc(":2}\n\n  \n")), [{ kind: "line", text: '{"b":2}' }]);
  assert.equal(d.pending, 0);
});

Deno.test("LineDecoder decodes UTF-8 split inside a character", () => {
  const d = new LineDecoder(100);
  const bytes = enc("héllo\n");
  assert.deepEqual(d.push(bytes.subarray(0, 2)), []);
  assert.deepEqual(d.push(bytes.subarray(2)), [{ kind: "line", text: "héllo" }]);
});

Deno.test("LineDecoder refuses an oversized line once and resynchronises", () => {
  const d = new LineDecoder(10);
  const frames = [
    ...d.push(enc("0123456789abc")),
    ...d.push(enc("more junk")),
    ...d.push(enc("tail\nok\n")),
  ];
  assert.deepEqual(frames, [{ kind: "oversized", bytes: 13 }, { kind: "line", text: "ok" }]);
  // Oversized within one chunk that also holds its newline.
  assert.deepEqual(d.push(enc("x".repeat(20) + "\nfine\n")), [
    { kind: "oversized", bytes: 20 },
    { kind: "line", text: "fine" },
  ]);
  // Exactly the limit is accepted.
  assert.deepEqual(d.push(enc("y".repeat(10) + "\n")), [{ kind: "line", text: "y".repeat(10) }]);
});

Deno.test("LineDecoder does not keep a reference to the caller's buffer", () => {
  const d = new LineDecoder(100);
  const buf = enc("abc");
  d.push(buf);
  buf.set(enc("xyz"));
  assert.deepEqual(d.push(enc("\n")), [{ kind: "line", text: "abc" }]);
});

Deno.test("replies have the documented shape", () => {
  assert.deepEqual(errorReply(3, "not_found", "no"), {
    type: "reply",
    id: 3,
    ok: false,
    error: { code: "not_found", message: "no" },
  });
  assert.deepEqual(okReply("a", { x: 1 }), { type: "reply", id: "a", ok: true, result: { x: 1 } });
  const line = new TextDecoder().decode(encodeMessage({ a: "b\nc" }));
  assert.equal(line, '{"a":"b\\nc"}\n');
});
