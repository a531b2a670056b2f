/**
 * Start-up: `ls` with many live sessions and `new` until the program runs,
 * through the installed program (install.sh into a temporary prefix and
 * HOME), from source, and through the protocol (the daemon's own part) —
 * beside the runtime floor (a Deno program that prints `[]`, started the way
 * the launcher starts the program), tmux and dtach.
 *
 * @module
 */

import { RawClient, TestHome } from "../test/_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { dtachNew, dtachPids, have, run, Signals, sleep, type Stat, stat, Tmux } from "./_lib.ts";
import { fmt, ratio, type Row, times, verdict } from "./_report.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}src/main.ts`;

/** Sizes of a run. */
export interface StartupOptions {
  /** Runs of each timed command (rounds of the concurrent `new`s: a fifth). */
  runs: number;
  /** Live sessions while `ls` is timed. */
  sessions: number;
  log: (msg: string) => void;
}

/** An installed program in a temporary prefix, and what it is. */
interface Installed {
  bin: string;
  kind: "binary" | "launcher";
  dir: string;
}

/**
 * Installs the program as a user would (install.sh), into a temporary
 * prefix, with a temporary HOME: the real ~/.local is never touched. A
 * compiled binary where `deno compile` can run (`DENORT_BIN`), else the
 * launcher.
 */
async function install(log: (msg: string) => void): Promise<Installed> {
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-install-" });
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json"]));
  const env: Record<string, string> = {
    HOME: dir,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    DENO_DIR: info.denoDir,
    NO_COLOR: "1",
    CLAUDE_SESSIONS_HOME: `${dir}/home`,
  };
  for (const k of ["DENORT_BIN", "TMPDIR", "LANG", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  const args = ["--no-service", "--prefix", `${dir}/prefix`];
  if (!env.DENORT_BIN) args.unshift("--launcher");
  log(`startup: install.sh ${args.join(" ")}`);
  const out = await new Deno.Command(`${ROOT}install.sh`, {
    args,
    env,
    clearEnv: true,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`install.sh failed:\n${text}`);
  const bin = `${dir}/prefix/bin/claude-sessions`;
  // doctor started a daemon in the temporary home.
  await new Deno.Command(bin, { args: ["stop-daemon"], env, clearEnv: true, stdout: "null" })
    .output();
  return { bin, kind: /Installing the binary/.test(text) ? "binary" : "launcher", dir };
}

/** Wall-clock ms of running argv to completion (output discarded); throws on failure. */
async function timed(argv: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return ms;
}

/** Runs each entry `runs` times, interleaved (so that the machine's noise is shared). */
async function interleaved(
  runs: number,
  what: Record<string, (() => Promise<number>) | null>,
): Promise<Record<string, Stat | null>> {
  const ms: Record<string, number[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [k, fn] of Object.entries(what)) {
      if (!fn) continue;
      (ms[k] ??= []).push(await fn());
    }
  }
  return Object.fromEntries(
    Object.keys(what).map((k) => [k, ms[k] ? stat(ms[k]) : null]),
  );
}

export async function startupRows(o: StartupOptions): Promise<Row[]> {
  const inst = await install(o.log);
  const work = await Deno.makeTempDir({ prefix: "cs-bench-startup-" });
  // The runtime floor, started as the launcher starts the program.
  await Deno.writeTextFile(`${work}/floor.js`, 'console.log("[]");\n');
  await Deno.writeTextFile(
    `${work}/floor`,
    `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet --no-config '${work}/floor.js' "$@"\n`,
    { mode: 0o755 },
  );
  const sig = await Signals.open(work);
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c"] } });
  const env = { ...home.env, DENO_NO_UPDATE_CHECK: "1" };
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  const haveTmux = await have("tmux");
  const haveDtach = await have("dtach", ["--help"]);
  const tmux = haveTmux ? await Tmux.start(work, 80, 24) : null;
  const signal = (token: string) => `echo ${token} > '${sig.path}'; exec cat`;
  const newReq = (token: string) =>
    c.request("new", { cwd: home.dir, env, args: [signal(token)], cols: 80, rows: 24 });
  const rows: Row[] = [];
  try {
    // --- ls with many live sessions
    o.log(`startup: ${o.sessions} idle sessions in each server`);
    sig.clear();
    for (let i = 0; i < o.sessions; i++) {
      const r = await newReq(`s${i}`);
      if (!r.ok) throw new Error(JSON.stringify(r.error));
      if (tmux) await tmux.cmd("new-window", "-d", "-t", "base", "sh", "-c", "exec cat");
    }
    await sig.lines(o.sessions, 60_000);
    o.log(`startup: ls, ${o.runs} runs each`);
    const ls = await interleaved(o.runs, {
      floor: () => timed([`${work}/floor`], env),
      installed: () => timed([inst.bin, "ls", "--json"], env),
      source: () => timed([Deno.execPath(), "run", "-A", "--quiet", MAIN, "ls", "--json"], env),
      protocol: async () => {
        const t0 = performance.now();
        const r = await c.request("ls", {});
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        return performance.now() - t0;
      },
      tmux: tmux ? () => timed(tmux.argv("list-windows", "-a"), tmux.env) : null,
    });
    const rI = ratio(ls.installed, ls.floor);
    const rIS = ratio(ls.installed, ls.source);
    rows.push({
      figure: `\`ls\` at ${o.sessions} sessions: installed ${inst.kind} / from source ` +
        `(the daemon's own answer)`,
      ours: `${fmt(ls.installed, "ms")} / ${fmt(ls.source, "ms")} (${fmt(ls.protocol, "ms", 2)})`,
      tmux: `${fmt(ls.tmux, "ms")} (\`list-windows -a\`)`,
      floor: `Deno printing \`[]\` ${fmt(ls.floor, "ms")}`,
      ratio: `installed ${times(rI)} / source ${
        times(ratio(ls.source, ls.floor))
      } the floor; installed ${times(rIS)} source`,
      target: `installed ≤ 1.3× floor: ${verdict(rI, "<=", 1.3)}; installed ≤ source: ${
        verdict(rIS, "<=", 1)
      }`,
    });

    // --- new → program running, one session
    o.log(`startup: new → program running, ${o.runs} runs each`);
    let n = 0;
    const made: string[] = [];
    const cliNew = (argv: string[]) => async () => {
      sig.clear();
      const token = `n${n++}`;
      const t0 = performance.now();
      const out = await new Deno.Command(argv[0]!, {
        args: [...argv.slice(1), "new", home.dir, "--size", "80x24", "--", signal(token)],
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      const ms = (await sig.lines(1, 30_000)) - t0;
      made.push(new TextDecoder().decode(out.stdout).trim());
      return ms;
    };
    const dtachDir = `${work}/dtach`;
    await Deno.mkdir(dtachDir);
    const one = await interleaved(o.runs, {
      installed: cliNew([inst.bin]),
      source: cliNew([Deno.execPath(), "run", "-A", "--quiet", MAIN]),
      protocol: async () => {
        sig.clear();
        const t0 = performance.now();
        const r = await newReq(`p${n++}`);
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        made.push((r.result as { session: SessionRecord }).session.id);
        return (await sig.lines(1, 30_000)) - t0;
      },
      tmux: tmux
        ? async () => {
          sig.clear();
          const t0 = performance.now();
          await tmux.cmd("new-session", "-d", "-s", `t${n}`, signal(`t${n++}`));
          return (await sig.lines(1, 30_000)) - t0;
        }
        : null,
      dtach: haveDtach
        ? async () => {
          sig.clear();
          const t0 = performance.now();
          await dtachNew(`${dtachDir}/${n}.sock`, signal(`d${n++}`));
          return (await sig.lines(1, 30_000)) - t0;
        }
        : null,
    });
    const rN = ratio(one.installed, ls.floor);
    rows.push({
      figure: "`new` → program running, 1 session: installed / from source (via the protocol)",
      ours: `${fmt(one.installed, "ms")} / ${fmt(one.source, "ms")} (${fmt(one.protocol, "ms")})`,
      tmux: `${fmt(one.tmux, "ms")} (\`new-session -d\`)`,
      floor: `Deno printing \`[]\` ${fmt(ls.floor, "ms")}; dtach ${
        haveDtach ? fmt(one.dtach, "ms") : "not installed: skipped"
      }`,
      ratio: `installed ${times(rN)} the Deno floor, ${
        times(ratio(one.installed, one.tmux))
      } tmux; protocol ${times(ratio(one.protocol, one.tmux))} tmux`,
      target: `installed ≤ 1.3× floor: ${verdict(rN, "<=", 1.3)}`,
    });

    // --- 20 at once
    const many = 20;
    const rounds = Math.max(1, Math.round(o.runs / 5));
    o.log(`startup: ${many} concurrent news, ${rounds} rounds each`);
    const manyNew = (one: (token: string) => Promise<unknown>) => async () => {
      sig.clear();
      const t0 = performance.now();
      await Promise.all([...Array(many).keys()].map(() => one(`m${n++}`)));
      return (await sig.lines(many, 60_000)) - t0;
    };
    const conns = await Promise.all(
      [...Array(many).keys()].map(() => RawClient.connect(home.socket)),
    );
    let next = 0;
    const concurrent = await interleaved(rounds, {
      installed: manyNew(async (token) => {
        const out = await new Deno.Command(inst.bin, {
          args: ["new", home.dir, "--size", "80x24", "--", signal(token)],
          env,
          clearEnv: true,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).output();
        if (!out.success) throw new Error("new failed");
      }),
      protocol: manyNew(async (token) => {
        const r = await conns[next++ % many]!.request("new", {
          cwd: home.dir,
          env,
          args: [signal(token)],
          cols: 80,
          rows: 24,
        });
        if (!r.ok) throw new Error(JSON.stringify(r.error));
      }),
      tmux: tmux
        ? manyNew((token) => tmux.cmd("new-session", "-d", "-s", token, signal(token)))
        : null,
    });
    for (const k of conns) k.close();
    const rC = ratio(concurrent.installed, concurrent.tmux);
    rows.push({
      figure: `${many} concurrent \`new\`s, all running: installed (via the protocol)`,
      ours: `${fmt(concurrent.installed, "ms", 0)} (${fmt(concurrent.protocol, "ms", 0)})`,
      tmux: fmt(concurrent.tmux, "ms", 0),
      floor: "—",
      ratio: `${times(rC)} tmux (protocol ${times(ratio(concurrent.protocol, concurrent.tmux))})`,
      target: "—",
    });
  } finally {
    sig.close();
    c.close();
    await daemon.stop();
    await home.cleanup();
    await tmux?.stop();
    for (const pid of haveDtach ? dtachPids(work) : []) Deno.kill(pid, "SIGKILL");
    await sleep(100);
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(inst.dir, { recursive: true }).catch(() => {});
  }
  return rows;
}
