/**
 * Many sessions at once, versus tmux, on this machine: N programs that each
 * print a line and then wait for input (as an idle Claude does), owned by
 * the claude-sessions daemon or by a tmux server (one window each).
 *
 *   deno run -A bench/many_sessions.ts [N=100] [IDLE_SECONDS=5]
 *
 * Prints, for each: the time to start all N, the server's resident memory,
 * its CPU time while everything is idle, and the time to list the sessions
 * (`claude-sessions ls` / `tmux list-windows`, median of 10) — then the
 * ratios claude-sessions / tmux.
 *
 * @module
 */

import { RawClient, TestHome } from "../test/_harness.ts";

const N = Number(Deno.args[0] ?? 100);
const IDLE_S = Number(Deno.args[1] ?? 5);
const PROGRAM = 'echo "ready"; exec cat';
const CLK_TCK = 100;

interface Result {
  startMs: number;
  rssMiB: number;
  idleCpuMs: number;
  listMs: number;
}

/** utime+stime of a process in ms, and its RSS in MiB (Linux /proc). */
function usage(pid: number): { cpuMs: number; rssMiB: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / CLK_TCK, rssMiB: rssKb / 1024 };
}

async function idle(pid: number): Promise<number> {
  const before = usage(pid).cpuMs;
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  return usage(pid).cpuMs - before;
}

async function median(fn: () => Promise<void>, runs = 10): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function ours(): Promise<Result> {
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c", PROGRAM] } });
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  try {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const r = await c.request("new", { cwd: home.dir, env: home.env, cols: 80, rows: 24 });
      if (!r.ok) throw new Error(JSON.stringify(r.error));
    }
    const startMs = performance.now() - t0;
    const idleCpuMs = await idle(daemon.pid);
    const { rssMiB } = usage(daemon.pid);
    const listMs = await median(() => home.ok(["ls"]).then(() => {}));
    return { startMs, rssMiB, idleCpuMs, listMs };
  } finally {
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
}

async function tmux(): Promise<Result> {
  const dir = await Deno.makeTempDir();
  const sock = `${dir}/tmux.sock`;
  const env = { TERM: "xterm-256color" };
  const t = (...args: string[]) => run("tmux", ["-S", sock, "-f", "/dev/null", ...args], env);
  try {
    const t0 = performance.now();
    await t("new-session", "-d", "-x", "80", "-y", "24", "-s", "bench", "sh", "-c", PROGRAM);
    for (let i = 1; i < N; i++) await t("new-window", "-d", "-t", "bench", "sh", "-c", PROGRAM);
    const startMs = performance.now() - t0;
    const pid = Number((await t("display-message", "-p", "#{pid}")).trim());
    const idleCpuMs = await idle(pid);
    const { rssMiB } = usage(pid);
    const listMs = await median(() => t("list-windows", "-a").then(() => {}));
    return { startMs, rssMiB, idleCpuMs, listMs };
  } finally {
    await t("kill-server").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

const haveTmux = await run("tmux", ["-V"]).then(() => true, () => false);
console.log(`measuring claude-sessions with ${N} sessions…`);
const a = await ours();
const b = haveTmux ? (console.log(`measuring tmux with ${N} windows…`), await tmux()) : null;

const row = (label: string, x: number, y: number | null, digits = 1) =>
  console.log(
    `  ${label.padEnd(26)}${x.toFixed(digits).padStart(10)}${
      y === null ? "" : y.toFixed(digits).padStart(10)
    }${y === null ? "" : (y === 0 ? "-" : `${(x / y).toFixed(2)}x`).padStart(10)}`,
  );
console.log(`${N} sessions${b ? "" : " (tmux not installed)"}       ours      tmux     ratio`);
row("start all (ms)", a.startMs, b?.startMs ?? null, 0);
row("server memory (MiB RSS)", a.rssMiB, b?.rssMiB ?? null);
row(`idle CPU over ${IDLE_S}s (ms)`, a.idleCpuMs, b?.idleCpuMs ?? null, 0);
row("list sessions (ms, p50)", a.listMs, b?.listMs ?? null);
console.log(
  "ours/tmux: lower is better. `ls` starts a Deno process per call; tmux is a C client.",
);
