/**
 * The daemon's memory: per idle session, per session holding a full
 * scrollback, and at its peak while many sessions flood — beside tmux's
 * server.
 *
 * Per session: what the server's RSS grows by for each session added to a
 * server that already has one — tmux cannot run without one, and the
 * daemon starts its worker threads (PTY reactor, screen model) with its
 * first, a fixed cost shown apart ("first session").
 *
 * RSS is read from /proc after the servers settle (the daemon moves old
 * scrollback out of its screen models once output pauses, and hands freed
 * memory back every second).
 *
 * @module
 */

import { type BenchDaemon, withDaemon } from "./_daemon.ts";
import { RssSampler } from "../stress/_stress.ts";
import { have, sh, Signals, sleep, stat, textPayload, type Tmux, usage, withTmux } from "./_lib.ts";
import { fmt, ratio, type Row, times, verdict } from "./_report.ts";

/** Sizes of a run. */
export interface MemoryOptions {
  /** Idle sessions. */
  idle: number;
  /** Sessions holding a full scrollback, and its length. */
  scrollbackSessions: number;
  scrollback: number;
  /** Sessions flooding 5 MiB each. */
  floodSessions: number;
  log: (msg: string) => void;
}

const COLS = 120;
const ROWS = 40;
/** Time given to a server to settle before its RSS is read. */
const SETTLE_MS = 5000;
const END = "END-OF-SCROLLBACK";

/** Server RSS (MiB): empty, with one session, and with the measured ones added. */
interface Growth {
  empty: number;
  base: number;
  loaded: number;
}

/** A program that prints a line and waits for input, as an idle Claude does; signals once it runs. */
const idle = (sig: Signals, i: number) => `echo ready; echo ${i} > ${sh(sig.path)}; exec cat`;

/** RSS of a daemon: empty, with one idle session, then with `n` more running `script`. */
function oursGrowth(
  n: number,
  sig: Signals,
  config: Record<string, unknown>,
  script: (i: number) => string,
  ready: (d: BenchDaemon, ids: string[]) => Promise<void>,
): Promise<Growth> {
  return withDaemon(config, async (d) => {
    const start = (script: string) => d.start(script, { cols: COLS, rows: ROWS });
    await sleep(SETTLE_MS);
    const empty = usage(d.pid).rssMiB;
    sig.clear();
    await start(idle(sig, -1));
    await sig.lines(1, 60_000);
    await sleep(SETTLE_MS);
    const base = usage(d.pid).rssMiB;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await start(script(i)));
    await ready(d, ids);
    await sleep(SETTLE_MS);
    return { empty, base, loaded: usage(d.pid).rssMiB };
  });
}

/** RSS of a tmux server with one pane, then with `n` more windows running `script`. */
function tmuxGrowth(
  n: number,
  options: [string, string][],
  script: (i: number) => string,
  ready: (t: Tmux) => Promise<void>,
): Promise<Growth> {
  return withTmux(COLS, ROWS, options, async (t) => {
    await sleep(SETTLE_MS);
    const base = usage(t.pid).rssMiB;
    for (let i = 0; i < n; i++) {
      await t.cmd("new-window", "-d", "-t", "base", "-n", `w${i}`, script(i));
    }
    await ready(t);
    await sleep(SETTLE_MS);
    return { empty: base, base, loaded: usage(t.pid).rssMiB };
  });
}

/** Waits until `shows()` is true (the server has parsed all the output). */
async function until(shows: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await shows())) {
    if (performance.now() > deadline) throw new Error("the output never showed");
    await sleep(50);
  }
}

/** Peak RSS while `n` sessions each print `file`, and RSS a while after they have ended. */
function oursFlood(
  n: number,
  file: string,
): Promise<{ base: number; peak: number; after: number }> {
  return withDaemon({}, async (d) => {
    await sleep(SETTLE_MS);
    const base = usage(d.pid).rssMiB;
    const rss = new RssSampler(d.pid, 20);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await d.start(`stty raw -echo; cat ${sh(file)}`));
    for (const id of ids) await d.request("wait", { session: id, until: ["exited"] });
    rss.stop();
    await sleep(5000);
    return { base, peak: rss.peak, after: usage(d.pid).rssMiB };
  });
}

export async function memoryRows(o: MemoryOptions): Promise<Row[]> {
  const work = await Deno.makeTempDir({ prefix: "cs-bench-memory-" });
  const sig = await Signals.open(work);
  const haveTmux = await have("tmux");
  /** MB (10^6) per session added. */
  const perSession = (x: Growth, n: number) => ((x.loaded - x.base) * 1.048576) / n;
  const rows: Row[] = [];
  try {
    // --- idle
    const rounds = 3;
    const ours: Growth[] = [];
    const tmux: Growth[] = [];
    for (let r = 0; r < rounds; r++) {
      o.log(`memory: 1 + ${o.idle} idle sessions, round ${r + 1} of ${rounds}`);
      ours.push(
        await oursGrowth(o.idle, sig, {}, (i) => idle(sig, i), async () => {
          await sig.lines(o.idle + 1, 60_000);
        }),
      );
      if (haveTmux) {
        sig.clear();
        tmux.push(
          await tmuxGrowth(o.idle, [], (i) => idle(sig, i), async () => {
            await sig.lines(o.idle, 60_000);
          }),
        );
      }
    }
    const oursPer = stat(ours.map((x) => perSession(x, o.idle)));
    const tmuxPer = tmux.length ? stat(tmux.map((x) => perSession(x, o.idle))) : null;
    const total = (xs: Growth[]) => (xs.length ? stat(xs.map((x) => x.loaded)) : null);
    rows.push({
      figure: `daemon RSS, 1 + ${o.idle} idle sessions (per session: what each of the ${o.idle} ` +
        "adds to a server with one)",
      ours: `${fmt(total(ours), "MiB")}; ${fmt(oursPer, "MB", 2)} per session; first session ${
        fmt(stat(ours.map((x) => x.base - x.empty)), "MiB")
      } (the worker threads start)`,
      tmux: `${fmt(total(tmux), "MiB")}; ${fmt(tmuxPer, "MB", 3)} per pane`,
      floor: "—",
      ratio: `${times(ratio(oursPer, tmuxPer), 0)} tmux per session`,
      target: `≤ 0.5 MB per idle session: ${verdict(oursPer.median, "<=", 0.5)}`,
    });

    // --- full scrollback
    const file = `${work}/scrollback.txt`;
    const payload = textPayload(1 << 21);
    const text = new TextDecoder().decode(payload).split("\r\n").slice(0, o.scrollback + ROWS);
    await Deno.writeTextFile(file, text.join("\r\n") + "\r\n");
    const n = o.scrollbackSessions;
    o.log(`memory: 1 + ${n} sessions × ${o.scrollback}-line scrollback`);
    const printAll = () => `cat ${sh(file)}; echo ${END}; exec cat`;
    const sb = await oursGrowth(n, sig, { scrollback: o.scrollback }, printAll, async (d, ids) => {
      for (const id of ids) {
        await until(async () => {
          const r = await d.c.request("peek", { session: id, lines: 3 });
          return r.ok === true && JSON.stringify(r.result).includes(END);
        }, 120_000);
      }
    });
    const tsb = haveTmux
      ? await tmuxGrowth(n, [["history-limit", String(o.scrollback)]], printAll, async (t) => {
        for (let i = 0; i < n; i++) {
          await until(
            async () => (await t.cmd("capture-pane", "-p", "-t", `base:w${i}`)).includes(END),
            120_000,
          );
        }
      })
      : null;
    const sbPer = stat([perSession(sb, n)]);
    const tsbPer = tsb ? stat([perSession(tsb, n)]) : null;
    const rSb = ratio(sbPer, tsbPer);
    rows.push({
      figure: `daemon RSS, 1 + ${n} sessions, the ${n} each holding a full ${o.scrollback}-line ` +
        `scrollback (${COLS}×${ROWS}, lines of ~70 characters with colours; one round)`,
      ours: `${sb.loaded.toFixed(0)} MiB; ${fmt(sbPer, "MB")} per session`,
      tmux: tsb ? `${tsb.loaded.toFixed(0)} MiB; ${fmt(tsbPer, "MB")} per pane` : "—",
      floor: "—",
      ratio: `${times(rSb)} tmux per session`,
      target: `≤ 1.0× tmux per pane: ${verdict(rSb, "<=", 1)}`,
    });

    // --- flood peak
    const flood = `${work}/flood.txt`;
    await Deno.writeFile(flood, textPayload(5 * 1024 * 1024));
    o.log(`memory: ${o.floodSessions} sessions × 5 MiB flood`);
    const f = await oursFlood(o.floodSessions, flood);
    rows.push({
      figure: `daemon peak RSS, ${o.floodSessions} sessions × 5 MiB flood (logging on; one round)`,
      ours: `peak ${f.peak.toFixed(0)} MiB (before ${f.base.toFixed(0)}, 5 s after the end ${
        f.after.toFixed(0)
      })`,
      tmux: "—",
      floor: "—",
      ratio: "—",
      target: `≤ 400 MiB: ${verdict(f.peak, "<=", 400)}; released after: ${
        f.after - f.base < 0.25 * (f.peak - f.base) ? "yes" : "partly"
      } (${(f.after - f.base).toFixed(0)} MiB kept)`,
    });
  } finally {
    sig.close();
    await Deno.remove(work, { recursive: true });
  }
  return rows;
}
