/**
 * `deno task bench`: every figure of the performance targets, claude-sessions
 * beside tmux (and dtach and a bare PTY where they are the floor), on this
 * machine, in one run. Prints a table of the figures with their spread and
 * the ratios, says which targets are met and which are missed by how much,
 * and writes it all to `bench/results/<date>.md` with the machine.
 *
 *   deno task bench [--quick] [--only GROUP,…] [--out FILE]
 *
 * Groups: throughput, echo, startup, memory, cpu (default: all).
 * `--quick` is a smoke run: small sizes, few rounds (its file is
 * `<date>-quick.md`). Benchmarks never fail on a timing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { machine } from "./_lib.ts";
import { markdown, plain, type Row } from "./_report.ts";
import { echoRows, throughputRows } from "./byte_path.ts";
import { startupRows } from "./startup.ts";
import { memoryRows } from "./memory.ts";
import { cpuRows } from "./cpu.ts";

const GROUPS = ["throughput", "echo", "startup", "memory", "cpu"] as const;
type Group = typeof GROUPS[number];

const args = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.values.help) {
  console.log(
    "usage: deno task bench [--quick] [--only throughput,echo,startup,memory,cpu] [--out FILE]",
  );
  Deno.exit(0);
}
const quick = args.values.quick;
const only = (args.values.only?.split(",") ?? [...GROUPS]) as Group[];
for (const g of only) {
  if (!GROUPS.includes(g)) {
    console.error(`bench: unknown group "${g}" (groups: ${GROUPS.join(", ")})`);
    Deno.exit(2);
  }
}

const started = new Date();
const t0 = performance.now();
const log = (msg: string) =>
  console.error(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

/** Sizes: the full run, and the quick smoke run. */
const SIZES = quick
  ? {
    mb: 20,
    rounds: 1,
    many: 20,
    manyMb: 1,
    keys: 50,
    echoRounds: 2,
    lsRuns: 5,
    idle: 20,
    scrollbackSessions: 3,
    scrollback: 10_000,
    cpuSeconds: 10,
    floodSessions: 10,
  }
  : {
    mb: 200,
    rounds: 3,
    many: 20,
    manyMb: 10,
    keys: 200,
    echoRounds: 5,
    lsRuns: 21,
    idle: 100,
    scrollbackSessions: 10,
    scrollback: 10_000,
    cpuSeconds: 60,
    floodSessions: 50,
  };

const machineBefore = await machine();
const sections: { group: Group; rows: Row[]; error?: string }[] = [];
for (const group of only) {
  let rows: Row[] = [];
  try {
    if (group === "throughput") rows = await throughputRows({ ...SIZES, log });
    if (group === "echo") rows = await echoRows({ ...SIZES, log });
    if (group === "startup") rows = await startupRows({ runs: SIZES.lsRuns, sessions: 100, log });
    if (group === "memory") {
      rows = await memoryRows({
        idle: SIZES.idle,
        scrollbackSessions: SIZES.scrollbackSessions,
        scrollback: SIZES.scrollback,
        floodSessions: SIZES.floodSessions,
        log,
      });
    }
    if (group === "cpu") rows = await cpuRows({ seconds: SIZES.cpuSeconds, sessions: 10, log });
    sections.push({ group, rows });
  } catch (e) {
    const msg = (e as Error)?.stack ?? String(e);
    log(`${group}: failed: ${msg}`);
    sections.push({ group, rows, error: msg.split("\n")[0] });
  }
  console.log(`\n== ${group}\n${plain(rows)}`);
}

const rows = sections.flatMap((s) => s.rows);
const m = { ...machineBefore, "load after": (await machine()).load };
const date = started.toISOString().slice(0, 10);
const out = args.values.out ??
  new URL(`./results/${date}${quick ? "-quick" : ""}.md`, import.meta.url).pathname;
const text = [
  `# Benchmark ${date}${quick ? " (quick)" : ""}`,
  "",
  `\`deno task bench${
    Deno.args.length ? " " + Deno.args.join(" ") : ""
  }\`, started ${started.toISOString()}, took ${
    ((performance.now() - t0) / 60000).toFixed(1)
  } min.`,
  "",
  "Machine: " + Object.entries(m).map(([k, v]) => `${k} ${v}`).join("; ") + ".",
  "",
  "Each cell: median (min–max, n = rounds). The machine is shared: the load average",
  "(1, 5, 15 min) is given before and after the run.",
  "",
  markdown(rows),
  "",
  ...sections.filter((s) => s.error).map((s) => `- ${s.group}: failed: ${s.error}`),
  "",
  "How each figure is taken (see the modules in bench/):",
  "",
  "- Floods `cat` a file of terminal-like text (coloured, numbered lines) in raw mode. One",
  "  attached client: from the first flood bytes on the client's terminal to the end marker",
  "  there. No client: from the key that starts it to the server having it all (claude-sessions:",
  "  the exit recorded, after the log has everything; tmux: its pipe-pane log complete).",
  "  The bare-PTY floor reads the program's PTY in a tight loop.",
  "- Echo: a key typed on the client's terminal until its echo shows there; the reader is a",
  "  synchronous poll/read loop on that terminal.",
  "- Start-up: wall time of the command, run as a user runs it (the installed launcher from",
  "  install.sh in a temporary prefix, or `deno run src/main.ts`); the floor is a Deno program",
  "  printing `[]`, started as the launcher starts the program.",
  "- Memory: RSS after the server settles; per session, what each session adds to a server",
  "  that has one (tmux has at least one; the daemon starts its worker threads with its first).",
  "",
].join("\n");
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(out, text);
// As the repository's formatter wants it (the results are committed).
const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out] }).output();
if (!fmt.success) console.error(`bench: deno fmt ${out} failed; the file is written unformatted`);
console.log(`\nwritten to ${out}`);
Deno.exit(0);
