/**
 * End-to-end test harness: temp homes, a real daemon, the real CLI as a
 * subprocess, a raw protocol client, and FIFO-based probes. Tests wait on
 * events (a FIFO write, a daemon reply, a status), never on fixed sleeps.
 *
 * @module
 */

import { LineDecoder, StreamDecoder } from "../src/protocol.ts";
import { TIMED_OUT, within } from "../src/async.ts";
import { removeRunCgroups } from "../src/daemon/resources.ts";

/** Repository root (with trailing slash). */
export const ROOT = new URL("..", import.meta.url).pathname;
/** The CLI entry point. */
export const MAIN = `${ROOT}src/main.ts`;
/** The probe fixture. */
export const PROBE = `${ROOT}test/fixtures/probe.sh`;

/** Result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temporary claude-sessions home. */
export class TestHome {
  /** The home directory (short, so the socket path fits). */
  readonly dir: string;
  /** Base environment for CLI runs. */
  readonly env: Record<string, string>;

  private constructor(dir: string) {
    this.dir = dir;
    const env = Deno.env.toObject();
    delete env.CLAUDE_SESSIONS_ID;
    this.env = { ...env, CLAUDE_SESSIONS_HOME: dir, NO_COLOR: "1" };
  }

  /** Creates a home; `config` (if given) is written as config.jsonc. */
  static async create(config?: unknown): Promise<TestHome> {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-" });
    const h = new TestHome(dir);
    if (config !== undefined) await h.writeConfig(config);
    return h;
  }

  /** The socket path. */
  get socket(): string {
    return `${this.dir}/daemon.sock`;
  }

  /** Writes config.jsonc (a string is written verbatim). */
  async writeConfig(config: unknown): Promise<void> {
    const text = typeof config === "string" ? config : JSON.stringify(config, null, 2);
    await Deno.writeTextFile(`${this.dir}/config.jsonc`, text);
  }

  /** Runs the CLI with `args`. */
  async cli(
    args: string[],
    opts: {
      env?: Record<string, string>;
      cwd?: string;
      clearEnv?: string[];
      /** Written to the command's standard input (else it reads nothing). */
      stdin?: string | Uint8Array;
    } = {},
  ): Promise<CliResult> {
    const env = { ...this.env, ...(opts.env ?? {}) };
    for (const k of opts.clearEnv ?? []) delete env[k];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, ...args],
      env,
      clearEnv: true,
      cwd: opts.cwd ?? this.dir,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      // A command that refuses its input early closes the pipe: not an error here.
      await w.write(
        typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
      )
        .catch(() => {});
      await w.close().catch(() => {});
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  }

  /** Runs the CLI and fails the test unless it exits 0; returns stdout. */
  async ok(args: string[], opts: Parameters<TestHome["cli"]>[1] = {}): Promise<string> {
    const r = await this.cli(args, opts);
    if (r.code !== 0) {
      throw new Error(`claude-sessions ${args.join(" ")} exited ${r.code}\n${r.stderr}${r.stdout}`);
    }
    return r.stdout;
  }

  /** Starts `daemon --foreground` as a child; resolves once it is ready. */
  async startDaemon(extraEnv: Record<string, string> = {}): Promise<DaemonProcess> {
    return await DaemonProcess.start(this, extraEnv);
  }

  /**
   * Removes the home (stopping nothing: stop daemons first), and the empty
   * cgroups its sessions' runs had, should a daemon have died without
   * removing them.
   */
  async cleanup(): Promise<void> {
    const ids: string[] = [];
    try {
      for await (const e of Deno.readDir(`${this.dir}/sessions`)) {
        if (e.name.endsWith(".json")) ids.push(e.name.slice(0, -5));
      }
    } catch { /* no sessions */ }
    removeRunCgroups(ids);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A foreground daemon started by a test. */
export class DaemonProcess {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly #stderr: TextSink;

  private constructor(child: Deno.ChildProcess, stderr: TextSink) {
    this.child = child;
    this.pid = child.pid;
    this.#stderr = stderr;
  }

  static async start(home: TestHome, extraEnv: Record<string, string>): Promise<DaemonProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "daemon", "--foreground"],
      env: { ...home.env, ...extraEnv },
      clearEnv: true,
      cwd: "/",
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new TextSink(child.stderr);
    const first = await firstLine(child.stdout);
    if (!first.startsWith("ready")) {
      await child.status;
      await stderr.done;
      throw new Error(`daemon did not start: ${stderr.text}`);
    }
    return new DaemonProcess(child, stderr);
  }

  /** The daemon's stderr so far. */
  get log(): string {
    return this.#stderr.text;
  }

  /** Waits until the daemon's stderr matches `re`. */
  waitForLog(re: RegExp, timeoutMs = 30_000): Promise<void> {
    return this.#stderr.waitFor(re, timeoutMs);
  }

  /** Sends SIGTERM and waits for the exit status. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    return await this.exited();
  }

  /** Waits for the process to end. */
  async exited(): Promise<Deno.CommandStatus> {
    const st = await this.child.status;
    await this.#stderr.done;
    return st;
  }
}

/** Collects a text stream and lets tests wait until it matches a pattern. */
export class TextSink {
  #parts: string[] = [];
  #waiters: (() => void)[] = [];
  /** Resolves when the stream ends. */
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.#collect(stream);
  }

  /** Everything received so far. */
  get text(): string {
    return this.#parts.join("");
  }

  /** Waits until the text matches `re` (woken by each chunk). */
  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    void this.done.then(() => (ended = true));
    while (!re.test(this.text)) {
      if (Date.now() > deadline || ended) {
        throw new Error(`output never matched ${re}:\n${this.text}`);
      }
      await within(new Promise<void>((r) => this.#waiters.push(r)), deadline - Date.now());
    }
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#parts.push(dec.decode(chunk, { stream: true }));
        this.#wake();
      }
    } finally {
      this.#wake();
    }
  }

  #wake(): void {
    for (const fn of this.#waiters.splice(0)) fn();
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) break;
    text += dec.decode(r.value, { stream: true });
  }
  reader.releaseLock();
  // Keep draining so the daemon never blocks on a full pipe.
  void stream.pipeTo(new WritableStream()).catch(() => {});
  return text.split("\n")[0] ?? "";
}

/**
 * A FIFO that a probe writes messages to: KEY=VALUE lines ended by a line
 * `END`. The test side holds the FIFO open for reading and writing for its
 * whole life, so writers never block and messages never merge or get lost.
 */
export class Fifo {
  readonly path: string;
  #file: Deno.FsFile;
  #messages: Record<string, string>[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
    void this.#pump();
  }

  /** Creates a FIFO in `dir`. */
  static async create(dir: string, name = "probe.fifo"): Promise<Fifo> {
    const path = `${dir}/${name}`;
    const r = await new Deno.Command("mkfifo", { args: ["-m", "600", path] }).output();
    if (!r.success) throw new Error(`mkfifo ${path} failed`);
    // O_RDWR on a FIFO does not block, and keeps a writer present, so reads
    // never see EOF between messages.
    const file = await Deno.open(path, { read: true, write: true });
    return new Fifo(path, file);
  }

  /** Waits for the next message. Fails after `timeoutMs`, so a broken test fails instead of hanging. */
  async read(timeoutMs = 30_000): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    while (this.#messages.length === 0) {
      if (this.#closed) throw new Error(`${this.path} closed`);
      if (Date.now() > deadline) {
        throw new Error(`no message on ${this.path} within ${timeoutMs} ms`);
      }
      await within(new Promise<void>((r) => this.#waiters.push(r)), deadline - Date.now());
    }
    return this.#messages.shift()!;
  }

  /** Stops reading. */
  close(): void {
    this.#closed = true;
    try {
      this.#file.close();
    } catch { /* closed */ }
  }

  async #pump(): Promise<void> {
    const dec = new TextDecoder();
    let text = "";
    let current: Record<string, string> = {};
    try {
      for await (const chunk of this.#file.readable) {
        text += dec.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = text.indexOf("\n")) !== -1) {
          const line = text.slice(0, nl);
          text = text.slice(nl + 1);
          if (line === "END") {
            this.#messages.push(current);
            current = {};
            for (const fn of this.#waiters.splice(0)) fn();
          } else {
            const i = line.indexOf("=");
            if (i > 0) current[line.slice(0, i)] = line.slice(i + 1);
          }
        }
      }
    } catch { /* closed */ }
    this.#closed = true;
    for (const fn of this.#waiters.splice(0)) fn();
  }
}

/**
 * Spools a hook event as the hook command would, stamped `ns`; resolves once
 * the daemon consumed it (fails after `timeoutMs`).
 */
export async function spoolHook(
  dir: string,
  id: string,
  ns: bigint,
  payload: Record<string, unknown>,
  timeoutMs = 20_000,
) {
  const name = `${ns}-${Math.floor(Math.random() * 1e6)}-${id}`;
  const watcher = Deno.watchFs(dir);
  try {
    const consumed = (async () => {
      for await (const ev of watcher) {
        if (ev.kind === "remove" && ev.paths.some((p) => p.endsWith(`${name}.hook`))) return;
      }
    })();
    await Deno.writeTextFile(`${dir}/${name}.tmp`, JSON.stringify(payload));
    await Deno.rename(`${dir}/${name}.tmp`, `${dir}/${name}.hook`);
    if (await within(consumed, timeoutMs) === TIMED_OUT) {
      throw new Error(`the daemon did not take ${name}.hook within ${timeoutMs} ms`);
    }
  } finally {
    watcher.close();
  }
}

/** The `type` {@linkcode RawClient} queues a binary frame under (`kind`, `sub`, `data` its fields). */
export const BINARY_MESSAGE = "<binary frame>";

/** A raw protocol client for tests that speak the wire format directly. */
export class RawClient {
  readonly conn: Deno.UnixConn;
  #decoder = new StreamDecoder(256 * 1024 * 1024);
  #queue: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  #enc = new TextEncoder();

  private constructor(conn: Deno.UnixConn) {
    this.conn = conn;
    void this.#pump();
  }

  /** Connects to a socket. */
  static async connect(socket: string): Promise<RawClient> {
    return new RawClient(await Deno.connect({ transport: "unix", path: socket }));
  }

  /** Writes raw bytes or text. */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? this.#enc.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Sends one JSON message line. */
  async send(msg: unknown): Promise<void> {
    await this.write(JSON.stringify(msg) + "\n");
  }

  /** Sends a request and waits for its reply (other messages stay queued). */
  async request(
    type: string,
    params: Record<string, unknown> = {},
    id: number | string = Math.random(),
  ): Promise<Record<string, unknown>> {
    await this.send({ ...params, id, type });
    return await this.next((m) => m.type === "reply" && m.id === id);
  }

  /** Next received message matching `pred` (removed from the queue); fails after `timeoutMs`. */
  async next(
    pred: (m: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 120_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.#queue.findIndex(pred);
      if (i !== -1) return this.#queue.splice(i, 1)[0]!;
      if (this.#ended) throw new Error("connection closed");
      if (Date.now() >= deadline) throw new Error(`no matching message within ${timeoutMs} ms`);
      await within(new Promise<void>((r) => this.#waiters.push(r)), deadline - Date.now());
    }
  }

  /** Whether a message matching `pred` has arrived (and is still queued). */
  pending(pred: (m: Record<string, unknown>) => boolean): boolean {
    return this.#queue.some(pred);
  }

  /** Whether the daemon closed the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  async #pump(): Promise<void> {
    try {
      for await (const chunk of this.conn.readable) {
        for (const f of this.#decoder.push(chunk)) {
          if (f.kind === "binary") {
            // Queued as a message of its own kind (no JSON message has this type).
            this.#queue.push({ type: BINARY_MESSAGE, kind: f.type, sub: f.sub, data: f.data });
            continue;
          }
          if (f.kind !== "line") continue;
          try {
            this.#queue.push(JSON.parse(f.text));
          } catch { /* ignore */ }
        }
        this.#wake();
      }
    } catch { /* reset */ }
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const fn of w) fn();
  }
}

/** True when a process exists. */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Whether a command runs here (e.g. systemd's tools, for tests that need them). */
export async function haveCommand(name: string, args: string[] = ["--version"]): Promise<boolean> {
  try {
    return (await new Deno.Command(name, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** `systemd-socket-activate` listening on a socket, ready to exec `command` on the first connection. */
export interface Activator {
  readonly child: Deno.ChildProcess;
  /** Its stderr (then the daemon's, once exec'd). */
  readonly stderr: TextSink;
  /** Stops it if still running and waits for it. */
  stop(): Promise<void>;
}

/**
 * Emulates systemd socket activation: binds `socket` and, on the first
 * connection, execs `command` with the listening socket as fd 3 (LISTEN_FDS).
 * Resolves once the socket is bound. `env` is passed through explicitly.
 */
export async function startActivator(
  socket: string,
  command: string[],
  env: Record<string, string>,
): Promise<Activator> {
  const child = new Deno.Command("systemd-socket-activate", {
    args: [
      "-l",
      socket,
      ...Object.entries(env).flatMap(([k, v]) => ["-E", `${k}=${v}`]),
      ...command,
    ],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new TextSink(child.stderr);
  void child.stdout.pipeTo(new WritableStream()).catch(() => {});
  // It prints "Listening on …" once bound.
  await stderr.waitFor(/Listening on/);
  return {
    child,
    stderr,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      await stderr.done;
    },
  };
}

/**
 * {@linkcode startActivator} on `home`'s socket, set to exec this checkout's
 * daemon (with the home's environment) on the first connection.
 */
export function activateDaemon(home: TestHome): Promise<Activator> {
  const env = Object.fromEntries(
    ["HOME", "PATH", "CLAUDE_SESSIONS_HOME", "DENO_DIR", "NO_COLOR"]
      .filter((k) => home.env[k] !== undefined)
      .map((k) => [k, home.env[k]!]),
  );
  return startActivator(
    home.socket,
    [Deno.execPath(), "run", "-A", "--quiet", MAIN, "daemon", "--foreground"],
    env,
  );
}

/** What a {@linkcode FakeDaemon} says beyond `status` and `shutdown`. */
export interface FakeDaemonOptions {
  /** Its greeting's `features` (absent: a daemon older than features). */
  features?: string[];
  /** Pushed (with `sub` set) after its reply to an `events` request. */
  eventPushes?: Record<string, unknown>[];
}

/**
 * A stand-in daemon of another version on a socket, for upgrade tests: it
 * greets like the real one, answers `status` (with `live` live sessions) and
 * `shutdown` (then closes its connections and removes the socket).
 */
export class FakeDaemon {
  readonly socket: string;
  readonly version: string;
  /** Live sessions it reports. */
  live: number;
  readonly #opts: FakeDaemonOptions;
  /** Resolves when a client has asked it to shut down (and it has). */
  readonly stopped: Promise<void>;
  #listener: Deno.UnixListener;
  /** The accept loop; over once the listener is closed. */
  #accepting: Promise<void>;
  #conns = new Set<Deno.UnixConn>();
  #stop!: () => void;
  #requested = false;
  #closed = false;

  private constructor(socket: string, version: string, live: number, opts: FakeDaemonOptions) {
    this.#opts = opts;
    this.socket = socket;
    this.version = version;
    this.live = live;
    this.#listener = Deno.listen({ transport: "unix", path: socket });
    this.stopped = new Promise((r) => (this.#stop = r));
    this.#accepting = this.#accept();
  }

  /** Listens on `socket`. */
  static start(
    socket: string,
    version: string,
    live = 0,
    opts: FakeDaemonOptions = {},
  ): FakeDaemon {
    return new FakeDaemon(socket, version, live, opts);
  }

  /** Whether a client asked it to shut down. */
  get shutdownRequested(): boolean {
    return this.#requested;
  }

  /** Stops it (when no client did; then it does nothing: the socket may be another's by now). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closeUnixServer(this.#listener, this.#conns, this.#accepting, this.socket);
    this.#stop();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        void this.#serve(conn);
      }
    } catch { /* closed */ }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    const enc = new TextEncoder();
    const send = (msg: unknown) => conn.write(enc.encode(JSON.stringify(msg) + "\n"));
    const decoder = new LineDecoder(1024 * 1024);
    try {
      const features = this.#opts.features ? { features: this.#opts.features } : {};
      await send({ type: "hello", protocol: 1, version: this.version, pid: Deno.pid, ...features });
      for await (const chunk of conn.readable) {
        for (const f of decoder.push(chunk)) {
          if (f.kind !== "line") continue;
          const req = JSON.parse(f.text);
          if (req.type === "status") {
            await send({
              type: "reply",
              id: req.id,
              ok: true,
              result: {
                pid: Deno.pid,
                version: this.version,
                protocol: 1,
                started: new Date().toISOString(),
                uptimeMs: 0,
                socket: this.socket,
                home: this.socket.slice(0, this.socket.lastIndexOf("/")),
                socketActivated: false,
                sessions: { live: this.live, exited: 0, byStatus: {} },
                configWarnings: [],
              },
            });
          } else if (req.type === "events" && this.#opts.eventPushes) {
            await send({ type: "reply", id: req.id, ok: true, result: { subscribed: true } });
            for (const p of this.#opts.eventPushes) await send({ ...p, sub: req.id });
          } else if (req.type === "shutdown") {
            this.#requested = true;
            await send({ type: "reply", id: req.id, ok: true, result: { pid: Deno.pid } });
            await this.close();
            return;
          } else {
            await send({
              type: "reply",
              id: req.id,
              ok: false,
              error: { code: "unknown_type", message: `fake daemon: ${req.type}` },
            });
          }
        }
      }
    } catch { /* connection closed */ }
    this.#conns.delete(conn);
  }
}

/**
 * Stops a test's unix-socket server: the listener, every connection, then
 * its socket file. Deno unlinks the socket's path only once the pending
 * accept is over: until then a server started on the same path could lose
 * its socket, so this waits for the accept loop (`accepting`) first.
 */
export async function closeUnixServer(
  listener: Deno.Listener,
  conns: Iterable<Deno.Conn>,
  accepting: Promise<void>,
  socket: string,
): Promise<void> {
  try {
    listener.close();
  } catch { /* closed */ }
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  await accepting;
  await Deno.remove(socket).catch(() => {});
}
