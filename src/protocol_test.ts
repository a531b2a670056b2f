import assert from "node:assert/strict";
import {
  BINARY_INPUT,
  BINARY_OUTPUT,
  encodeBinaryFrame,
  encodeMessage,
  errorReply,
  leadingId,
  LineDecoder,
  okReply,
  OVERSIZED_HEAD_BYTES,
  StreamDecoder,
} from "./protocol.ts";

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
  assert.deepEqual(frames, [{ kind: "oversized", bytes: 13, head: "0123456789abc" }, {
    kind: "line",
    text: "ok",
  }]);
  // Oversized within one chunk that also holds its newline.
  assert.deepEqual(d.push(enc("x".repeat(20) + "\nfine\n")), [
    { kind: "oversized", bytes: 20, head: "x".repeat(20) },
    { kind: "line", text: "fine" },
  ]);
  // Exactly the limit is accepted.
  assert.deepEqual(d.push(enc("y".repeat(10) + "\n")), [{ kind: "line", text: "y".repeat(10) }]);
});

Deno.test("an oversized frame keeps the line's first bytes, across chunks", () => {
  const d = new LineDecoder(300);
  assert.deepEqual(d.push(enc('{"id":7,')), []);
  const [f] = d.push(enc(`"pad":"${"p".repeat(400)}"}\n`));
  assert.equal(f?.kind, "oversized");
  const head = (f as { head: string }).head;
  assert.equal(head.length, OVERSIZED_HEAD_BYTES);
  assert.ok(head.startsWith('{"id":7,"pad":"ppp'));
  assert.equal(leadingId(head), 7);
});

Deno.test("leadingId reads an id only where a line starts with it", () => {
  assert.equal(leadingId('{"id":12,"type":"x"'), 12);
  assert.equal(leadingId(' { "id" : "a\\"b" , "type"'), 'a"b');
  assert.equal(leadingId('{"id":"q"}'), "q");
  assert.equal(leadingId('{"type":"x","id":3'), null);
  assert.equal(leadingId('{"id":{"a":1},'), null);
  assert.equal(leadingId('{"id":"unterminated'), null);
  assert.equal(leadingId('{"id":12'), null); // cut off: 123 maybe
  assert.equal(leadingId("not json"), null);
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

Deno.test("StreamDecoder splits JSON lines and binary frames, byte by byte too", () => {
  const payload = new Uint8Array([0, 10, 255, 0x7b, 10, 0]);
  const stream = new Uint8Array([
    ...enc('{"a":1}\n'),
    ...encodeBinaryFrame(BINARY_OUTPUT, 7, payload),
    ...encodeBinaryFrame(BINARY_INPUT, 0xffff_ffff, new Uint8Array(0)),
    ...enc('{"b":"\\u0000"}\n\n'),
    ...encodeBinaryFrame(BINARY_OUTPUT, 1, enc("x")),
  ]);
  const want = [
    { kind: "line", text: '{"a":1}' },
    { kind: "binary", type: BINARY_OUTPUT, sub: 7, data: payload },
    { kind: "binary", type: BINARY_INPUT, sub: 0xffff_ffff, data: new Uint8Array(0) },
    { kind: "line", text: '{"b":"\\u0000"}' },
    { kind: "binary", type: BINARY_OUTPUT, sub: 1, data: enc("x") },
  ];
  assert.deepEqual(new StreamDecoder(100).push(stream), want);
  const d = new StreamDecoder(100);
  const got = [];
  for (const b of stream) got.push(...d.push(new Uint8Array([b])));
  assert.deepEqual(got, want);
});

Deno.test("StreamDecoder refuses an oversized frame, and oversized lines as LineDecoder", () => {
  const d = new StreamDecoder(4);
  assert.deepEqual(d.push(enc("123456\n{}\n")), [
    { kind: "oversized", bytes: 6, head: "123456" },
    { kind: "line", text: "{}" },
  ]);
  assert.throws(
    () => d.push(encodeBinaryFrame(BINARY_OUTPUT, 1, enc("12345"))),
    /binary frame too large/,
  );
});

Deno.test("StreamDecoder does not keep a reference to the caller's buffer", () => {
  const d = new StreamDecoder(100);
  const frame = encodeBinaryFrame(BINARY_OUTPUT, 3, enc("abc"));
  const [f] = d.push(frame);
  frame.fill(0);
  assert.deepEqual(f, { kind: "binary", type: BINARY_OUTPUT, sub: 3, data: enc("abc") });
});
