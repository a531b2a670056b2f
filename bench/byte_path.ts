/**
 * The byte path: output throughput (one attached client, and none; logging
 * on and off; many sessions at once) and keystroke echo latency through an
 * attached client — claude-sessions beside tmux, dtach and a bare PTY.
 *
 * Every flood is the same file of terminal-like text `cat`ed by a program in
 * raw mode (`stty raw -echo`, so the bytes pass unchanged), started by a key
 * once everything is in place:
 *
 * - one attached client: timed from the first flood bytes reaching the
 *   client's terminal to the end marker reaching it (tmux redraws; it may
 *   skip frames of a flood, attach does not);
 * - no client: from the key to the server having it all — claude-sessions:
 *   the session's exit recorded, which comes once all output is in the log;
 *   tmux: its `pipe-pane` log holding every byte;
 * - the bare-PTY floor: the program straight on a PTY whose master this
 *   process reads in a tight loop, from start to end-of-file.
 *
 * @module
 */

import { RawClient } from "../test/_harness.ts";
import { withDaemon } from "./_daemon.ts";
import { SyncTerm } from "./_term.ts";
import {
  dtachNew,
  dtachPids,
  have,
  quantile,
  sh,
  sleep,
  type Stat,
  stat,
  textPayload,
  withTmux,
} from "./_lib.ts";
import { fmt, ratio, type Row, times, verdict } from "./_report.ts";

const SIZE = { cols: 100, rows: 30 };
const END = "THE-END-OF-THE-FLOOD";
const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

/** Sizes of a run. */
export interface ByteOptions {
  /** Megabytes of one flood. */
  mb: number;
  /** Rounds of each single-session flood. */
  rounds: number;
  /** Sessions flooding at once, and megabytes each. */
  many: number;
  manyMb: number;
  /** Keys per echo round, and rounds. */
  keys: number;
  echoRounds: number;
  /** Called with a line of progress. */
  log: (msg: string) => void;
}

/** The programs, given the payload file. */
function programs(payload: string) {
  const p = sh(payload);
  return {
    /** Waits for a key, floods, prints the end marker, then stays. */
    attached: `stty raw -echo; head -c1 >/dev/null; cat ${p}; printf '\\r\\n${END}\\r\\n'; ` +
      "exec cat >/dev/null",
    /** Waits for a key, floods, exits. */
    detached: `stty raw -echo; head -c1 >/dev/null; cat ${p}`,
    /** Straight away (the bare-PTY floor). */
    bare: `stty raw -echo; cat ${p}`,
  };
}

/** Presses Enter until the flood shows on `term`; returns when its first bytes came. */
function startFlood(term: SyncTerm): number {
  for (let i = 0; i < 30; i++) {
    term.write("\r");
    try {
      return term.until("line ", 1000);
    } catch (e) {
      if (term.ended) throw e;
    }
  }
  throw new Error("the flood never started");
}

/** MB/s of `bytes` in `ms`. */
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** MB/s of a flood of `bytes` on an attached client's terminal: first bytes to the end marker. */
function floodRate(term: SyncTerm, bytes: number): number {
  const t0 = startFlood(term);
  return mbps(bytes, term.until(END, 600_000) - t0);
}

/** Flood through `claude-sessions attach`: MB/s per round. */
function oursAttached(payload: string, bytes: number, rounds: number): Promise<number[]> {
  return withDaemon({ log: { enabled: true } }, async (d) => {
    const out: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const id = await d.start(programs(payload).attached, SIZE);
      const term = SyncTerm.spawn(
        [Deno.execPath(), "run", "-A", "--quiet", MAIN, "attach", id],
        d.home.env,
        SIZE,
      );
      try {
        term.until("\x1b[?1049h", 30_000); // attached: the client switched screens
        out.push(floodRate(term, bytes));
      } finally {
        await term.close();
        await d.request("kill", { session: id });
      }
    }
    return out;
  });
}

/** Flood with no client: MB/s per round, logging on or off. */
function oursDetached(
  payload: string,
  bytes: number,
  rounds: number,
  log: boolean,
): Promise<number[]> {
  return withDaemon({ log: { enabled: log } }, async (d) => {
    const out: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const id = await d.start(programs(payload).detached, SIZE);
      await d.request("wait", { session: id, until: ["running"] });
      const t0 = performance.now();
      await d.request("input", { session: id, data: btoa("\r") });
      await d.request("wait", { session: id, until: ["exited"] });
      out.push(mbps(bytes, performance.now() - t0));
      await d.request("rm", { session: id });
    }
    return out;
  });
}

/**
 * `n` sessions flood at once (logging on, no client): aggregate MB/s, from
 * the first key to the last exit.
 */
function oursMany(payload: string, bytes: number, n: number): Promise<number> {
  return withDaemon({ log: { enabled: true } }, async (d) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await d.start(programs(payload).detached, SIZE));
    for (const id of ids) await d.request("wait", { session: id, until: ["running"] });
    // One connection per wait: a client's requests are answered in order.
    const waiters = await Promise.all(ids.map(() => RawClient.connect(d.home.socket)));
    try {
      const t0 = performance.now();
      for (const id of ids) await d.request("input", { session: id, data: btoa("\r") });
      await Promise.all(
        ids.map((id, i) => d.request("wait", { session: id, until: ["exited"] }, waiters[i])),
      );
      return mbps(bytes * n, performance.now() - t0);
    } finally {
      for (const w of waiters) w.close();
    }
  });
}

/** Waits until every file in `paths` holds `bytes` (tmux's pipe-pane logs); returns when. */
async function filled(paths: string[], bytes: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const left = new Set(paths);
  while (left.size > 0) {
    for (const p of [...left]) {
      const size = await Deno.stat(p).then((s) => s.size, () => 0);
      if (size >= bytes) left.delete(p);
    }
    if (left.size === 0) break;
    if (performance.now() > deadline) throw new Error(`tmux logged too little within ${timeoutMs}`);
    await sleep(5);
  }
  return performance.now();
}

/** Flood through `tmux attach`, with `pipe-pane` logging: MB/s per round. */
function tmuxAttached(payload: string, bytes: number, rounds: number): Promise<number[]> {
  return withTmux(SIZE.cols, SIZE.rows, [["status", "off"]], async (t, dir) => {
    const out: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const name = `flood${r}`;
      await t.cmd("new-session", "-d", "-s", name, programs(payload).attached);
      await t.cmd("pipe-pane", "-t", name, "-o", `cat > ${sh(`${dir}/${name}.log`)}`);
      const term = SyncTerm.spawn(t.argv("attach", "-t", name), t.env, SIZE);
      try {
        out.push(floodRate(term, bytes));
      } finally {
        await term.close();
        await t.cmd("kill-session", "-t", name);
        await Deno.remove(`${dir}/${name}.log`).catch(() => {});
      }
    }
    return out;
  });
}

/**
 * `n` tmux panes (one session each) flood at once with `pipe-pane` logging:
 * aggregate MB/s from the first key until every log holds everything. With
 * n = 1, per round.
 */
function tmuxDetached(
  payload: string,
  bytes: number,
  n: number,
  rounds: number,
): Promise<number[]> {
  return withTmux(SIZE.cols, SIZE.rows, [["remain-on-exit", "on"]], async (t, dir) => {
    const out: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const names = Array.from({ length: n }, (_, i) => `f${r}-${i}`);
      for (const name of names) {
        await t.cmd("new-session", "-d", "-s", name, programs(payload).detached);
        await t.cmd("pipe-pane", "-t", name, "-o", `cat > ${sh(`${dir}/${name}.log`)}`);
      }
      const t0 = performance.now();
      for (const name of names) await t.cmd("send-keys", "-t", name, "Enter");
      const t1 = await filled(names.map((x) => `${dir}/${x}.log`), bytes, 600_000);
      out.push(mbps(bytes * n, t1 - t0));
      for (const name of names) {
        await t.cmd("kill-session", "-t", name);
        await Deno.remove(`${dir}/${name}.log`).catch(() => {});
      }
    }
    return out;
  });
}

/** The floor: the program straight on a PTY read in a tight loop. MB/s per round. */
function bareFlood(payload: string, bytes: number, rounds: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const term = SyncTerm.spawn(["/bin/sh", "-c", programs(payload).bare], {
      PATH: "/usr/bin:/bin",
    }, SIZE);
    const t0 = performance.now();
    const t1 = term.drain(600_000);
    out.push(mbps(Math.min(bytes, term.bytes), t1 - t0));
    void term.close();
  }
  return out;
}

/** dtach with one attached client (no logging: dtach has none). MB/s per round. */
async function dtachAttached(payload: string, bytes: number, rounds: number): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-" });
  const out: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const sock = `${dir}/d${r}.sock`;
      await dtachNew(sock, programs(payload).attached);
      const term = SyncTerm.spawn(["dtach", "-a", sock, "-E", "-r", "none"], {
        PATH: "/usr/bin:/bin",
        TERM: "xterm-256color",
      }, SIZE);
      try {
        out.push(floodRate(term, bytes));
      } finally {
        await term.close();
        for (const pid of dtachPids(sock)) Deno.kill(pid, "SIGKILL");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return out;
}

// --- echo ---------------------------------------------------------------------

const ECHO = "stty raw -echo; exec cat";

/** Types until the program echoes (the client is attached and the program ready). */
function warmUp(term: SyncTerm): void {
  for (let i = 0; i < 60; i++) {
    term.write("Q");
    try {
      term.until("Q", 1000);
      term.skip(100);
      return;
    } catch (e) {
      if (term.ended) throw e;
    }
  }
  throw new Error("the program never echoed");
}

/** Latency of each key, typed on `term` until its echo shows there (ms). */
function echoKeys(term: SyncTerm, keys: number): number[] {
  warmUp(term);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const ms: number[] = [];
  for (let i = 0; i < keys; i++) {
    const ch = letters[i % letters.length]!;
    const t0 = performance.now();
    term.write(ch);
    ms.push(term.until(ch, 10_000) - t0);
  }
  return ms;
}

interface Echo {
  p50: number[];
  p99: number[];
}

function addRound(e: Echo, ms: number[]): void {
  e.p50.push(quantile(ms, 0.5));
  e.p99.push(quantile(ms, 0.99));
}

function oursEcho(keys: number, rounds: number): Promise<Echo> {
  return withDaemon({ log: { enabled: true } }, async (d) => {
    const e: Echo = { p50: [], p99: [] };
    const id = await d.start(ECHO, SIZE);
    for (let r = 0; r < rounds; r++) {
      const term = SyncTerm.spawn(
        [Deno.execPath(), "run", "-A", "--quiet", MAIN, "attach", id],
        d.home.env,
        SIZE,
      );
      try {
        term.until("\x1b[?1049h", 30_000);
        addRound(e, echoKeys(term, keys));
      } finally {
        await term.close();
      }
    }
    return e;
  });
}

function tmuxEcho(keys: number, rounds: number): Promise<Echo> {
  // No status line: its clock would be redrawn with letters in it.
  return withTmux(SIZE.cols, SIZE.rows, [["status", "off"]], async (t) => {
    const e: Echo = { p50: [], p99: [] };
    await t.cmd("new-session", "-d", "-s", "echo", ECHO);
    for (let r = 0; r < rounds; r++) {
      const term = SyncTerm.spawn(t.argv("attach", "-t", "echo"), t.env, SIZE);
      try {
        addRound(e, echoKeys(term, keys));
      } finally {
        await term.close();
      }
    }
    return e;
  });
}

function bareEcho(keys: number, rounds: number): Echo {
  const e: Echo = { p50: [], p99: [] };
  for (let r = 0; r < rounds; r++) {
    const term = SyncTerm.spawn(["/bin/sh", "-c", ECHO], { PATH: "/usr/bin:/bin" }, SIZE);
    addRound(e, echoKeys(term, keys));
    void term.close();
  }
  return e;
}

async function dtachEcho(keys: number, rounds: number): Promise<Echo> {
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-" });
  const sock = `${dir}/echo.sock`;
  const e: Echo = { p50: [], p99: [] };
  try {
    await dtachNew(sock, ECHO);
    for (let r = 0; r < rounds; r++) {
      const term = SyncTerm.spawn(["dtach", "-a", sock, "-E", "-r", "none"], {
        PATH: "/usr/bin:/bin",
        TERM: "xterm-256color",
      }, SIZE);
      try {
        addRound(e, echoKeys(term, keys));
      } finally {
        await term.close();
      }
    }
  } finally {
    for (const pid of dtachPids(sock)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
  return e;
}

// --- the figures ----------------------------------------------------------------

/** Throughput rows. */
export async function throughputRows(o: ByteOptions): Promise<Row[]> {
  const bytes = Math.round(o.mb * 1e6);
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-payload-" });
  const payload = `${dir}/payload`;
  const manyBytes = Math.round(o.manyMb * 1e6);
  const manyPayload = `${dir}/payload-many`;
  await Deno.writeFile(payload, textPayload(bytes));
  await Deno.writeFile(manyPayload, textPayload(manyBytes));
  const haveTmux = await have("tmux");
  const haveDtach = await have("dtach", ["--help"]);
  const s = (xs: number[] | null) => (xs && xs.length ? stat(xs) : null);
  try {
    o.log(`throughput: bare PTY floor (${o.mb} MB × ${o.rounds})`);
    const bare = s(bareFlood(payload, bytes, o.rounds));
    o.log("throughput: dtach, one attached client");
    const dtach = haveDtach ? s(await dtachAttached(payload, bytes, o.rounds)) : null;
    o.log("throughput: claude-sessions, one attached client, logging on");
    const oursA = s(await oursAttached(payload, bytes, o.rounds));
    o.log("throughput: tmux, one attached client, pipe-pane");
    const tmuxA = haveTmux ? s(await tmuxAttached(payload, bytes, o.rounds)) : null;
    o.log("throughput: claude-sessions, no client, logging on");
    const oursD = s(await oursDetached(payload, bytes, o.rounds, true));
    o.log("throughput: claude-sessions, no client, logging off");
    const oursN = s(await oursDetached(payload, bytes, o.rounds, false));
    o.log("throughput: tmux, no client, pipe-pane");
    const tmuxD = haveTmux ? s(await tmuxDetached(payload, bytes, 1, o.rounds)) : null;
    o.log(`throughput: ${o.many} sessions at once (${o.manyMb} MB each), claude-sessions`);
    const oursM = s([await oursMany(manyPayload, manyBytes, o.many)]);
    o.log(`throughput: ${o.many} tmux panes at once`);
    const tmuxM = haveTmux ? s(await tmuxDetached(manyPayload, manyBytes, o.many, 1)) : null;

    const missing = (what: string, have: boolean) => (have ? "" : ` (${what} not installed)`);
    const floorA = `bare PTY ${fmt(bare, "MB/s")}; dtach ${
      haveDtach ? fmt(dtach, "MB/s") : "not installed: skipped"
    }`;
    const rT = ratio(oursA, tmuxA);
    const rF = ratio(oursA, bare);
    const rD = ratio(oursD, tmuxD);
    const rM = ratio(oursM, tmuxM);
    return [
      {
        figure: `${o.mb} MB flood, one attached client, logging on (tmux: pipe-pane)`,
        ours: fmt(oursA, "MB/s"),
        tmux: fmt(tmuxA, "MB/s") + missing("tmux", haveTmux),
        floor: floorA,
        ratio: `${times(rT)} tmux, ${times(rF)} bare PTY`,
        target: `≥ 1.0× tmux: ${verdict(rT, ">=", 1)}; ≥ 0.5× floor: ${verdict(rF, ">=", 0.5)}`,
      },
      {
        figure: `${o.mb} MB flood, no client, logging on (tmux: pipe-pane)`,
        ours: fmt(oursD, "MB/s"),
        tmux: fmt(tmuxD, "MB/s") + missing("tmux", haveTmux),
        floor: `bare PTY ${fmt(bare, "MB/s")}`,
        ratio: `${times(rD)} tmux, ${times(ratio(oursD, bare))} bare PTY`,
        target: "—",
      },
      {
        figure: `${o.mb} MB flood, no client, no logging`,
        ours: fmt(oursN, "MB/s"),
        tmux: "—",
        floor: `bare PTY ${fmt(bare, "MB/s")}`,
        ratio: `${times(ratio(oursN, bare))} bare PTY`,
        target: "—",
      },
      {
        figure: `${o.many} sessions flooding at once (${o.manyMb} MB each, logging on; ` +
          `tmux: ${o.many} panes, pipe-pane), aggregate`,
        ours: fmt(oursM, "MB/s"),
        tmux: fmt(tmuxM, "MB/s") + missing("tmux", haveTmux),
        floor: "—",
        ratio: `${times(rM)} tmux`,
        target: `≥ 0.8× tmux: ${verdict(rM, ">=", 0.8)}`,
      },
    ];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Echo latency rows (p50 and p99). */
export async function echoRows(o: ByteOptions): Promise<Row[]> {
  const haveTmux = await have("tmux");
  const haveDtach = await have("dtach", ["--help"]);
  o.log(`echo: bare PTY floor (${o.keys} keys × ${o.echoRounds})`);
  const bare = bareEcho(o.keys, o.echoRounds);
  o.log("echo: dtach attach");
  const dtach = haveDtach ? await dtachEcho(o.keys, o.echoRounds) : null;
  o.log("echo: claude-sessions attach");
  const ours = await oursEcho(o.keys, o.echoRounds);
  o.log("echo: tmux attach");
  const tmux = haveTmux ? await tmuxEcho(o.keys, o.echoRounds) : null;
  const rows: Row[] = [];
  for (const q of ["p50", "p99"] as const) {
    const a: Stat = stat(ours[q]);
    const b = tmux ? stat(tmux[q]) : null;
    const r = ratio(a, b);
    rows.push({
      figure: `keystroke echo through attach, ${q} (${o.keys} keys a round)`,
      ours: fmt(a, "ms", 2),
      tmux: fmt(b, "ms", 2),
      floor: `bare PTY ${fmt(stat(bare[q]), "ms", 2)}; dtach ${
        dtach ? fmt(stat(dtach[q]), "ms", 2) : "not installed: skipped"
      }`,
      ratio: `${times(r)} tmux, ${times(ratio(a, stat(bare[q])), 1)} bare PTY`,
      target: `≤ 1.0× tmux: ${verdict(r, "<=", 1)}`,
    });
  }
  return rows;
}
