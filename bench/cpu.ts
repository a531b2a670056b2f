/**
 * Busy CPU: many sessions printing a little, as agents do — the server's CPU
 * time (user + system, all threads) over a fixed window, claude-sessions
 * (logging on) beside tmux (`pipe-pane` logging; the `cat` processes it
 * pipes to are not counted) and dtach (no logging; its masters summed).
 *
 * @module
 */

import { withDaemon } from "./_daemon.ts";
import { dtachNew, dtachPids, have, sh, sleep, type Stat, stat, usage, withTmux } from "./_lib.ts";
import { fmt, ratio, type Row, times, verdict } from "./_report.ts";

/** Sizes of a run. */
export interface CpuOptions {
  /** The window, in seconds. */
  seconds: number;
  /** Sessions printing. */
  sessions: number;
  log: (msg: string) => void;
}

const PROGRAM = "i=0; while :; do i=$((i+1)); " +
  "printf '\\033[2m%6d\\033[0m agent step %d: reading \\033[1msrc/main.ts\\033[0m ✓\\r\\n' $i $i; " +
  "sleep 0.1; done";
/** Warm-up before the window opens. */
const WARM_MS = 2000;

async function window(pids: () => number[], seconds: number): Promise<number> {
  await sleep(WARM_MS);
  const sum = () => pids().reduce((a, p) => a + usage(p).cpuMs, 0);
  const before = sum();
  await sleep(seconds * 1000);
  return (sum() - before) / 1000;
}

function ours(o: CpuOptions): Promise<number> {
  return withDaemon({}, async (d) => {
    for (let i = 0; i < o.sessions; i++) await d.start(PROGRAM);
    return await window(() => [d.pid], o.seconds);
  });
}

function tmux(o: CpuOptions): Promise<number> {
  return withTmux(120, 40, [], async (t, dir) => {
    for (let i = 0; i < o.sessions; i++) {
      await t.cmd("new-window", "-d", "-t", "base", "-n", `w${i}`, PROGRAM);
      await t.cmd("pipe-pane", "-t", `base:w${i}`, "-o", `cat > ${sh(`${dir}/w${i}.log`)}`);
    }
    return await window(() => [t.pid], o.seconds);
  });
}

async function dtach(o: CpuOptions): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-" });
  try {
    for (let i = 0; i < o.sessions; i++) {
      await dtachNew(`${dir}/d${i}.sock`, PROGRAM);
    }
    return await window(() => dtachPids(dir), o.seconds);
  } finally {
    for (const pid of dtachPids(dir)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}

export async function cpuRows(o: CpuOptions): Promise<Row[]> {
  const one = (x: number | null): Stat | null => (x === null ? null : stat([x]));
  o.log(
    `cpu: ${o.sessions} sessions printing a line every 100 ms, ${o.seconds} s, claude-sessions`,
  );
  const a = one(await ours(o));
  o.log("cpu: tmux");
  const b = one((await have("tmux")) ? await tmux(o) : null);
  o.log("cpu: dtach");
  const d = one((await have("dtach", ["--help"])) ? await dtach(o) : null);
  const r = ratio(a, b);
  return [{
    figure: `server CPU over ${o.seconds} s, ${o.sessions} sessions each printing a line every ` +
      "100 ms (logging on; tmux: pipe-pane; one round)",
    ours: fmt(a, "s", 2),
    tmux: fmt(b, "s", 2),
    floor: `dtach ${d ? fmt(d, "s", 2) : "not installed: skipped"}`,
    ratio: `${times(r)} tmux, ${times(ratio(a, d), 1)} dtach`,
    target: `≤ 1.5× tmux: ${verdict(r, "<=", 1.5)}`,
  }];
}
