/**
 * `watch` under load: 100 stand-in sessions changing status 10 times a
 * second in total (a stand-in daemon sends the events, so only `watch` is
 * measured), `watch` on a real PTY of 120x40 read as fast as it writes.
 *
 *   deno run -A bench/watch.ts [SECONDS=10] [SESSIONS=100] [CHANGES_PER_SECOND=10]
 *
 * Prints, for `watch` and for the naive baseline (`watch --full-redraw`: the
 * whole screen redrawn on every change, nothing coalesced), side by side:
 * CPU in percent of one core, bytes written to the terminal per second, and
 * frames per second; then the ratios. The target is under 5% of a core.
 *
 * @module
 */

import { TestHome } from "../test/_harness.ts";
import { TermClient } from "../test/_term.ts";
import { StandInDaemon, standInRecord } from "../test/_standin.ts";
import type { SessionRecord } from "../src/protocol.ts";

const SECONDS = Number(Deno.args[0] ?? 10);
const SESSIONS = Number(Deno.args[1] ?? 100);
const RATE = Number(Deno.args[2] ?? 10);
const WARMUP_MS = 3000;
const CLK_TCK = 100;
const SIZE = { cols: 120, rows: 40 };

/** utime+stime of a process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** A session's next status, and what it says there. */
function next(rec: SessionRecord, n: number): [string, Partial<SessionRecord>] {
  switch (rec.status) {
    case "running":
      return n % 2 === 0
        ? [
          "waiting_permission",
          { waitingFor: { kind: "permission", tool: "Bash", input: `npm test -- --shard ${n}` } },
        ]
        : ["waiting_input", { waitingFor: null, lastMessage: `Done with step ${n}.\nDetails…` }];
    default:
      return ["running", { waitingFor: null }];
  }
}

interface Result {
  cpuPercent: number;
  bytesPerSecond: number;
  framesPerSecond: number;
  changes: number;
}

async function measure(fullRedraw: boolean): Promise<Result> {
  const home = await TestHome.create();
  const records = Array.from(
    { length: SESSIONS },
    (_, i) =>
      standInRecord(
        `01BENCH${String(i).padStart(19, "0")}`,
        i % 10 === 0 ? "waiting_input" : "running",
        {
          name: `s${String(i).padStart(3, "0")}`,
          cwd: `/home/me/src/project-${i % 17}`,
          tags: i % 3 === 0 ? ["batch"] : [],
          lastMessage: "Started.",
        },
      ),
  );
  const daemon = StandInDaemon.start(home.socket, records);
  const env = { ...home.env, TERM: "xterm-256color" };
  delete (env as Record<string, string>).NO_COLOR;
  const term = TermClient.spawn(
    ["watch", "--no-notify", ...(fullRedraw ? ["--full-redraw"] : [])],
    env,
    SIZE,
    false,
  );
  let bytes = 0;
  let frames = 0;
  const enc = new TextEncoder();
  term.onOutput((text) => {
    bytes += enc.encode(text).length;
    frames += text.split("\x1b[?2026h").length - 1;
  });
  try {
    await daemon.until(() => daemon.subscribers > 0, "watch subscribe");
    let n = 0;
    const ids = [...daemon.records.keys()];
    const timer = setInterval(() => {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      const [status, extra] = next(daemon.records.get(id)!, n++);
      daemon.setStatus(id, status, extra);
    }, 1000 / RATE);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const cpu0 = cpuMs(term.child.pid);
    const bytes0 = bytes;
    const frames0 = frames;
    const n0 = n;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const secs = (performance.now() - t0) / 1000;
    const result = {
      cpuPercent: ((cpuMs(term.child.pid) - cpu0) / 10) / secs,
      bytesPerSecond: (bytes - bytes0) / secs,
      framesPerSecond: (frames - frames0) / secs,
      changes: n - n0,
    };
    clearInterval(timer);
    term.type("q");
    await term.close();
    return result;
  } finally {
    await daemon.close();
    await home.cleanup();
  }
}

const fmt = (x: number, d = 1) => x.toFixed(d);
const kib = (x: number) => `${fmt(x / 1024)} KiB/s`;

console.log(
  `watch: ${SESSIONS} sessions, ${RATE} status changes a second, ${SIZE.cols}x${SIZE.rows}, ` +
    `${SECONDS} s measured after ${WARMUP_MS / 1000} s`,
);
const diffed = await measure(false);
const naive = await measure(true);
const rows: [string, string, string][] = [
  ["", "watch", "full redraw per change"],
  ["CPU (% of a core)", fmt(diffed.cpuPercent), fmt(naive.cpuPercent)],
  ["written to the terminal", kib(diffed.bytesPerSecond), kib(naive.bytesPerSecond)],
  ["frames a second", fmt(diffed.framesPerSecond), fmt(naive.framesPerSecond)],
  ["status changes", String(diffed.changes), String(naive.changes)],
];
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
for (const r of rows) console.log(`${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`);
console.log(
  `ratios (watch / baseline): CPU ${fmt(diffed.cpuPercent / naive.cpuPercent, 2)}, ` +
    `bytes ${fmt(diffed.bytesPerSecond / naive.bytesPerSecond, 3)}`,
);
console.log(
  `target: under 5% of a core: ${diffed.cpuPercent < 5 ? "met" : "NOT met"} ` +
    `(${fmt(diffed.cpuPercent)}%)`,
);
