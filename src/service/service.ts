/**
 * The claude-sessions service: install, uninstall, status and restart, on
 * whichever manager the machine has (systemd user units with socket
 * activation, or a launchd agent). `claude-sessions service …` and install.sh
 * both use this; `doctor` reads its status.
 *
 * Installing never silently stops sessions: a running daemon with live
 * sessions is left running, and the output says how to switch over.
 *
 * @module
 */

import { type Paths, paths as resolvePaths } from "../paths.ts";
import { selfCommand, type SelfKind, selfKind } from "../self.ts";
import { VERSION } from "../version.ts";
import { TIMED_OUT, within } from "../async.ts";
import { Client } from "../client/client.ts";
import { startDaemonBackground } from "./background.ts";
import { BackendError, type BackendState, type ServiceBackend } from "./_backend.ts";
import { realRunner } from "./_run.ts";
import { type Detected, type DetectEnv, detectManager } from "./detect.ts";
import { type ServiceFile, xmlEscape } from "./render.ts";

/** What answers on the daemon's socket. */
export interface DaemonProbe {
  answering: boolean;
  pid: number | null;
  version: string | null;
  socketActivated: boolean;
  /** Live sessions. */
  live: number;
  /** Why it does not answer (or why it was not asked). */
  note: string | null;
}

/** Everything `service status` reports. */
export interface ServiceStatus {
  manager: "systemd" | "launchd" | "none";
  /** Why there is no manager. */
  reason: string | null;
  /** The service files are in place. */
  installed: boolean;
  /** The installed files are what `service install` would write now. */
  current: boolean;
  /** The service files (installed or not). */
  files: string[];
  /** The manager's view, when there is a manager and it answered. */
  state: BackendState | null;
  /** Why the manager could not be asked (e.g. no user bus), else null. */
  error: string | null;
  /** What answers on the socket. */
  daemon: DaemonProbe;
  /** The answering daemon runs under the service manager. */
  managed: boolean;
  /** Where the daemon's own log is. */
  logs: string;
  /** One line for people. */
  summary: string;
}

/** A step's progress line. */
export type Say = (line: string) => void;

/** Service operations for one home and one program. */
export class Service {
  readonly detected: Detected;
  readonly paths: Paths;
  /** argv prefix that runs the CLI, written into the service files. */
  readonly command: string[];
  /** PATH written into the service files. */
  readonly pathEnv: string;
  /** More variables for the daemon (see {@linkcode daemonExtraEnv}). */
  readonly extraEnv: Record<string, string>;

  constructor(
    detected: Detected,
    paths: Paths,
    command: string[],
    pathEnv: string,
    extraEnv: Record<string, string> = {},
  ) {
    this.detected = detected;
    this.paths = paths;
    this.command = command;
    this.pathEnv = pathEnv;
    this.extraEnv = extraEnv;
  }

  /** The service of this machine, this home and this program. */
  static async forThisMachine(): Promise<Service> {
    const p = resolvePaths();
    const env: DetectEnv = {
      os: Deno.build.os,
      env: (k) => Deno.env.get(k),
      uid: Deno.uid() ?? 0,
      exists: (path) => {
        try {
          Deno.statSync(path);
          return true;
        } catch {
          return false;
        }
      },
      initName: () => {
        try {
          return Deno.readTextFileSync("/proc/1/comm").trim() || null;
        } catch {
          return null;
        }
      },
      run: realRunner,
      daemonLog: p.daemonLog,
    };
    return new Service(
      await detectManager(env),
      p,
      selfCommand(),
      Deno.env.get("PATH") ?? "/usr/bin:/bin",
      daemonExtraEnv(selfKind(), (k) => Deno.env.get(k)),
    );
  }

  /** The manager, or null with the reason in {@linkcode Service.detected}. */
  get backend(): ServiceBackend | null {
    return this.detected.backend;
  }

  /** The files `install` writes, with their absolute paths. */
  files(): (ServiceFile & { path: string })[] {
    const b = this.backend;
    if (!b) return [];
    return b.render({
      command: this.command,
      home: this.paths.home,
      socket: this.paths.socket,
      path: this.pathEnv,
      env: this.extraEnv,
    }).map((f) => ({ ...f, path: `${b.dir}/${f.name}` }));
  }

  /**
   * When the service is installed for this home, starts it (so a daemon that
   * stopped comes back under the service, not outside it) and returns true.
   * Returns false when there is no such service: the caller starts the
   * daemon itself.
   */
  async startIfInstalled(): Promise<boolean> {
    const b = this.backend;
    if (!b || !(await this.#installedForThisHome())) return false;
    await this.#step(() => b.start());
    return true;
  }

  /** The installed files (whatever their program) serve this home. */
  async #installedForThisHome(): Promise<boolean> {
    const files = this.files();
    if (files.length === 0) return false;
    for (const f of files) {
      const text = await readText(f.path);
      if (text === null) return false;
      // The line that names the home (socket unit) or the home's variable (plist).
      const marker = f.text.split("\n").find((l) =>
        l.startsWith("ListenStream=") ||
        l.includes(`<string>${xmlEscape(this.paths.home)}</string>`)
      );
      if (marker && !text.split("\n").includes(marker)) return false;
    }
    return true;
  }

  /** The current state. */
  async status(): Promise<ServiceStatus> {
    const b = this.backend;
    const files = this.files();
    let installed = files.length > 0;
    let current = installed;
    for (const f of files) {
      const text = await readText(f.path);
      if (text === null) installed = current = false;
      else if (text !== f.text) current = false;
    }
    // A manager that does not answer is reported, not thrown: status always answers.
    let state: BackendState | null = null;
    let error: string | null = null;
    if (b) {
      try {
        state = await b.state();
      } catch (e) {
        error = (e as Error).message;
      }
    }
    // Connecting to a listening socket unit starts the daemon; do not, just to look.
    const daemon = state && state.listening && !state.running
      ? notAsked("the socket listens; the daemon starts on first use")
      : await probeDaemon(this.paths.socket);
    const managed = state !== null && isManaged(state, daemon);
    const logs = b ? b.logHint : this.paths.daemonLog;
    return {
      manager: b ? b.name : "none",
      reason: this.detected.reason,
      installed,
      current,
      files: files.map((f) => f.path),
      state,
      error,
      daemon,
      managed,
      logs,
      summary: summarize(b, state, error, installed, daemon, managed, this.detected.reason),
    };
  }

  /**
   * Writes the service files and starts the service. A running daemon that
   * is not the service's is stopped first when it has no live sessions; with
   * live sessions it is left running. When the files changed while the
   * manager runs the service (or its socket listens), or its daemon is of
   * another version, the service is restarted — also the socket unit, which
   * may still listen on the socket of another home — unless the service's
   * daemon has live sessions: it is then left running, and the output says
   * how to switch over.
   * Without a manager there is nothing to install: it says so (and stops an
   * idle daemon of another version, so the next command starts this one).
   * @throws {ServiceError} when a step fails
   */
  async install(say: Say): Promise<void> {
    const b = this.backend;
    if (!b) {
      say(
        `no service manager here (${this.detected.reason}): nothing to install; ` +
          "every command starts the daemon when none runs",
      );
      await refreshIdleDaemon(this.paths.socket, say);
      return;
    }
    if (this.command[0] && !this.command[0].startsWith("/")) {
      throw new ServiceError(`cannot install a service for a relative command: ${this.command[0]}`);
    }
    await Deno.mkdir(b.dir, { recursive: true });
    const files = this.files();
    const before = new Map<string, string | null>();
    for (const f of files) before.set(f.name, await readText(f.path));
    let changed = false;
    for (const f of files) {
      if (before.get(f.name) === f.text) {
        say(`${f.path} is up to date`);
        continue;
      }
      await writeAtomic(f.path, f.text);
      changed = true;
      say(`wrote ${f.path}`);
    }
    await this.#step(() => b.register());
    const state = await this.#step(() => b.state());
    const daemon = state.listening && !state.running
      ? notAsked("")
      : await probeDaemon(this.paths.socket);
    const ours = isManaged(state, daemon);
    if (daemon.answering && !ours) {
      if (daemon.live > 0) {
        say(
          `a daemon started outside the service (pid ${daemon.pid}) runs ${
            plural(daemon.live, "live session")
          }; left running`,
        );
        say(
          "to switch to the service (this stops those sessions): claude-sessions service restart",
        );
        return;
      }
      say(`stopping the daemon started outside the service (pid ${daemon.pid}, no live sessions)`);
      await shutdownDaemon(this.paths.socket);
    }
    // The files the manager runs the service from may have named another
    // socket (another home): its daemon, if any, serves that one.
    const oldSocket = b.socketIn(before);
    const moved = oldSocket !== null && oldSocket !== this.paths.socket;
    let managed = ours ? daemon : notAsked("");
    if (moved && state.running) {
      const d = await probeDaemon(oldSocket);
      if (isManaged(state, d)) managed = d;
    }
    // What the manager runs (a daemon, or a socket unit listening) keeps its
    // old files until restarted: systemd applies a changed socket unit only
    // on a restart of the socket unit, which stops the daemon too.
    const stale = changed && (state.running || state.listening);
    const outdated = managed.answering && managed.version !== VERSION;
    if (stale || outdated) {
      const why = moved
        ? `its socket moves from ${oldSocket} to ${this.paths.socket}`
        : outdated
        ? `its daemon is version ${managed.version}; this is ${VERSION}`
        : "its service files changed";
      if (managed.live > 0) {
        if (moved) {
          say(
            `the service's daemon (pid ${managed.pid}) serves ${oldSocket} with ${
              plural(managed.live, "live session")
            }; left running`,
          );
          say(
            `to move the service to ${this.paths.socket} (this stops those sessions): ` +
              "claude-sessions service restart",
          );
        } else {
          say(
            `the service's daemon (pid ${managed.pid}, ${why}) runs ${
              plural(managed.live, "live session")
            }; left running`,
          );
          say("to restart it (this stops those sessions): claude-sessions service restart");
        }
        return;
      }
      say(`restarting the service (${why})`);
      await this.#step(() => b.restart());
    } else {
      await this.#step(() => b.start());
    }
    const after = await probeDaemon(this.paths.socket);
    if (!after.answering) {
      throw new ServiceError(
        `the service started but the daemon does not answer on ${this.paths.socket} (${after.note})`,
        `see: ${b.logHint}`,
      );
    }
    say(`${b.name}: the daemon runs (pid ${after.pid}) on ${this.paths.socket}`);
  }

  /**
   * Stops the service (and so its daemon and sessions) and removes its files.
   * Reports, without failing, when nothing was installed.
   */
  async uninstall(say: Say): Promise<void> {
    const b = this.backend;
    if (!b) {
      say(`no service manager here (${this.detected.reason}): no service to remove`);
      return;
    }
    const state = await this.#step(() => b.state());
    if (state.loaded) {
      await this.#step(() => b.stop());
      say(`${b.name}: stopped and disabled the service`);
    }
    let removed = 0;
    for (const f of this.files()) {
      try {
        await Deno.remove(f.path);
        removed++;
        say(`removed ${f.path}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    if (removed > 0 || state.loaded) await this.#step(() => b.forget());
    if (removed === 0 && !state.loaded) say("the service was not installed");
  }

  /**
   * Restarts the daemon: through the manager when the service is installed
   * (stopping a daemon started outside it first), else by stopping and
   * starting it in the background. Its sessions are stopped.
   */
  async restart(say: Say): Promise<void> {
    const b = this.backend;
    const st = await this.status();
    if (!b || !st.installed) {
      if (b) say(`the ${b.name} service is not installed; restarting the daemon directly`);
      if (st.daemon.answering) {
        await shutdownDaemon(this.paths.socket);
        say(`stopped the daemon (pid ${st.daemon.pid})`);
      }
      const { pid } = await startDaemonBackground(this.paths);
      say(`started the daemon (pid ${pid})`);
      return;
    }
    if (st.daemon.answering && !st.managed) {
      say(`stopping the daemon started outside the service (pid ${st.daemon.pid})`);
      await shutdownDaemon(this.paths.socket);
    }
    await this.#step(() => b.restart());
    const after = await probeDaemon(this.paths.socket);
    if (!after.answering) {
      throw new ServiceError(
        `the daemon does not answer after the restart (${after.note})`,
        `see: ${b.logHint}`,
      );
    }
    say(`${b.name}: the daemon runs (pid ${after.pid})`);
  }

  async #step<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof BackendError) throw new ServiceError(e.message);
      throw e;
    }
  }
}

/** A service operation that failed. */
export class ServiceError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = "ServiceError";
    this.hint = hint;
  }
}

/**
 * Variables a daemon under the service needs besides the home and PATH: run
 * from a checkout, Deno loads the program's modules from `DENO_DIR`, which
 * a service would not otherwise have (the binary and the launcher's bundle
 * carry everything).
 */
export function daemonExtraEnv(
  kind: SelfKind,
  env: (k: string) => string | undefined,
): Record<string, string> {
  const denoDir = env("DENO_DIR");
  return kind === "source" && denoDir ? { DENO_DIR: denoDir } : {};
}

/** Asks whatever answers on `socket` who it is (never starts a daemon). */
export async function probeDaemon(socket: string, timeoutMs = 10_000): Promise<DaemonProbe> {
  const attempt = (async (): Promise<DaemonProbe> => {
    const c = await Client.connect(socket);
    try {
      const st = await c.request("status", {});
      return {
        answering: true,
        pid: st.pid,
        version: st.version,
        socketActivated: st.socketActivated,
        live: st.sessions.live,
        note: null,
      };
    } finally {
      c.close();
    }
  })();
  try {
    const r = await within(attempt, timeoutMs);
    if (r === TIMED_OUT) {
      attempt.catch(() => {});
      return notAsked(`no answer within ${timeoutMs / 1000}s`);
    }
    return r;
  } catch (e) {
    return notAsked((e as Error).message);
  }
}

/** What {@linkcode refreshIdleDaemon} found. */
export type Refresh =
  /** No daemon answers. */
  | { outcome: "none"; daemon: DaemonProbe }
  /** It is this version: left running. */
  | { outcome: "current"; daemon: DaemonProbe }
  /** Another version with live sessions: left running (it said how to switch). */
  | { outcome: "busy"; daemon: DaemonProbe }
  /** Another version, idle: stopped, so the next command starts this version. */
  | { outcome: "stopped"; daemon: DaemonProbe };

/**
 * After an upgrade: stops the daemon on `socket` when it is of another
 * version and has no live sessions (the next command, or the service, starts
 * this version). One of another version with live sessions is left running,
 * and `say` gets how to switch; the other outcomes are only returned.
 */
export async function refreshIdleDaemon(socket: string, say: Say): Promise<Refresh> {
  const d = await probeDaemon(socket);
  if (!d.answering) return { outcome: "none", daemon: d };
  if (d.version === VERSION) return { outcome: "current", daemon: d };
  if (d.live > 0) {
    say(
      `a daemon of version ${d.version} (pid ${d.pid}) runs ${plural(d.live, "live session")}; ` +
        "left running. To switch to this version (this stops them): claude-sessions service restart",
    );
    return { outcome: "busy", daemon: d };
  }
  await shutdownDaemon(socket);
  say(`stopped the idle daemon of version ${d.version}; the next command starts this version`);
  return { outcome: "stopped", daemon: d };
}

/** Asks the daemon on `socket` to shut down and waits until it has. */
export async function shutdownDaemon(socket: string): Promise<void> {
  const c = await Client.connect(socket);
  const closed = new Promise<void>((r) => c.onClose(() => r()));
  await c.request("shutdown", {});
  await closed;
}

function notAsked(note: string): DaemonProbe {
  return {
    answering: false,
    pid: null,
    version: null,
    socketActivated: false,
    live: 0,
    note,
  };
}

function summarize(
  b: ServiceBackend | null,
  state: BackendState | null,
  error: string | null,
  installed: boolean,
  daemon: DaemonProbe,
  managed: boolean,
  reason: string | null,
): string {
  const d = daemon.answering
    ? `the daemon runs (pid ${daemon.pid}, version ${daemon.version})`
    : "no daemon runs";
  if (b && error !== null) return `cannot ask ${b.name} about the service; ${d}`;
  if (!b || !state) {
    return `no service manager (${reason}); ${d}; commands start it on demand`;
  }
  if (!installed) return `the ${b.name} service is not installed; ${d}`;
  if (state.failed) return `the ${b.name} service failed (${state.detail})`;
  if (managed) return `the ${b.name} service runs: ${d}`;
  if (state.listening && !state.running) {
    return `the ${b.name} socket listens; the daemon starts on first use`;
  }
  if (daemon.answering) return `the ${b.name} service is installed but ${d} outside it`;
  return `the ${b.name} service is installed but stopped (${state.detail})`;
}

/** The daemon that answered is the one the manager runs. */
function isManaged(state: BackendState, d: DaemonProbe): boolean {
  return d.answering && state.running && (state.pid === d.pid || d.socketActivated);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o644 });
  await Deno.rename(tmp, path);
}
