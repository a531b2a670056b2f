import assert from "node:assert/strict";
import { Pty } from "./pty.ts";
import { ptyLaunchArgv } from "./_platform.ts";
import { WINDOW_BYTES } from "./_pty_reactor_protocol.ts";
import { PTY_QUIET_TICK_MS } from "./limits.ts";
import { deferred, TIMED_OUT, within } from "../async.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function spawn(pty: Pty, script: string): Deno.ChildProcess {
  const argv = ptyLaunchArgv(pty.path, "/bin/sh", ["-c", script]);
  return new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Reads everything until EOF. */
function collect(pty: Pty): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  return new Promise((resolve) => {
    pty.startReading({
      onData: (c) => (text += dec.decode(c, { stream: true })),
      onEnd: () => resolve(text),
    });
  });
}

Deno.test("pty: the child gets a controlling terminal of the requested size", async () => {
  const pty = Pty.open(77, 21);
  const out = collect(pty);
  const child = spawn(pty, 'echo "tty=$(tty) size=$(stty size)"; ps -o sid= -p $$');
  await child.status;
  pty.releaseSlave();
  const text = await out;
  await pty.close();
  assert.match(text, new RegExp(`tty=${pty.path} size=21 77`));
  assert.match(text, new RegExp(`\\b${child.pid}\\b`)); // sid == its own pid
});

Deno.test("pty: 200 KB of input (more than the pty buffer) arrives whole", async () => {
  const pty = Pty.open(80, 24);
  const dec = new TextDecoder();
  let text = "";
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  let ended!: () => void;
  const end = new Promise<void>((r) => (ended = r));
  pty.startReading({
    onData: (c) => {
      text += dec.decode(c, { stream: true });
      if (text.includes("READY")) ready();
    },
    onEnd: () => ended(),
  });
  const child = spawn(pty, "stty raw -echo; echo READY; head -c 200000 | wc -c");
  const began = await within(Promise.race([isReady, end]), 30_000);
  assert.ok(began !== TIMED_OUT && text.includes("READY"), `the program did not start: ${text}`);
  // Queued without blocking; flushed as the program reads.
  pty.write(new Uint8Array(200_000).fill(0x61));
  await child.status;
  pty.releaseSlave();
  assert.notEqual(await within(end, 30_000), TIMED_OUT, "the output did not end within 30 s");
  await pty.close();
  assert.match(text, /200000/);
  assert.equal(pty.queuedBytes, 0);
});

Deno.test("pty: close ends a reader even while the program keeps running", async () => {
  const pty = Pty.open(80, 24);
  const out = collect(pty);
  const child = spawn(pty, "exec sleep 1000");
  await pty.close();
  await out; // onEnd fired
  child.kill("SIGKILL");
  await child.status;
});

Deno.test("pty: a busy main thread is not flooded; pause stops reading within the window", async () => {
  const pty = Pty.open(80, 24);
  let received = 0;
  let first = true;
  let gotFirst!: () => void;
  const started = new Promise<void>((r) => (gotFirst = r));
  const ended = new Promise<void>((resolve) => {
    pty.startReading({
      onData: (c) => {
        received += c.length;
        if (!first) return;
        first = false;
        // Busy for a while (as a daemon can be): the program keeps writing
        // meanwhile, but the reactor reads no more than the window ahead.
        const until = Date.now() + 300;
        while (Date.now() < until) { /* busy */ }
        pty.pause();
        gotFirst();
      },
      onEnd: () => resolve(),
    });
  });
  const child = spawn(pty, "stty raw -echo; exec cat /dev/zero");
  try {
    await started;
    // Whatever was read ahead arrives; then nothing while paused.
    await new Promise((r) => setTimeout(r, 300));
    const atPause = received;
    assert.ok(atPause <= WINDOW_BYTES + 64 * 1024, `${atPause} bytes arrived past the pause`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received, atPause);
    // Resumed, it flows again.
    pty.resume();
    while (received < atPause + 4 * WINDOW_BYTES) await new Promise((r) => setTimeout(r, 10));
  } finally {
    child.kill("SIGKILL");
    await child.status;
    pty.releaseSlave();
    await pty.close();
  }
  await ended;
});

/** CPU time this process has used, in ms (Linux). */
function cpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

Deno.test({
  name: "pty: a PTY that hangs up while paused, with input waiting, is not polled in a loop",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const pty = Pty.open(80, 24);
    const ended = new Promise<void>((resolve) => {
      pty.startReading({ onData: () => {}, onEnd: () => resolve() });
    });
    pty.pause();
    const child = spawn(pty, "exec sleep 1000");
    // More input than the terminal holds: the rest waits for the reactor's word.
    pty.write(new Uint8Array(256 * 1024).fill(120));
    assert.ok(pty.queuedBytes > 0);
    child.kill("SIGKILL");
    await child.status;
    pty.releaseSlave(); // the terminal hangs up
    const before = cpuMs();
    await new Promise((r) => setTimeout(r, 500));
    const used = cpuMs() - before;
    pty.resume();
    await ended;
    await pty.close();
    assert.ok(used < 250, `${used} ms of CPU in 500 ms while idle`);
  },
});

Deno.test("pty: with cgroups to join, the shell writes its pid there first, or fails with 125", async () => {
  const dir = await Deno.makeTempDir({ prefix: "join-" });
  try {
    const pty = Pty.open(80, 24);
    const out = collect(pty);
    const argv = ptyLaunchArgv(pty.path, "/bin/sh", ["-c", "echo pid=$$"], [
      `${dir}/a.procs`,
      `${dir}/b.procs`,
    ]);
    const child = new Deno.Command(argv[0]!, { args: argv.slice(1) }).spawn();
    await child.status;
    pty.releaseSlave();
    const text = await out;
    await pty.close();
    // The same process: what joined is what runs the program.
    assert.match(text, new RegExp(`pid=${child.pid}\\b`));
    assert.equal(Deno.readTextFileSync(`${dir}/a.procs`).trim(), String(child.pid));
    assert.equal(Deno.readTextFileSync(`${dir}/b.procs`).trim(), String(child.pid));

    const pty2 = Pty.open(80, 24);
    const out2 = collect(pty2);
    const bad = ptyLaunchArgv(pty2.path, "/bin/echo", ["never"], [`${dir}/no/such/cgroup.procs`]);
    const st = await new Deno.Command(bad[0]!, { args: bad.slice(1) }).spawn().status;
    pty2.releaseSlave();
    const text2 = await out2;
    await pty2.close();
    assert.equal(st.code, 125);
    assert.match(text2, /cannot join the cgroup .*no\/such\/cgroup\.procs/);
    assert.doesNotMatch(text2, /never/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pty: several PTYs printing at once each get exactly their own output", async () => {
  const ptys = Array.from({ length: 6 }, () => Pty.open(80, 24));
  const outs = ptys.map((p) => collect(p));
  const children = ptys.map((p, k) =>
    spawn(p, `stty raw -echo; i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "p${k} $i"; done`)
  );
  for (const c of children) await c.status;
  for (const p of ptys) p.releaseSlave();
  const texts = await Promise.all(outs);
  for (const p of ptys) await p.close();
  texts.forEach((text, k) => {
    const want = Array.from({ length: 300 }, (_, i) => `p${k} ${i + 1}`).join("\n") + "\n";
    assert.equal(text, want);
  });
});

/** Reads until EOF, counting the chunks handed over and the time from the first to the last. */
async function reads(
  pty: Pty,
  script: string,
  before?: () => void,
): Promise<{ text: string; chunks: number; ms: number; pauses: number }> {
  const dec = new TextDecoder();
  let text = "";
  let chunks = 0;
  let pauses = 0; // gaps of most of a tick between two reads
  let first = 0;
  let last = 0;
  const end = deferred();
  pty.startReading({
    onData: (c) => {
      chunks++;
      const now = performance.now();
      if (chunks > 1 && now - last >= PTY_QUIET_TICK_MS * 0.8) pauses++;
      last = now;
      if (chunks === 1) first = last;
      text += dec.decode(c, { stream: true });
    },
    onEnd: () => end.resolve(),
  });
  before?.();
  const child = spawn(pty, script);
  const done = await within(
    (async () => {
      await child.status;
      pty.releaseSlave();
      await end.promise;
    })(),
    30_000,
  );
  await pty.close();
  assert.notEqual(done, TIMED_OUT, "the program's output did not end within 30 s");
  return { text, chunks, ms: last - first, pauses };
}

/** Most chunks a PTY read once a quiet tick can give over `ms` (with slack for the edges). */
const tickBound = (ms: number) => Math.floor(ms / PTY_QUIET_TICK_MS) + 3;

const TRICKLE =
  "stty -echo; i=0; while [ $i -lt 60 ]; do echo line$i; sleep 0.01; i=$((i+1)); done";
const TRICKLED = Array.from({ length: 60 }, (_, i) => `line${i}\r\n`).join("");

Deno.test("pty: output that trickles while nobody watches is read once a quiet tick, all of it", async () => {
  const r = await reads(Pty.open(80, 24), TRICKLE);
  assert.equal(r.text, TRICKLED);
  assert.ok(
    r.chunks <= tickBound(r.ms),
    `${r.chunks} reads in ${r.ms.toFixed(0)} ms: more than one a ${PTY_QUIET_TICK_MS} ms tick`,
  );
});

Deno.test("pty: watched, or just sent input, trickling output is read as it comes", async () => {
  const watched = Pty.open(80, 24);
  const r = await reads(watched, TRICKLE, () => (watched.watched = true));
  assert.equal(r.text, TRICKLED);
  assert.ok(
    r.chunks > tickBound(r.ms),
    `${r.chunks} reads in ${r.ms.toFixed(0)} ms: held for ticks`,
  );

  const typed = Pty.open(80, 24);
  // The program discards its input; the write alone makes the PTY live.
  const s = await reads(typed, "cat >/dev/null & " + TRICKLE, () => typed.write(enc("x")));
  assert.ok(s.text.endsWith(TRICKLED));
  assert.ok(
    s.chunks > tickBound(s.ms),
    `${s.chunks} reads in ${s.ms.toFixed(0)} ms: held for ticks`,
  );
});

Deno.test("pty: a flood nobody watches is read flat out, not once a tick", async () => {
  const r = await reads(Pty.open(80, 24), "head -c 6000000 /dev/zero | tr '\\0' a");
  assert.equal(r.text.length, 6_000_000);
  // Held for ticks, the kernel's few KiB a tick would make it dozens of pauses.
  assert.ok(r.pauses < 10, `${r.pauses} pauses of a tick in ${r.ms.toFixed(0)} ms`);
});
