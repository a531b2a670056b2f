import assert from "node:assert/strict";
import { parseBytes, parsePercent, shortBytes } from "./bytes.ts";

Deno.test("parseBytes: binary units, with or without B/iB, any case; junk is null", () => {
  assert.equal(parseBytes("2G"), 2 * 1024 ** 3);
  assert.equal(parseBytes("512M"), 512 * 1024 ** 2);
  assert.equal(parseBytes("1.5GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("64mb"), 64 * 1024 ** 2);
  assert.equal(parseBytes(" 100k "), 102_400);
  assert.equal(parseBytes("800000000"), 800_000_000);
  for (const bad of ["", "G", "2X", "-1G", "0", "1e9", "two G", "0.1"]) {
    assert.equal(parseBytes(bad), null, bad);
  }
});

Deno.test("parsePercent: 150% or 150, more than 0; junk is null", () => {
  assert.equal(parsePercent("150%"), 150);
  assert.equal(parsePercent("50"), 50);
  assert.equal(parsePercent("12.5 %"), 12.5);
  for (const bad of ["", "0%", "-10%", "abc", "1.5 cores", "%"]) {
    assert.equal(parsePercent(bad), null, bad);
  }
});

Deno.test("shortBytes: a short size for a column", () => {
  assert.equal(shortBytes(512), "512B");
  assert.equal(shortBytes(1536), "1.5K");
  assert.equal(shortBytes(243_000_000), "232M");
  assert.equal(shortBytes(5 * 1024 ** 3), "5.0G");
  assert.equal(shortBytes(12 * 1024 ** 3), "12G");
});
