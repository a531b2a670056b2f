import assert from "node:assert/strict";
import { type OutputSink, stdoutSink, SYNC_MAX_BYTES, TerminalOutput } from "./_output.ts";

/** A terminal whose asynchronous writes finish when the test says. */
class Sink implements OutputSink {
  /** What reached the terminal, in order, and how. */
  log: string[] = [];
  room = true;
  #held: (() => void)[] = [];
  #dec = new TextDecoder();
  write(b: Uint8Array): Promise<number> {
    const text = this.#dec.decode(b);
    return new Promise((r) =>
      this.#held.push(() => {
        this.log.push(`async:${text}`);
        r(b.length);
      })
    );
  }
  writeSync(b: Uint8Array): number {
    // A terminal may take part of a write: the rest must follow.
    const n = Math.min(b.length, 3);
    this.log.push(`sync:${this.#dec.decode(b.subarray(0, n))}`);
    return n;
  }
  ready(): boolean {
    return this.room;
  }
  release(): void {
    for (const f of this.#held.splice(0)) f();
  }
}

const enc = new TextEncoder();
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("TerminalOutput: a small write with the terminal ready is written at once, whole", () => {
  const sink = new Sink();
  const out = new TerminalOutput(sink);
  void out.write(enc.encode("abcdefg"));
  // Synchronously: no turn of the event loop between the call and the terminal.
  assert.deepEqual(sink.log, ["sync:abc", "sync:def", "sync:g"]);
});

Deno.test("TerminalOutput: nothing overtakes a pending write; big writes and a full terminal go async", async () => {
  const sink = new Sink();
  const out = new TerminalOutput(sink);
  const big = "x".repeat(SYNC_MAX_BYTES + 1);
  void out.write(enc.encode(big));
  const done = out.write(enc.encode("a")); // small and ready, but behind the big one
  assert.deepEqual(sink.log, []);
  await tick();
  sink.release();
  await tick();
  sink.release();
  await done;
  assert.deepEqual(sink.log, [`async:${big}`, "async:a"]);
  // Caught up: small writes are synchronous again, unless the terminal has no room.
  void out.write(enc.encode("b"));
  assert.deepEqual(sink.log.at(-1), "sync:b");
  sink.room = false;
  const later = out.write(enc.encode("c"));
  assert.deepEqual(sink.log.at(-1), "sync:b");
  await tick();
  sink.release();
  await later;
  assert.deepEqual(sink.log.at(-1), "async:c");
});

Deno.test("TerminalOutput: after a failed write the rest is skipped", async () => {
  const sink = new Sink();
  sink.writeSync = () => {
    throw new Error("the terminal is gone");
  };
  const out = new TerminalOutput(sink);
  await out.write(enc.encode("a"));
  sink.room = false;
  await out.write(enc.encode("b"));
  assert.deepEqual(sink.log, []);
});

Deno.test("stdoutSink: poll(2) says whether a pipe has room", async () => {
  // stdout of a child that fills its pipe before the parent reads it.
  const code = `
    import { stdoutSink } from ${JSON.stringify(new URL("./_output.ts", import.meta.url).href)};
    const sink = stdoutSink();
    const before = sink.ready();
    const chunk = new Uint8Array(4096);
    let n = 0;
    // Non-blocking fill: write only while poll says there is room.
    while (sink.ready() && n < 4 * 1024 * 1024) n += sink.writeSync(chunk);
    console.error(JSON.stringify({ before, full: !sink.ready() }));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read nothing until the child has reported (it never blocks: it stops at a full pipe).
  const err = new TextDecoder().decode(await readAll(child.stderr));
  await child.stdout.cancel();
  await child.status;
  assert.deepEqual(JSON.parse(err), { before: true, full: true });
  assert.equal(typeof stdoutSink().ready(), "boolean");
});

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}
