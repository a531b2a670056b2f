/**
 * Busy CPU: many sessions printing a little, as agents do — the server's CPU
 * time (user + system, all threads) over a fixed window, claude-sessions
 * (logging on) beside tmux (`pipe-pane` logging; the `cat` processes it
 * pipes to are not counted) and dtach (no logging; its masters summed).
 *
 * @module
 */

import { RawClient, TestHome } from "../test/_harness.ts";
import { dtachNew, dtachPids, have, sh, sleep, type Stat, stat, Tmux, usage } from "./_lib.ts";
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

async function ours(o: CpuOptions): Promise<number> {
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c"] } });
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  try {
    for (let i = 0; i < o.sessions; i++) {
      const r = await c.request("new", {
        cwd: home.dir,
        env: home.env,
        args: [PROGRAM],
        cols: 120,
        rows: 40,
      });
      if (!r.ok) throw new Error(JSON.stringify(r.error));
    }
    return await window(() => [daemon.pid], o.seconds);
  } finally {
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
}

async function tmux(o: CpuOptions): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-" });
  const t = await Tmux.start(dir, 120, 40);
  try {
    for (let i = 0; i < o.sessions; i++) {
      await t.cmd("new-window", "-d", "-t", "base", "-n", `w${i}`, PROGRAM);
      await t.cmd("pipe-pane", "-t", `base:w${i}`, "-o", `cat > ${sh(`${dir}/w${i}.log`)}`);
    }
    return await window(() => [t.pid], o.seconds);
  } finally {
    await t.stop();
    await Deno.remove(dir, { recursive: true });
  }
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
