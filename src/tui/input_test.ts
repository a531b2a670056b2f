import assert from "node:assert/strict";
import { type InputSource, TerminalInput } from "./input.ts";

/** Input typed by the test, one chunk per `type`. */
class Keys implements InputSource {
  #chunks: (string | null)[] = [];
  #wake: (() => void) | null = null;
  type(s: string | null): void {
    this.#chunks.push(s);
    this.#wake?.();
  }
  async read(buf: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) await new Promise<void>((r) => (this.#wake = r));
    const c = this.#chunks.shift()!;
    if (c === null) return null;
    const b = new TextEncoder().encode(c);
    buf.set(b);
    return b.length;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("TerminalInput: the latest owner gets the keys; on release the one before; none lost", async () => {
  const keys = new Keys();
  const input = new TerminalInput(keys);
  const got: string[] = [];
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const releaseMenu = input.take({ data: (b) => got.push(`menu:${dec(b)}`) });
  keys.type("a");
  await tick();
  const releaseAttach = input.take({ data: (b) => got.push(`attach:${dec(b)}`) });
  keys.type("b");
  await tick();
  releaseAttach();
  releaseAttach(); // twice is harmless
  keys.type("c");
  await tick();
  releaseMenu();
  // Typed while nobody holds it: kept for the next owner.
  keys.type("d");
  await tick();
  let ended = false;
  input.take({ data: (b) => got.push(`late:${dec(b)}`), end: () => (ended = true) });
  keys.type(null);
  await tick();
  assert.deepEqual(got, ["menu:a", "attach:b", "menu:c", "late:d"]);
  assert.ok(ended);
  assert.ok(input.ended);
});
