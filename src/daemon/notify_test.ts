import assert from "node:assert/strict";
import { sockaddr } from "./notify.ts";

Deno.test("sockaddr: a path is NUL-terminated after the family", () => {
  const a = sockaddr("/run/user/1/systemd/notify");
  assert.equal(new DataView(a.buffer).getUint16(0, true), 1);
  assert.equal(new TextDecoder().decode(a.subarray(2, -1)), "/run/user/1/systemd/notify");
  assert.equal(a.at(-1), 0);
});

Deno.test("sockaddr: an @name is abstract: leading NUL, no terminator", () => {
  const a = sockaddr("@/org/freedesktop/systemd1/notify/123");
  assert.equal(a[2], 0);
  assert.equal(new TextDecoder().decode(a.subarray(3)), "/org/freedesktop/systemd1/notify/123");
  assert.equal(a.length, 2 + "@/org/freedesktop/systemd1/notify/123".length);
});

Deno.test("sockaddr: relative or too long is refused", () => {
  assert.throws(() => sockaddr("notify"), /absolute path or @name/);
  assert.throws(() => sockaddr("/" + "x".repeat(120)), /too long/);
});
