/**
 * One session: a program running in its own PTY, as a session leader with
 * the PTY as controlling terminal, and the record describing it.
 *
 * @module
 */

import type {
  ExitReason,
  SessionEvent,
  SessionRecord,
  SessionStatus,
  StatusSource,
} from "../protocol.ts";
import { ProtocolError } from "../protocol.ts";
import { ptyLaunchArgv } from "./_platform.ts";
import {
  members,
  nextScan,
  sessionCgroup,
  sessionIdOf,
  signalAll,
  type Target,
  terminate,
} from "./reaper.ts";
import { Pty } from "./pty.ts";
import { type PeekOptions, Screen } from "./screen.ts";
import { TIMED_OUT, within } from "../async.ts";

/** How many status changes a record keeps. */
export const HISTORY_LIMIT = 50;
/** Input queued for a program that does not read is refused beyond this. */
export { MAX_QUEUED_INPUT } from "./limits.ts";
import { MAX_QUEUED_INPUT } from "./limits.ts";
/** After the program exits, how long to wait for the PTY to drain. */
const DRAIN_MS = 500;

/** Longest `lastMessage` kept on a record. */
export const LAST_MESSAGE_LIMIT = 4000;

/** What a hook or Claude's state file says, at a point in time. */
export interface Observation {
  source: "hook" | "claude_state";
  /** When it was true, in milliseconds since the epoch. */
  at: number;
  /** The status it implies, if any. */
  status: SessionStatus | null;
  detail?: string;
  conversationId?: string;
  transcriptPath?: string;
  lastMessage?: string;
  lastError?: string;
}

/** Listener for bytes the program wrote. */
export type OutputListener = (chunk: Uint8Array) => void;
/** Listener for bytes sent to the program. */
export type InputListener = (chunk: Uint8Array) => void;
/** Listener for terminal size changes. */
export type ResizeListener = (cols: number, rows: number) => void;

/** What a session needs from its owner. */
export interface SessionHost {
  /** Persists the record (atomically, asynchronously). */
  save(rec: SessionRecord): void;
  /** Publishes a lifecycle event. */
  emit(event: SessionEvent): void;
  /** Seconds between escalating signals when stopping. */
  graceSeconds(): number;
  /** Lines of scrollback kept by the screen model. */
  scrollback(): number;
  /** Diagnostics for the daemon's own log. */
  log(msg: string): void;
  /**
   * Called once the program has exited and everything it wrote has been
   * delivered to output listeners, before the record says `exited` (so the
   * I/O log holds all output by the time anyone hears of the exit).
   */
  settle?(id: string): Promise<void>;
}

/** Everything needed to start a process for a session. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  resumed?: boolean;
}

/** The current UTC time as RFC 3339 with milliseconds. */
export function now(): string {
  return new Date().toISOString();
}

/** A live or finished session. */
export class Session {
  /** The record (mutated in place; persisted through the host). */
  readonly record: SessionRecord;
  #host: SessionHost;
  #pty: Pty | null = null;
  #child: Deno.ChildProcess | null = null;
  #outputListeners = new Set<OutputListener>();
  #inputListeners = new Set<InputListener>();
  #resizeListeners = new Set<ResizeListener>();
  #killReason: ExitReason | null = null;
  #screen: Screen | null = null;
  /**
   * Text kept from the screen after the program exited (for peek), computed
   * once the screen has parsed everything (no one waits for that).
   */
  #finalText: Promise<{ plain: string[]; ansi: string }> | null = null;
  /** The program has exited: its output is drained whatever holds reading back. */
  #exiting = false;
  /** Why reading the program's output is paused (back-pressure); empty: reading. */
  #holds = new Set<string | symbol>();
  /** When the current run started (ms); observations older than it are stale. */
  #runStartedAt = 0;
  /** Time of the observation that set the current status (ms). */
  #observedAt = 0;
  #outputWaiters: (() => void)[] = [];
  #finished: Promise<void> = Promise.resolve();
  #childExited: Promise<void> = Promise.resolve();

  /** @param record an existing or freshly created record */
  constructor(record: SessionRecord, host: SessionHost) {
    this.record = record;
    this.#host = host;
  }

  /** The record's id. */
  get id(): string {
    return this.record.id;
  }

  /** True while the program runs (or is starting). */
  get live(): boolean {
    return this.record.status !== "exited";
  }

  /** The PTY while the program runs. */
  get pty(): Pty | null {
    return this.#pty;
  }

  /** The screen model while the program runs. */
  get screen(): Screen | null {
    return this.#screen;
  }

  /**
   * Stops (`on`) or resumes reading the program's output on behalf of
   * `reason`; reading resumes once no reason holds it. The program blocks
   * when the PTY buffer fills, so nothing is lost.
   */
  hold(reason: string | symbol, on: boolean): void {
    if (on) {
      this.#holds.add(reason);
      if (!this.#exiting) this.#pty?.pause();
      return;
    }
    if (!this.#holds.delete(reason) || this.#holds.size > 0) return;
    this.#pty?.resume();
  }

  /**
   * Text of the screen: the visible screen, or its last `lines` lines
   * (scrollback included); coloured with `ansi`. Works after exit too (the
   * last screen and up to 1000 lines of scrollback are kept).
   */
  async peek(opts: PeekOptions): Promise<string> {
    const screen = this.#screen;
    if (screen) return await screen.peek(opts);
    const final = await this.#finalText;
    if (!final) {
      throw new ProtocolError(
        "invalid_state",
        `no screen kept for session ${this.id} (it ended before the daemon last started); see its logs`,
      );
    }
    if (opts.ansi) return final.ansi;
    const all = final.plain;
    const n = opts.lines ?? this.record.rows;
    return all.slice(Math.max(0, all.length - n)).join("\n");
  }

  /**
   * Makes the program repaint: resizes the PTY one row taller and back
   * (SIGWINCH twice), restoring the size once the program has answered the
   * first with output, or after a short while.
   */
  async nudgeRepaint(): Promise<void> {
    const pty = this.#pty;
    if (!pty || !this.live) return;
    pty.resize(this.record.cols, this.record.rows + 1);
    await within(new Promise<void>((r) => this.#outputWaiters.push(r)), 250);
    if (this.#pty === pty && this.live) pty.resize(this.record.cols, this.record.rows);
  }

  /** Subscribes to program output; returns the unsubscribe function. */
  onOutput(fn: OutputListener): () => void {
    this.#outputListeners.add(fn);
    return () => this.#outputListeners.delete(fn);
  }

  /** Subscribes to input sent to the program; returns the unsubscribe function. */
  onInput(fn: InputListener): () => void {
    this.#inputListeners.add(fn);
    return () => this.#inputListeners.delete(fn);
  }

  /** Subscribes to terminal size changes; returns the unsubscribe function. */
  onResize(fn: ResizeListener): () => void {
    this.#resizeListeners.add(fn);
    return () => this.#resizeListeners.delete(fn);
  }

  /**
   * Stops reading the program's output until the returned function is called
   * (back-pressure for a listener that cannot keep up: the program blocks once
   * the kernel's PTY buffer fills; nothing is dropped). Holds nest: reading
   * resumes when every hold is released. Once the program has exited, what
   * it left in the PTY is read regardless (it is bounded by the kernel's
   * buffer), so no hold delays the exit.
   */
  holdOutput(): () => void {
    const token = Symbol("hold");
    this.hold(token, true);
    return () => this.hold(token, false);
  }

  /** Resolves once the current run has fully ended and the record says so. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /**
   * Starts the program in a new PTY. The caller announces `started`.
   * @throws {ProtocolError} `spawn_failed` when the PTY or process cannot be created
   */
  start(spec: LaunchSpec): void {
    const rec = this.record;
    let pty: Pty;
    try {
      pty = Pty.open(rec.cols, rec.rows);
    } catch (e) {
      throw new ProtocolError("spawn_failed", `cannot open a pty: ${(e as Error).message}`);
    }
    const argv = ptyLaunchArgv(pty.path, spec.command, spec.args);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        cwd: rec.cwd,
        env: spec.env,
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (e) {
      void pty.close();
      throw new ProtocolError(
        "spawn_failed",
        `cannot start ${spec.command}: ${(e as Error).message}`,
      );
    }
    this.#pty = pty;
    this.#child = child;
    this.#runStartedAt = Date.now();
    this.#observedAt = 0;
    // A listener may still be catching up from the previous run; only the
    // old screen's hold goes with it.
    this.hold("screen", false);
    this.#finalText = null;
    this.#screen?.dispose();
    const screen = new Screen(rec.cols, rec.rows, this.#host.scrollback(), (paused) => {
      this.hold("screen", paused);
    });
    this.#screen = screen;
    this.#killReason = null;
    this.#exiting = false;
    if (this.#holds.size > 0) pty.pause();
    const started = now();
    rec.pid = child.pid;
    rec.tty = pty.path;
    rec.exitCode = null;
    rec.signal = null;
    rec.exitReason = null;
    rec.runs.push({
      pid: child.pid,
      started,
      ended: null,
      exitCode: null,
      signal: null,
      exitReason: null,
      resumed: spec.resumed ?? false,
    });

    let readerEnded!: () => void;
    const readerDone = new Promise<void>((r) => (readerEnded = r));
    pty.startReading({
      onData: (chunk) => {
        screen.feed(chunk);
        if (this.#outputWaiters.length > 0) {
          for (const w of this.#outputWaiters.splice(0)) w();
        }
        for (const fn of this.#outputListeners) {
          try {
            fn(chunk);
          } catch (e) {
            this.#host.log(`session ${rec.id}: output listener failed: ${(e as Error).stack}`);
          }
        }
      },
      onEnd: () => readerEnded(),
    });

    this.#childExited = child.status.then(() => {});
    this.#finished = this.#awaitExit(child, pty, readerDone);
  }

  /** Publishes a lifecycle event about this session (e.g. `created`, `started`). */
  announce(kind: SessionEvent["event"]): void {
    this.#host.emit(this.#event(kind));
  }

  /** Sends bytes to the program (they are recorded as input by listeners). */
  write(data: Uint8Array): void {
    const pty = this.#pty;
    if (!pty || !this.live) {
      throw new ProtocolError("invalid_state", `session ${this.id} is not running`);
    }
    if (pty.queuedBytes + data.length > MAX_QUEUED_INPUT) {
      throw new ProtocolError(
        "invalid_state",
        `session ${this.id} is not reading its input (${pty.queuedBytes} bytes queued)`,
      );
    }
    for (const fn of this.#inputListeners) fn(data);
    pty.write(data);
  }

  /** Resizes the PTY (the program gets SIGWINCH). */
  resize(cols: number, rows: number): void {
    if (!this.#pty || !this.live) return;
    if (cols === this.record.cols && rows === this.record.rows) return;
    this.#pty.resize(cols, rows);
    this.#screen?.resize(cols, rows);
    this.record.cols = cols;
    this.record.rows = rows;
    this.#touch();
    for (const fn of this.#resizeListeners) {
      try {
        fn(cols, rows);
      } catch (e) {
        this.#host.log(`session ${this.id}: resize listener failed: ${(e as Error).stack}`);
      }
    }
  }

  /**
   * Changes the status (no-op when unchanged), stamps it, keeps it in the
   * history, persists and publishes it.
   */
  setStatus(status: SessionStatus, source: StatusSource, detail?: string): boolean {
    const rec = this.record;
    if (rec.status === status) return false;
    const previous = rec.status;
    const at = now();
    rec.status = status;
    rec.statusSince = at;
    rec.statusSource = source;
    rec.history.push(detail ? { status, at, source, detail } : { status, at, source });
    if (rec.history.length > HISTORY_LIMIT) {
      rec.history.splice(0, rec.history.length - HISTORY_LIMIT);
    }
    rec.updated = at;
    this.#host.save(rec);
    const ev = this.#event("status", previous);
    if (detail) ev.detail = detail;
    this.#host.emit(ev);
    return true;
  }

  /**
   * Applies what a hook or Claude's state file reports. The newest
   * observation wins: one older than the one that set the current status
   * (hooks can run in parallel and their files land out of order; the state
   * file can lag) only updates metadata. Nothing overrides `exited`, which
   * only the process itself sets.
   */
  observe(o: Observation): void {
    if (!this.live || o.at < this.#runStartedAt - 1000) return;
    const rec = this.record;
    let changed = false;
    const set = <K extends "conversationId" | "transcriptPath" | "lastMessage" | "lastError">(
      k: K,
      v: string | undefined,
    ) => {
      if (v === undefined || rec[k] === v) return;
      rec[k] = v;
      changed = true;
    };
    set("conversationId", o.conversationId);
    set("transcriptPath", o.transcriptPath);
    set("lastMessage", o.lastMessage?.slice(0, LAST_MESSAGE_LIMIT));
    set("lastError", o.lastError);
    if (o.status && o.at >= this.#observedAt) {
      this.#observedAt = o.at;
      if (this.setStatus(o.status, o.source, o.detail)) return; // saved
    }
    if (changed) this.#touch();
  }

  /**
   * Stops the program and everything in its process group and session:
   * SIGHUP, then SIGTERM, then SIGKILL, `graceSeconds` apart. Resolves once
   * the record says `exited`.
   */
  async kill(reason: ExitReason = "killed", graceMs?: number): Promise<void> {
    if (!this.live) return;
    if (!this.#child) {
      await this.#finished;
      return;
    }
    this.#killReason ??= reason;
    const pid = this.#child.pid;
    const n = await terminate(
      { id: this.id, sid: pid, cgroup: sessionCgroup(pid) },
      graceMs ?? this.#host.graceSeconds() * 1000,
      this.#childExited,
    );
    this.#host.log(`session ${this.id}: stopped (${n} process${n === 1 ? "" : "es"} signalled)`);
    await this.#finished;
  }

  /** Marks a record whose process can no longer be managed (found at daemon start). */
  markLost(): void {
    const rec = this.record;
    const at = now();
    const run = rec.runs[rec.runs.length - 1];
    if (run && run.ended === null) {
      run.ended = at;
      run.exitReason = "daemon_lost";
    }
    rec.exitReason = "daemon_lost";
    rec.tty = null;
    this.setStatus("exited", "daemon", "daemon_lost");
  }

  /**
   * Stops processes left over from a dead daemon's session: every process
   * carrying its `CLAUDE_SESSIONS_ID`, their children, and the members of
   * the recorded leader's terminal session when one of them carries it too
   * (pids get reused). Their terminal is gone, so nothing else can reach
   * them. Resolves with how many processes were signalled.
   */
  static async reapOrphan(rec: SessionRecord, graceMs: number): Promise<number> {
    const scan = await nextScan();
    const sid = rec.pid;
    const ours = sid !== null &&
      [...scan.procs.values()].some((p) => p.session === sid && sessionIdOf(p) === rec.id);
    const target: Target = { id: rec.id, sid: ours ? sid : null, cgroup: null };
    if (members(scan, target).length === 0) return 0;
    return await terminate(target, graceMs, null);
  }

  async #awaitExit(
    child: Deno.ChildProcess,
    pty: Pty,
    readerDone: Promise<void>,
  ): Promise<void> {
    const status = await child.status;
    // The program is gone: what it left in the PTY is bounded (the kernel's
    // buffer), so read it whatever holds reading back (a slow screen model, a
    // full disk) rather than wait for them.
    this.#exiting = true;
    this.#screen?.stopThrottling();
    pty.resume();
    // Let the PTY drain: drop our slave descriptor; the master reports EOF
    // once every descriptor of the slave is closed.
    pty.releaseSlave();
    const drained = await within(readerDone, DRAIN_MS);
    if (drained === TIMED_OUT) {
      // Something else (a background process) still holds the terminal:
      // hang up the terminal's session (not what left it).
      signalAll({ id: null, sid: child.pid, cgroup: null }, "SIGHUP", false);
    }
    await pty.close();
    this.#pty = null;
    this.#child = null;
    const screen = this.#screen;
    this.#screen = null;
    if (screen && this.#killReason === "daemon_stopped") {
      // The daemon is stopping: no one will look at this screen again.
      screen.dispose();
    } else if (screen) {
      const final = (async () => {
        const plain = (await screen.peek({ lines: 1000 })).split("\n");
        const ansi = await screen.peek({ ansi: true });
        return { plain, ansi };
      })();
      this.#finalText = final;
      void final.finally(() => screen.dispose());
    }
    await this.#host.settle?.(this.id).catch((e) =>
      this.#host.log(`session ${this.id}: settling after exit failed: ${(e as Error).message}`)
    );

    const rec = this.record;
    const at = now();
    rec.exitCode = status.signal ? null : status.code;
    rec.signal = status.signal ?? null;
    rec.exitReason = this.#killReason ?? "exited";
    rec.tty = null;
    const run = rec.runs[rec.runs.length - 1];
    if (run) {
      run.ended = at;
      run.exitCode = rec.exitCode;
      run.signal = rec.signal;
      run.exitReason = rec.exitReason;
    }
    this.#host.log(
      `session ${rec.id} exited (${
        rec.signal ? `signal ${rec.signal}` : `code ${rec.exitCode}`
      }, ${rec.exitReason})`,
    );
    if (!this.setStatus("exited", "process", rec.exitReason)) this.#touch();
    const ev = this.#event("exited");
    this.#host.emit(ev);
  }

  #touch(): void {
    this.record.updated = now();
    this.#host.save(this.record);
  }

  #event(kind: SessionEvent["event"], previous: SessionStatus | null = null): SessionEvent {
    const rec = this.record;
    const ev: SessionEvent = {
      event: kind,
      at: now(),
      id: rec.id,
      name: rec.name,
      status: rec.status,
      previous,
      source: rec.statusSource,
    };
    if (kind === "exited") {
      ev.exitCode = rec.exitCode;
      ev.signal = rec.signal;
      ev.exitReason = rec.exitReason;
    }
    return ev;
  }
}
