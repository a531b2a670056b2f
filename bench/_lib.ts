/**
 * What the benchmarks share: statistics, /proc readings, the machine's
 * description, tmux and dtach servers in temporary places, and a FIFO that
 * programs write to when they run.
 *
 * Benchmarks measure and print; they never assert timings.
 *
 * @module
 */

/** Median and spread of repeated measurements. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Median, min and max of `xs` (at least one value). */
export function stat(xs: number[]): Stat {
  if (xs.length === 0) throw new Error("no measurements");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: mid, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

/** The `q` quantile (0–1) of `xs`, nearest rank. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** CPU time (user + system, all threads) in ms and resident memory in MiB of a process. */
export function usage(pid: number): { cpuMs: number; rssMiB: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: ticks * 10, rssMiB: rssKb / 1024 };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs a command; returns its stdout, or throws with its stderr. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}: ${dec.decode(out.stderr).trim()}`,
    );
  }
  return dec.decode(out.stdout);
}

/** Whether `cmd` can be run. */
export async function have(cmd: string, args = ["-V"]): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** Single-quotes a word for sh. */
export function sh(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The machine, for the results file. */
export async function machine(): Promise<Record<string, string>> {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1]);
  const line = async (cmd: string, args: string[]) =>
    (await run(cmd, args).catch(() => "not installed")).split("\n")[0]!.trim();
  return {
    cores: String(navigator.hardwareConcurrency),
    cpu,
    ram: `${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    tmux: (await line("tmux", ["-V"])).replace(/^tmux /, ""),
    dtach: (await have("dtach", ["--help"])) ? "installed" : "not installed",
    load: Deno.loadavg().map((x) => x.toFixed(2)).join(" "),
  };
}

/**
 * A FIFO that programs write lines to (`echo TOKEN > fifo`), read as they
 * arrive, with the time each arrived. Held open for reading and writing, so
 * it never sees end-of-file between writers.
 */
export class Signals {
  readonly path: string;
  #file: Deno.FsFile;
  #lines: { text: string; at: number }[] = [];
  #waiters: (() => void)[] = [];

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
    void this.#pump();
  }

  static async open(dir: string, name = "signals.fifo"): Promise<Signals> {
    const path = `${dir}/${name}`;
    await run("mkfifo", [path]);
    return new Signals(path, await Deno.open(path, { read: true, write: true }));
  }

  /** Forgets the lines received so far. */
  clear(): void {
    this.#lines = [];
  }

  /** Resolves with the arrival time of the `count`th line received (since the last clear). */
  async lines(count: number, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.#lines.length < count) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(`only ${this.#lines.length} of ${count} programs signalled`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
    return this.#lines[count - 1]!.at;
  }

  close(): void {
    try {
      this.#file.close();
    } catch { /* closed */ }
  }

  async #pump(): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    const chunk = new Uint8Array(4096);
    while (true) {
      let n: number | null;
      try {
        n = await this.#file.read(chunk);
      } catch {
        return;
      }
      if (n === null) return;
      const at = performance.now();
      buf += dec.decode(chunk.subarray(0, n), { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        this.#lines.push({ text: buf.slice(0, i), at });
        buf = buf.slice(i + 1);
      }
      for (const w of this.#waiters.splice(0)) w();
    }
  }
}

/** A tmux server of its own (its own socket, no config), with one idle session. */
export class Tmux {
  readonly sock: string;
  readonly env: Record<string, string>;
  pid = 0;

  private constructor(sock: string) {
    this.sock = sock;
    const env: Record<string, string> = { ...Deno.env.toObject(), TERM: "xterm-256color" };
    delete env.TMUX;
    this.env = env;
  }

  /** Starts a server whose windows are `cols`×`rows`; `options` are set globally first. */
  static async start(
    dir: string,
    cols: number,
    rows: number,
    options: [string, string][] = [],
  ): Promise<Tmux> {
    const t = new Tmux(`${dir}/tmux.sock`);
    // The server starts with a placeholder session; the options apply to
    // every pane created after them.
    await t.cmd("new-session", "-d", "-s", "base", "-x", String(cols), "-y", String(rows), "cat");
    for (const [k, v] of options) await t.cmd("set-option", "-g", k, v);
    await t.cmd("set-option", "-g", "default-size", `${cols}x${rows}`);
    t.pid = Number((await t.cmd("display-message", "-p", "#{pid}")).trim());
    return t;
  }

  /** Runs a tmux command against this server; returns its output. */
  cmd(...args: string[]): Promise<string> {
    return run("tmux", ["-S", this.sock, "-f", "/dev/null", ...args], { env: this.env });
  }

  /** argv of a tmux client command against this server. */
  argv(...args: string[]): string[] {
    return ["tmux", "-S", this.sock, "-f", "/dev/null", ...args];
  }

  async stop(): Promise<void> {
    await this.cmd("kill-server").catch(() => {});
  }
}

/** Starts `sh -c script` under a new dtach master on `sock` (detached). */
export async function dtachNew(sock: string, script: string): Promise<void> {
  // Its master keeps any pipe it was given open: none is.
  const st = await new Deno.Command("dtach", {
    args: ["-n", sock, "-E", "/bin/sh", "-c", script],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (!st.success) throw new Error(`dtach -n ${sock} exited ${st.code}`);
}

/**
 * Runs `fn` against a tmux server of its own in a temporary directory
 * (see {@linkcode Tmux.start}); stops it and removes the directory after.
 */
export async function withTmux<T>(
  cols: number,
  rows: number,
  options: [string, string][],
  fn: (t: Tmux, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "cs-bench-" });
  try {
    const t = await Tmux.start(dir, cols, rows, options);
    try {
      return await fn(t, dir);
    } finally {
      await t.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Pids of the dtach processes with an argument under `path` (a socket, or a directory of them). */
export function dtachPids(path: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv[0]?.endsWith("dtach") && argv.some((a) => a.startsWith(path))) {
        out.push(Number(e.name));
      }
    } catch { /* gone */ }
  }
  return out;
}

/**
 * Terminal-like output: numbered lines with colours and words, CRLF line
 * endings, `bytes` long (a repeated 1 MiB block).
 */
export function textPayload(bytes: number): Uint8Array {
  const words = ["session", "daemon", "\x1b[32mok\x1b[0m", "reading", "src/main.ts", "42", "✓"];
  let s = "";
  for (let i = 0; s.length < (1 << 20); i++) {
    s += `\x1b[2m${String(i).padStart(6)}\x1b[0m ${words[i % 7]} ${words[(i * 3) % 7]} ` +
      `${"lorem ipsum dolor sit amet ".slice(0, 10 + (i * 7) % 17)}line ${i}\r\n`;
  }
  const block = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += block.length) {
    out.set(block.subarray(0, Math.min(block.length, bytes - at)), at);
  }
  // Ends on a whole line, whatever was cut: what follows is not swallowed
  // by an unfinished escape sequence.
  out.set(new TextEncoder().encode("\x1b[0m\r\n"), bytes - 6);
  return out;
}
