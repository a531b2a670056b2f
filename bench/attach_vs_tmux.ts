/**
 * Attach versus tmux, on this machine, through real terminals:
 *
 * - echo latency: a key typed on the client's terminal until the program's
 *   echo of it shows up on that terminal (p50/p99);
 * - output throughput: the program prints MB megabytes after a key; the time
 *   until its last line shows up on the client's terminal.
 *
 *   deno run -A bench/attach_vs_tmux.ts [KEYS=200] [MB=20]
 *
 * Both run the same program in the same terminal size. Prints each and the
 * ratio claude-sessions / tmux (for latency lower is better, for throughput
 * higher is better).
 *
 * @module
 */

import { TestHome } from "../test/_harness.ts";
import { TermClient } from "../test/_term.ts";
import { within } from "../src/async.ts";

const KEYS = Number(Deno.args[0] ?? 200);
const MB = Number(Deno.args[1] ?? 20);
const SIZE = { cols: 100, rows: 30 };
const ECHO = "stty raw -echo; exec cat";
const FLOOD = `read x; head -c ${
  MB * 1_000_000
} /dev/zero | tr '\\0' x | fold -w 99; echo; echo THE-END; exec sleep 100000`;

/** Resolves when output containing `needle` arrives (after this call). */
function next(client: TermClient, needle: string, timeoutMs = 10_000): Promise<void> {
  return client.nextOutput(needle, timeoutMs);
}

/**
 * Resolves once the client has drawn `marker`, which it does only once it is
 * fully attached, its terminal in raw mode: no key typed from then on is
 * echoed by the tty itself or held in its line buffer. (claude-sessions
 * enters the alternate screen after going raw; tmux draws its status line
 * once attached — its first bytes come earlier.)
 */
function drawn(client: TermClient, marker: string): Promise<void> {
  return next(client, marker, 30_000);
}

/** What each client draws once attached. */
const OURS_READY = "\x1b[?1049h";

async function echoLatency(client: TermClient, ready: Promise<void>): Promise<number[]> {
  const ms: number[] = [];
  const letters = "abcdefghijklmnopqrstuvwxyz";
  await ready;
  // Warm up.
  for (let i = 0; i < 5; i++) {
    const w = next(client, "Q", 30_000);
    client.type("Q");
    await w;
  }
  for (let i = 0; i < KEYS; i++) {
    const c = letters[i % letters.length]!;
    const got = next(client, c);
    const t0 = performance.now();
    client.type(c);
    await got;
    ms.push(performance.now() - t0);
  }
  return ms;
}

async function throughput(client: TermClient): Promise<number> {
  // Timed from the first flood output to the last line: a key typed while a
  // client is still settling in may be dropped, so press Enter until the
  // flood starts (the program reads one line; later ones are ignored).
  const started = next(client, "x".repeat(40), 60_000);
  const done = next(client, "THE-END", 600_000);
  let t0 = 0;
  void started.then(() => (t0 = performance.now()));
  for (let i = 0; i < 30 && t0 === 0; i++) {
    client.type("\r");
    await within(started, 1000);
  }
  await done;
  return MB / ((performance.now() - t0) / 1000);
}

function pct(ms: number[], q: number): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function ours(): Promise<{ echo: number[]; mbps: number }> {
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c", ECHO] } });
  const daemon = await home.startDaemon();
  try {
    const id = (await home.ok(["new", home.dir, "--size", `${SIZE.cols}x${SIZE.rows}`])).trim();
    const c = TermClient.spawn(["attach", id], home.env, SIZE, false);
    const echo = await echoLatency(c, drawn(c, OURS_READY));
    await c.kill();
    await home.writeConfig({ claude: { command: "/bin/sh", args: ["-c", FLOOD] } });
    const id2 = (await home.ok(["new", home.dir, "--size", `${SIZE.cols}x${SIZE.rows}`])).trim();
    const f = TermClient.spawn(["attach", id2], home.env, SIZE, false);
    await drawn(f, OURS_READY);
    const mbps = await throughput(f);
    await f.kill();
    return { echo, mbps };
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
}

async function tmux(): Promise<{ echo: number[]; mbps: number } | null> {
  try {
    await new Deno.Command("tmux", { args: ["-V"], stdout: "null" }).output();
  } catch {
    return null;
  }
  const sock = `cs-bench-${Deno.pid}`;
  const env: Record<string, string> = { ...Deno.env.toObject(), TERM: "xterm-256color" };
  delete env.TMUX;
  const t = (...args: string[]) =>
    new Deno.Command("tmux", { args: ["-L", sock, "-f", "/dev/null", ...args], env }).output();
  try {
    await t(
      "new-session",
      "-d",
      "-s",
      "echo",
      "-x",
      String(SIZE.cols),
      "-y",
      String(SIZE.rows),
      ECHO,
    );
    const c = TermClient.spawnArgv(["tmux", "-L", sock, "attach", "-t", "echo"], env, SIZE, false);
    const echo = await echoLatency(c, drawn(c, "[echo]"));
    await c.kill();
    await t(
      "new-session",
      "-d",
      "-s",
      "flood",
      "-x",
      String(SIZE.cols),
      "-y",
      String(SIZE.rows),
      FLOOD,
    );
    const f = TermClient.spawnArgv(["tmux", "-L", sock, "attach", "-t", "flood"], env, SIZE, false);
    await drawn(f, "[flood]");
    const mbps = await throughput(f);
    await f.kill();
    return { echo, mbps };
  } finally {
    await t("kill-server");
  }
}

console.error("measuring claude-sessions attach…");
const a = await ours();
console.error("measuring tmux attach…");
const b = await tmux();
const f = (n: number) => n.toFixed(2).padStart(8);
console.log(`echo latency over ${KEYS} keys (ms)      p50      p99`);
console.log(`  claude-sessions attach        ${f(pct(a.echo, 0.5))} ${f(pct(a.echo, 0.99))}`);
if (b) {
  console.log(`  tmux attach                   ${f(pct(b.echo, 0.5))} ${f(pct(b.echo, 0.99))}`);
  console.log(
    `  ratio (ours / tmux)           ${f(pct(a.echo, 0.5) / pct(b.echo, 0.5))}x ${
      f(pct(a.echo, 0.99) / pct(b.echo, 0.99))
    }x`,
  );
}
console.log(`output throughput, ${MB} MB (MB/s)`);
console.log(`  claude-sessions attach        ${f(a.mbps)}`);
if (b) {
  console.log(`  tmux attach                   ${f(b.mbps)}`);
  console.log(`  ratio (ours / tmux)           ${f(a.mbps / b.mbps)}x`);
} else {
  console.log("tmux is not installed: no comparison");
}
Deno.exit(0);
