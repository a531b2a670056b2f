import assert from "node:assert/strict";
import { TarWriter } from "./_tar.ts";

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

Deno.test("ustar archives written by TarWriter are read back by tar(1)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out: Uint8Array[] = [];
    const tar = new TarWriter((c) => {
      out.push(c.slice());
      return Promise.resolve();
    });
    const long = `${"d".repeat(60)}/${"e".repeat(60)}/file.txt`;
    const binary = crypto.getRandomValues(new Uint8Array(1500));
    await tar.add({ name: "top/a.txt", size: 5, data: new TextEncoder().encode("hello") });
    await tar.add({ name: "top/bin", size: binary.length, data: binary, mode: 0o644 });
    await tar.add({ name: long, size: 6, data: chunks("ab", "cd", "ef") });
    await tar.add({ name: "top/empty", size: 0, data: new Uint8Array(0) });
    await tar.finish();
    const total = out.reduce((n, c) => n + c.length, 0);
    assert.equal(total % 512, 0);
    const file = new Uint8Array(total);
    let at = 0;
    for (const c of out) {
      file.set(c, at);
      at += c.length;
    }
    await Deno.writeFile(`${dir}/x.tar`, file);
    const r = await new Deno.Command("tar", { args: ["-xf", "x.tar"], cwd: dir }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.equal(await Deno.readTextFile(`${dir}/top/a.txt`), "hello");
    assert.deepEqual(await Deno.readFile(`${dir}/top/bin`), binary);
    assert.equal(await Deno.readTextFile(`${dir}/${long}`), "abcdef");
    assert.equal((await Deno.stat(`${dir}/top/empty`)).size, 0);
    assert.equal((await Deno.stat(`${dir}/top/bin`)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TarWriter refuses data of the wrong size", async () => {
  const tar = new TarWriter(() => Promise.resolve());
  await assert.rejects(
    tar.add({ name: "f", size: 10, data: chunks("short") }),
    /expected 10 bytes, got 5/,
  );
});
