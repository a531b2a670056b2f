import assert from "node:assert/strict";
import { type Key, KeyReader } from "./_keys.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const names = (keys: Key[]) => keys.map((k) => (k.name === "char" ? k.ch! : k.name));

Deno.test("keys: characters, Enter, Backspace, Ctrl-letters, arrows in CSI and SS3 forms", () => {
  const r = new KeyReader();
  assert.deepEqual(names(r.push(enc("aZ/?"))), ["a", "Z", "/", "?"]);
  assert.deepEqual(names(r.push(enc("\r\n\x7f\x08\t\x03\x02"))), [
    "enter",
    "enter",
    "backspace",
    "backspace",
    "tab",
    "ctrl-c",
    "ctrl-b",
  ]);
  assert.deepEqual(names(r.push(enc("\x1b[A\x1b[B\x1bOC\x1bOD\x1b[H\x1b[F"))), [
    "up",
    "down",
    "right",
    "left",
    "home",
    "end",
  ]);
  assert.deepEqual(names(r.push(enc("\x1b[5~\x1b[6~\x1b[1~\x1b[4~\x1b[3~\x1b[1;5A"))), [
    "pageup",
    "pagedown",
    "home",
    "end",
    "delete",
    "up",
  ]);
  // Unknown sequences (focus reports, mouse) are skipped whole.
  assert.deepEqual(names(r.push(enc("\x1b[I\x1b[<0;3;4Mx"))), ["x"]);
  // Alt+key.
  assert.deepEqual(r.push(enc("\x1bx")), [{ name: "alt", ch: "x" }]);
});

Deno.test("keys: a lone Esc is the Esc key; a sequence cut between reads is completed; UTF-8 split too", () => {
  const r = new KeyReader();
  assert.deepEqual(names(r.push(enc("\x1b"))), ["escape"]);
  assert.deepEqual(names(r.push(enc("\x1b["))), []);
  assert.deepEqual(names(r.push(enc("A"))), ["up"]);
  const e = enc("é日");
  assert.deepEqual(names(r.push(e.subarray(0, 1))), []);
  assert.deepEqual(names(r.push(e.subarray(1, 3))), ["é"]);
  assert.deepEqual(names(r.push(e.subarray(3))), ["日"]);
  // Esc Esc: one Esc, then the next.
  assert.deepEqual(names(r.push(enc("\x1b\x1b[B"))), ["escape", "down"]);
});
