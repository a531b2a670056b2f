/**
 * Where the daemon's CPU time goes under the byte path's loads: a CPU
 * profile (Linux `perf`, with V8's `--perf-basic-prof` so JavaScript frames
 * have names) of the daemon — and of the attached client, where there is
 * one — while it runs one of:
 *
 * - `flood`: one session printing terminal-like text as fast as it can, one
 *   attached client reading everything, logging on;
 * - `echo`: keys typed through an attached client, one at a time;
 * - `busy`: 10 sessions each printing a line every 100 ms, no client.
 *
 *   deno run -A bench/profile.ts flood|echo|busy [SECONDS=10] [--out DIR]
 *
 * Prints the time per thread and the top functions, and leaves `perf.data`
 * (and the symbol maps) in DIR for `perf report -i DIR/perf.data`.
 * bench/results/profile-notes.md says what the profiles showed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RawClient, TestHome } from "../test/_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { SyncTerm } from "./_term.ts";
import { have, sh, sleep, textPayload } from "./_lib.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const SIZE = { cols: 100, rows: 30 };
/** The inspector's port on the daemon (its main thread's JavaScript profile). */
const INSPECT_PORT = 9339 + Math.floor(Math.random() * 500);
let jsProfile: CpuProfile | null = null;

const args = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { out: { type: "string" } },
});
const load = args.positionals[0];
const seconds = Number(args.positionals[1] ?? 10);
if (!["flood", "echo", "busy"].includes(load ?? "")) {
  console.error("usage: deno run -A bench/profile.ts flood|echo|busy [SECONDS] [--out DIR]");
  Deno.exit(2);
}
if (!(await have("perf", ["--version"]))) {
  console.error("profile: perf is not installed (Linux: apt-get install linux-perf)");
  Deno.exit(1);
}
const given = args.values.out ?? await Deno.makeTempDir({ prefix: "cs-profile-" });
await Deno.mkdir(given, { recursive: true });
const out = await Deno.realPath(given);
// V8 writes its code logs (isolate-*.log) into the working directory of the
// processes profiled: theirs is the output directory, not the checkout.
Deno.chdir(out);

const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c"] } });
const daemon = await startDaemon(home);
const c = await RawClient.connect(home.socket);
const start = async (script: string) => {
  const r = await c.request("new", { cwd: home.dir, env: home.env, args: [script], ...SIZE });
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return (r.result as { session: SessionRecord }).session.id;
};
const attach = (id: string) =>
  SyncTerm.spawn([Deno.execPath(), "run", "-A", "--quiet", MAIN, "attach", id], {
    ...home.env,
    DENO_V8_FLAGS: "--perf-basic-prof,--interpreted-frames-native-stack",
  }, SIZE);

/**
 * A foreground daemon with the inspector on: JIT'd JavaScript gets names in
 * /tmp/perf-<pid>.map (the daemon keeps its own V8 flags and adds these).
 */
async function startDaemon(home: TestHome): Promise<{ pid: number; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      `--inspect=127.0.0.1:${INSPECT_PORT}`,
      MAIN,
      "daemon",
      "--foreground",
    ],
    env: { ...home.env, DENO_V8_FLAGS: "--perf-basic-prof,--interpreted-frames-native-stack" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const r = await reader.read();
    if (r.done) throw new Error("the daemon did not start");
    text += r.value;
  }
  void (async () => {
    while (!(await reader.read()).done) { /* drained */ }
  })();
  return {
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** A V8 CPU profile of the daemon's main thread, taken over `ms`. */
async function mainThreadProfile(ms: number): Promise<CpuProfile> {
  const list = await (await fetch(`http://127.0.0.1:${INSPECT_PORT}/json/list`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((r) => (ws.onopen = r));
  let id = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id) waiting.get(m.id)?.(m.result);
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((r) => {
      waiting.set(++id, r);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  await sleep(ms);
  const { profile } = (await call("Profiler.stop")) as { profile: CpuProfile };
  ws.close();
  return profile;
}

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
}

/** Self time per function, as a share of the samples (idle included). */
function selfTimes(p: CpuProfile): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  for (const s of p.samples) {
    const f = byId.get(s)!.callFrame;
    const where = f.url
      ? ` ${f.url.replace(/^.*\/(src|ext|npm)\//, "$1/")}:${f.lineNumber + 1}`
      : "";
    const key = `${f.functionName || "(anonymous)"}${where}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / p.samples.length]);
}

/** Records `pids` for `seconds`; resolves when perf is done. */
async function record(pids: number[]): Promise<void> {
  const st = await new Deno.Command("perf", {
    args: [
      "record",
      "-q",
      "-F",
      "499",
      "-g",
      "-o",
      `${out}/perf.data`,
      "-p",
      pids.join(","),
      "--",
      "sleep",
      String(seconds),
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn().status;
  if (!st.success) throw new Error(`perf record exited ${st.code}`);
}

/** Both profiles at once: perf of the processes, V8's of the daemon's main thread. */
async function profile(pids: number[]): Promise<void> {
  const [, js] = await Promise.all([record(pids), mainThreadProfile(seconds * 1000)]);
  jsProfile = js;
}

let term: SyncTerm | null = null;
try {
  if (load === "flood") {
    const payload = `${home.dir}/payload`;
    await Deno.writeFile(payload, textPayload(8 * 1024 * 1024));
    // Floods for as long as the profile runs.
    const id = await start(`stty raw -echo; while :; do cat ${sh(payload)}; done`);
    term = attach(id);
    term.until("\x1b[?1049h", 30_000);
    const recording = profile([daemon.pid, term.child.pid]);
    const until = performance.now() + seconds * 1000 + 500;
    while (performance.now() < until) term.read(100);
    await recording;
  } else if (load === "echo") {
    const id = await start("stty raw -echo; exec cat");
    term = attach(id);
    term.until("\x1b[?1049h", 30_000);
    const recording = profile([daemon.pid, term.child.pid]);
    const until = performance.now() + seconds * 1000 + 500;
    let keys = 0;
    const letters = "abcdefghijklmnopqrstuvwxyz";
    while (performance.now() < until) {
      const ch = letters[keys++ % letters.length]!;
      term.write(ch);
      term.until(ch, 5000);
    }
    await recording;
    console.log(`${keys} keys echoed`);
  } else {
    for (let i = 0; i < 10; i++) {
      await start(
        "i=0; while :; do i=$((i+1)); " +
          "printf '\\033[2m%6d\\033[0m agent step %d: reading \\033[1msrc/main.ts\\033[0m ✓\\r\\n' $i $i; " +
          "sleep 0.1; done",
      );
    }
    await sleep(2000);
    await profile([daemon.pid]);
  }
} finally {
  await term?.close();
  c.close();
  await daemon.stop();
  await home.cleanup();
}
if (jsProfile) {
  console.log(
    `== ${load}: the daemon's main thread, JavaScript self time (V8 profile, idle included)`,
  );
  for (const [f, share] of selfTimes(jsProfile).slice(0, 25)) {
    console.log(`  ${(share * 100).toFixed(1).padStart(5)}%  ${f}`);
  }
}

const report = async (sort: string, extra: string[] = []) => {
  const o = await new Deno.Command("perf", {
    args: [
      "report",
      "-i",
      `${out}/perf.data`,
      "--no-children",
      "--sort",
      sort,
      "--stdio",
      ...extra,
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(o.stdout).split("\n").filter((l) => /^\s+\d/.test(l));
};
console.log(`== ${load}: share of samples per process and thread`);
console.log((await report("pid,comm", ["-g", "none"])).slice(0, 12).join("\n"));
console.log(`== ${load}: top functions (all threads)`);
console.log((await report("comm,sym", ["-g", "none"])).slice(0, 40).join("\n"));
console.log(`\nperf data: ${out}/perf.data`);
