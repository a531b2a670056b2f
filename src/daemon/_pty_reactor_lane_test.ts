import assert from "node:assert/strict";
import { Lane, LANE_BYTES } from "./_pty_reactor_lane.ts";
import { Pty } from "./pty.ts";
import { ptyLaunchArgv } from "./_platform.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("Lane: one round at a time, whole; too big or while full: not taken", async () => {
  const main = new Lane();
  const reactor = new Lane(main.buffer);
  assert.equal(main.take(), null);
  assert.ok(reactor.put(7, [3, 4], [enc.encode("ab"), enc.encode("cde")]));
  assert.equal(reactor.put(8, [3], [enc.encode("f")]), false, "full: the round goes as a message");
  assert.equal(await main.filled(), true);
  const round = main.take()!;
  assert.equal(round.seq, 7);
  assert.deepEqual(round.fds, [3, 4]);
  assert.deepEqual(round.data.map((d) => dec.decode(d)), ["ab", "cde"]);
  assert.ok(round.data[0]!.buffer instanceof ArrayBuffer, "copied out of the shared memory");
  assert.equal(main.take(), null);
  assert.equal(reactor.put(9, [3], [new Uint8Array(LANE_BYTES)]), false, "too big");
  assert.ok(reactor.put(9, [3], [new Uint8Array(LANE_BYTES - 8)]));
  assert.equal(main.take()!.data[0]!.length, LANE_BYTES - 8);
});

Deno.test("Lane: once closed nothing is put, and a waiting main thread is told", async () => {
  const main = new Lane();
  const reactor = new Lane(main.buffer);
  const waiting = main.filled();
  main.close();
  assert.equal(await waiting, false);
  assert.equal(reactor.put(1, [3], [enc.encode("x")]), false);
  assert.equal(main.take(), null);
});

Deno.test("pty reactor: output taking both ways (slot and message) arrives in order", async () => {
  // Big writes (read in pieces, some too big for the slot: messages) each
  // followed at once by a small one (the slot), whose quicker wakeup would
  // overtake a message still on its way. Every piece of text is distinct.
  const round = (i: number) => {
    let s = "";
    for (let j = 0; s.length < LANE_BYTES * 2; j++) s += `${i}.${j};`;
    return s + `<end of ${i}>`;
  };
  const code = `
    const round = ${round.toString()};
    const LANE_BYTES = ${LANE_BYTES};
    const enc = new TextEncoder();
    for (let i = 0; i < 150; i++) {
      const text = enc.encode(round(i));
      const cut = text.length - 12;
      Deno.stdout.writeSync(text.subarray(0, cut));
      Deno.stdout.writeSync(text.subarray(cut));
      await new Promise((r) => setTimeout(r, 1));
    }
  `;
  const pty = Pty.open(80, 24);
  let text = "";
  const ended = Promise.withResolvers<void>();
  pty.startReading({
    onData: (c) => (text += dec.decode(c, { stream: true })),
    onEnd: () => ended.resolve(),
  });
  const argv = ptyLaunchArgv(pty.path, "/bin/sh", [
    "-c",
    `stty raw -echo; exec "$0" eval "$1"`,
    Deno.execPath(),
    code,
  ]);
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const status = await child.output();
  pty.releaseSlave();
  await ended.promise;
  await pty.close();
  assert.equal(status.code, 0, dec.decode(status.stderr));
  const want = Array.from({ length: 150 }, (_, i) => round(i)).join("");
  // Deno may clear a line of its own on a terminal first.
  text = text.slice(text.indexOf("0.0;"));
  // Where it first differs, if anywhere (the whole text is too long to print).
  let at = 0;
  while (at < want.length && text[at] === want[at]) at++;
  assert.equal(at, want.length, `differs at ${at}: ${JSON.stringify(text.slice(at, at + 40))}`);
  assert.equal(text.length, want.length);
});
