/**
 * End-to-end: what is in the hook spool but is not a hook event — bad JSON,
 * a JSON array, a foreign name, a FIFO, a directory, an abandoned temp file,
 * another user's file — is moved aside to spool/rejected/ and reported once
 * in the daemon's log; a temp file a hook is still writing is left alone, and
 * nothing blocks the daemon.
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SESSION = "01HZZZZZZZZZZZZZZZZZZZZZZZ";

function hookName(n: number): string {
  return `${1_700_000_000_000_000_000n + BigInt(n)}-${100 + n}-${SESSION}.hook`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("spool garbage is moved aside to rejected/ and reported once", opts, async () => {
  const home = await TestHome.create();
  const spool = `${home.dir}/spool`;
  await Deno.mkdir(spool, { recursive: true, mode: 0o700 });
  const badJson = hookName(1);
  const array = hookName(2);
  const fifo = hookName(3);
  const fresh = `${hookName(4).slice(0, -5)}.tmp`;
  const stale = `${hookName(5).slice(0, -5)}.tmp`;
  const foreignUser = hookName(6);
  await Deno.writeTextFile(`${spool}/${badJson}`, "{not json");
  await Deno.writeTextFile(`${spool}/${array}`, "[1,2,3]");
  await Deno.writeTextFile(`${spool}/notes.txt`, "hello");
  await Deno.mkdir(`${spool}/somedir`);
  const mk = await new Deno.Command("mkfifo", { args: [`${spool}/${fifo}`] }).output();
  assert.ok(mk.success);
  await Deno.writeTextFile(`${spool}/${fresh}`, '{"hook_event_name":');
  await Deno.writeTextFile(`${spool}/${stale}`, "{");
  const old = new Date(Date.now() - 5 * 60_000);
  await Deno.utime(`${spool}/${stale}`, old, old);
  const asRoot = Deno.uid() === 0;
  if (asRoot) {
    await Deno.writeTextFile(`${spool}/${foreignUser}`, '{"hook_event_name":"Stop"}');
    await Deno.chown(`${spool}/${foreignUser}`, 65534, 65534);
  }
  const daemon = await home.startDaemon();
  try {
    const rejected = [badJson, array, "notes.txt", "somedir", fifo, stale];
    if (asRoot) rejected.push(foreignUser);
    for (const name of rejected) {
      await daemon.waitForLog(new RegExp(`spool: moved ${name.replace(".", "\\.")} aside`));
      assert.equal(await exists(`${spool}/${name}`), false, `${name} still in the spool`);
      assert.equal(await exists(`${spool}/rejected/${name}`), true, `${name} not in rejected/`);
    }
    assert.match(daemon.log, new RegExp(`${badJson}.*not a hook event`));
    assert.match(daemon.log, new RegExp(`${array}.*not a JSON object`));
    assert.match(daemon.log, new RegExp(`${fifo}.*special file`));
    if (asRoot) assert.match(daemon.log, new RegExp(`${foreignUser}.*owned by nobody`));
    // A hook still writing its temp file is left alone.
    assert.equal(await exists(`${spool}/${fresh}`), true);
    assert.match(await home.ok(["status"]), /running/);

    // Garbage arriving while it runs goes the same way, on the spool's next change.
    await Deno.writeTextFile(`${spool}/later.junk`, "x");
    await daemon.waitForLog(/spool: moved later\.junk aside/);
    // Each was reported once.
    for (const name of [...rejected, "later.junk"]) {
      const n = daemon.log.split("\n").filter((l) => l.includes(`moved ${name} aside`)).length;
      assert.equal(n, 1, `${name} reported ${n} times`);
    }
    assert.equal(await exists(`${spool}/${fresh}`), true);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});
