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
  WaitingFor,
} from "../protocol.ts";
import { LIVE_STATUSES, ProtocolError } from "../protocol.ts";
import { ptyLaunchArgv } from "./_platform.ts";
import type { RunCgroup } from "./resources.ts";
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
import { alignedDelay } from "../clock.ts";
import { showsTrustDialog } from "./claude_trust.ts";

/** How many status changes a record keeps. */
export const HISTORY_LIMIT = 50;
/** Input queued for a program that does not read is refused beyond this. */
export { MAX_QUEUED_INPUT } from "./limits.ts";
import { MAX_QUEUED_INPUT } from "./limits.ts";
/** After the program exits, how long to wait for the PTY to drain. */
const DRAIN_MS = 500;

/** Least time between two `activity` events of one session. */
export const ACTIVITY_INTERVAL_MS = 1000;
/** The grid the deferred activity events of all sessions are told on. */
const ACTIVITY_GRID_MS = 250;

/** Longest `lastMessage` kept on a record. */
export const LAST_MESSAGE_LIMIT = 4000;
/**
 * How long a Claude session that reported itself ready (e.g. SessionStart)
 * may go without switching on bracketed paste before it is believed anyway.
 */
export const READY_GRACE_MS = 10_000;
/**
 * How long Claude's state file may say "idle" after a turn that ended with
 * background agents running, without Claude starting the turn of its own
 * that follows them, before it is believed.
 */
export const FOLLOW_UP_GRACE_MS = 10_000;

/** What a hook or Claude's state file says, at a point in time. */
export interface Observation {
  source: "hook" | "claude_state";
  /** When it was true, in milliseconds since the epoch. */
  at: number;
  /** The status it implies, if any. */
  status: SessionStatus | null;
  /** The hook event (`SessionStart`, `UserPromptSubmit`, …); absent for the state file. */
  event?: string;
  detail?: string;
  conversationId?: string;
  transcriptPath?: string;
  lastMessage?: string;
  /** The turn's error; null: a turn ended without one. */
  lastError?: string | null;
  /** The prompt Claude took (UserPromptSubmit). */
  prompt?: string;
  /** What Claude waits for (with `waiting_permission`). */
  waitingFor?: WaitingFor;
  /** Background agents still running when a turn ended (Stop). */
  backgroundTasks?: number;
  /** The turn it belongs to (Claude's `prompt_id`). */
  promptId?: string;
  /**
   * Set by the session on a UserPromptSubmit: the prompt was queued behind
   * the turn in progress (Claude fires the hook when it queues it, with that
   * turn's `prompt_id`), not started as a turn of its own.
   */
  queued?: boolean;
}

/** Hooks that tell a permission asked for earlier was answered (the turn moved on). */
const ANSWERED_BY = new Set([
  "PostToolUse",
  "PostToolUseFailure",
  "UserPromptSubmit",
  "Stop",
  "StopFailure",
  "SessionStart",
]);

/** Listener for what a hook or the state file reported (after it was applied). */
export type ObservationListener = (o: Observation) => void;

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
  /** The last screen of a run that ended in hibernation, to keep on disk. */
  keepScreen?(id: string, screen: FinalScreen): Promise<void>;
  /** A run's cgroup, once its leader exited: remove it (now or once empty). */
  releaseCgroup?(id: string, cgroup: RunCgroup): void;
}

/** A run's last screen: its lines (scrollback included) and, with colours, the visible screen. */
export interface FinalScreen {
  plain: string[];
  ansi: string;
}

/** Everything needed to start a process for a session. */
export interface LaunchSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  resumed?: boolean;
  /** The cgroup the run goes in (joined before the program starts), if any. */
  cgroup?: RunCgroup | null;
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
  /** Attached clients and the like (see {@linkcode Session.watch}). */
  #watchers = 0;
  #child: Deno.ChildProcess | null = null;
  #outputListeners = new Set<OutputListener>();
  #firstOutputListeners = new Set<OutputListener>();
  #inputListeners = new Set<InputListener>();
  #resizeListeners = new Set<ResizeListener>();
  #killReason: ExitReason | null = null;
  /** Said in the status history when the run ends by `kill` (e.g. why it was hibernated). */
  #killDetail: string | null = null;
  #screen: Screen | null = null;
  /**
   * Text kept from the screen after the program exited (for peek), computed
   * once the screen has parsed everything (no one waits for that).
   */
  #finalText: Promise<FinalScreen> | null = null;
  /** The last run's final screen as a redraw (escape sequences), for a client that lagged. */
  #finalRedraw: Promise<string> | null = null;
  /** The current run's cgroup, if any. */
  #cgroup: RunCgroup | null = null;
  /** When input was last written to the program (ms); 0: never in this daemon. */
  #lastInputAt = 0;
  /** The program has exited: its output is drained whatever holds reading back. */
  #exiting = false;
  /** Why reading the program's output is paused (back-pressure); empty: reading. */
  #holds = new Set<string | symbol>();
  /** When the current run started (ms); observations older than it are stale. */
  #runStartedAt = 0;
  /** Time of the observation that set the current status (ms). */
  #observedAt = 0;
  /** Time of the report of the current `lastError` (ms). */
  #errorAt = 0;
  #outputWaiters: (() => void)[] = [];
  #observers = new Set<ObservationListener>();
  /**
   * A `waiting_input` report held back until the program can take input (a
   * Claude session switches on bracketed paste once its prompt is up).
   */
  #parked: Observation | null = null;
  #parkTimer: ReturnType<typeof setTimeout> | undefined;
  /** Claude's whole last message of this run (the record keeps it truncated). */
  #lastReply: { text: string; at: number } | null = null;
  /**
   * The `prompt_id` of Claude's turn in progress ("" when its id is unknown),
   * or null while its prompt is idle (also while background agents run).
   */
  #openTurn: string | null = null;
  /**
   * A turn ended with background agents running: Claude will start a turn of
   * its own when they finish, so its state file's "idle" in between is not
   * the end of the work (held back, see {@linkcode FOLLOW_UP_GRACE_MS}).
   */
  #followUp = false;
  #deferredIdle: Observation | null = null;
  #deferTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last PermissionRequest's details, and when the last one was answered (ms). */
  #ask: { waitingFor: WaitingFor; at: number } | null = null;
  #askAnsweredAt = 0;
  /** Claude reported this run's start (SessionStart): it is past any folder-trust dialog. */
  #started = false;
  #trustCheck: ReturnType<typeof setTimeout> | undefined;
  #finished: Promise<void> = Promise.resolve();
  #childExited: Promise<void> = Promise.resolve();
  /** When the program last wrote output (ms). */
  #lastOutput = 0;
  /** The output time the last `activity` event reported (ms). */
  #reportedOutput = 0;
  /** When the last `activity` event was sent (ms). */
  #activitySent = 0;
  /** The trailing `activity` event, due once the interval has passed. */
  #activityTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param record an existing or freshly created record */
  constructor(record: SessionRecord, host: SessionHost) {
    this.record = record;
    this.#host = host;
  }

  /** The record's id. */
  get id(): string {
    return this.record.id;
  }

  /**
   * True while the program runs (or is starting): the session has a process.
   * Not while `queued` or `hibernated` (see {@linkcode Session.open}).
   */
  get live(): boolean {
    return LIVE_STATUSES.includes(this.record.status);
  }

  /**
   * True until the session exits for good: live, `queued` or `hibernated`.
   * An open session holds its name and its conversation, and `ls` lists it.
   */
  get open(): boolean {
    return this.record.status !== "exited";
  }

  /** When input was last written to the program (ms since the epoch; 0: not since the daemon started). */
  get lastInputAt(): number {
    return this.#lastInputAt;
  }

  /** What identifies the current run's processes (see `reaper.ts`), while it runs. */
  get target(): Target | null {
    const pid = this.#child?.pid;
    if (pid === undefined) return null;
    return { id: this.id, sid: pid, cgroup: this.#cgroup?.dir(pid) ?? sessionCgroup(pid) };
  }

  /** The current (or last) run's cgroup, if any. */
  get cgroup(): RunCgroup | null {
    return this.#cgroup;
  }

  /** The last screen of the last run, with colours (null when none is kept). */
  async lastScreen(): Promise<string | null> {
    return (await this.#finalText?.catch(() => null))?.ansi ?? null;
  }

  /**
   * The screen the last run ended with, as a redraw for an attached client
   * (see `Screen.atConsistentPoint`); null before a run ended.
   */
  get finalRedraw(): Promise<string> | null {
    return this.#finalRedraw;
  }

  /** Gives back a last screen kept on disk (a hibernated session, after a daemon restart). */
  restoreScreen(screen: FinalScreen): void {
    if (!this.#finalText && !this.#screen) this.#finalText = Promise.resolve(screen);
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
    if (!final && this.record.status === "queued") {
      throw new ProtocolError("invalid_state", `${notRunning(this.record)}; no screen yet`);
    }
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

  /** Subscribes to hook and state-file observations; returns the unsubscribe function. */
  onObservation(fn: ObservationListener): () => void {
    this.#observers.add(fn);
    return () => this.#observers.delete(fn);
  }

  /**
   * Whether Claude is in a turn (working on a prompt) — not the same as the
   * status `running`, which also holds while background agents run behind
   * an idle prompt. Text typed during a turn is queued by Claude.
   */
  get turnInProgress(): boolean {
    return this.#openTurn !== null;
  }

  /** Claude's whole last message in this run (Stop hook), with when it was reported. */
  get lastReply(): { text: string; at: number } | null {
    return this.#lastReply;
  }

  /**
   * Whether the program can take typed input now: for a Claude session, its
   * prompt is up (it switched on bracketed paste, which it does once its input
   * line is ready); any other program, while it runs.
   */
  get canType(): boolean {
    if (!this.live || !this.#screen) return false;
    return !this.record.hooks || this.#screen.bracketedPaste;
  }

  /** Resolves at the program's next output, or after `ms`. */
  async nextOutput(ms: number): Promise<boolean> {
    if (!this.#pty) return false;
    return (await within(new Promise<void>((r) => this.#outputWaiters.push(r)), ms)) !==
      TIMED_OUT;
  }

  /**
   * Subscribes to program output; returns the unsubscribe function. A
   * `first` listener (attached clients) hears each chunk before anything
   * else is done with it (the screen, the log, the others), so an echo is on
   * its way before that work; every listener still gets every chunk, in order.
   */
  onOutput(fn: OutputListener, first = false): () => void {
    const set = first ? this.#firstOutputListeners : this.#outputListeners;
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Says that someone watches the output as it comes (an attached client), so
   * that it is read at once rather than once a quiet tick while it trickles;
   * returns the function that says they stopped.
   */
  watch(): () => void {
    this.#watchers++;
    if (this.#pty) this.#pty.watched = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#watchers--;
      if (this.#pty) this.#pty.watched = this.#watchers > 0;
    };
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
    const cg = spec.cgroup ?? null;
    const program = cg && cg.wrap.length > 0
      ? { command: cg.wrap[0]!, args: [...cg.wrap.slice(1), spec.command, ...spec.args] }
      : { command: spec.command, args: spec.args };
    const argv = ptyLaunchArgv(pty.path, program.command, program.args, cg?.join ?? []);
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
    pty.watched = this.#watchers > 0;
    this.#child = child;
    this.#cgroup = cg;
    this.#runStartedAt = Date.now();
    this.#observedAt = 0;
    this.#unpark();
    this.#lastReply = null;
    this.#openTurn = null;
    this.#started = false;
    this.#followUp = false;
    this.#dropDeferredIdle();
    this.#ask = null;
    this.#askAnsweredAt = 0;
    // A listener may still be catching up from the previous run; only the
    // old screen's hold goes with it.
    this.hold("screen", false);
    this.#finalText = null;
    this.#screen?.dispose();
    const screen = new Screen(rec.cols, rec.rows, this.#host.scrollback(), (paused) => {
      this.hold("screen", paused);
    });
    this.#screen = screen;
    this.#finalRedraw = null;
    this.#killReason = null;
    this.#killDetail = null;
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
        for (const fn of this.#firstOutputListeners) this.#tell(fn, chunk);
        screen.feed(chunk);
        // Per chunk: a clock read and a compare; the event itself at most once a second.
        const t = Date.now();
        this.#lastOutput = t;
        if (t - this.#activitySent >= ACTIVITY_INTERVAL_MS) this.#sendActivity();
        else {
          // On a grid shared by every session: one wakeup tells them all.
          this.#activityTimer ??= setTimeout(
            () => this.#sendActivity(),
            alignedDelay(t, this.#activitySent + ACTIVITY_INTERVAL_MS, ACTIVITY_GRID_MS),
          );
        }
        if (this.#outputWaiters.length > 0) {
          for (const w of this.#outputWaiters.splice(0)) w();
        }
        for (const fn of this.#outputListeners) this.#tell(fn, chunk);
        // The output that made it ready is logged before the status change.
        if (this.#parked && screen.bracketedPaste) this.#applyParked("");
        // Claude's folder-trust dialog takes input (bracketed paste on) before
        // any hook: the one wait that only the screen tells of.
        if (rec.hooks && !this.#started && rec.status === "starting" && screen.bracketedPaste) {
          this.#checkTrustSoon();
        }
      },
      onEnd: () => readerEnded(),
    });

    this.#childExited = child.status.then(() => {});
    this.#finished = this.#awaitExit(child, pty, readerDone);
  }

  /** Gives an output listener a chunk; a listener that throws is logged, the others still hear it. */
  #tell(fn: OutputListener, chunk: Uint8Array): void {
    try {
      fn(chunk);
    } catch (e) {
      this.#host.log(`session ${this.id}: output listener failed: ${(e as Error).stack}`);
    }
  }

  /**
   * Publishes an event about this session (e.g. `created`, `started`), with
   * `extra` fields (e.g. `clients`).
   */
  announce(kind: SessionEvent["event"], extra?: Partial<SessionEvent>): void {
    this.#host.emit(Object.assign(this.#event(kind), extra));
  }

  /**
   * Announces output not yet reported (`activity`, with when it was seen);
   * also the trailing one, so the last output of a burst is told within the
   * interval.
   */
  #sendActivity(): void {
    clearTimeout(this.#activityTimer);
    this.#activityTimer = undefined;
    if (this.#lastOutput === this.#reportedOutput) return;
    this.#reportedOutput = this.#lastOutput;
    this.#activitySent = Date.now();
    const at = new Date(this.#lastOutput).toISOString();
    this.record.lastOutputAt = at;
    this.announce("activity", { lastOutputAt: at });
  }

  /** Sends bytes to the program (they are recorded as input by listeners). */
  write(data: Uint8Array): void {
    const pty = this.#pty;
    if (!pty || !this.live) {
      throw new ProtocolError("invalid_state", notRunning(this.record));
    }
    if (pty.queuedBytes + data.length > MAX_QUEUED_INPUT) {
      throw new ProtocolError(
        "invalid_state",
        `session ${this.id} is not reading its input (${pty.queuedBytes} bytes queued)`,
      );
    }
    // To the program first; recorded in the same turn, so the input is still
    // logged before any output it causes (which comes in a later one).
    pty.write(data);
    for (const fn of this.#inputListeners) fn(data);
    this.#lastInputAt = Date.now();
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
    this.#trackTurn(o);
    if (o.source === "hook") this.#dropDeferredIdle();
    if (o.event === "Stop" || o.event === "StopFailure") {
      this.#followUp = (o.backgroundTasks ?? 0) > 0;
    }
    if (o.source === "claude_state" && o.status === "waiting_input" && this.#followUp) {
      this.#deferIdle(o);
      return;
    }
    const rec = this.record;
    let changed = false;
    const set = <K extends "conversationId" | "transcriptPath" | "lastMessage" | "lastError">(
      k: K,
      v: string | null | undefined,
    ) => {
      if (v === undefined || rec[k] === v) return;
      rec[k] = v;
      changed = true;
    };
    set("conversationId", o.conversationId);
    set("transcriptPath", o.transcriptPath);
    const tasks = o.event === "SubagentStop"
      ? Math.max(0, (rec.backgroundTasks ?? 0) - 1)
      : o.backgroundTasks;
    if (tasks !== undefined && (rec.backgroundTasks ?? 0) !== tasks) {
      rec.backgroundTasks = tasks;
      changed = true;
    }
    set("lastMessage", o.lastMessage?.slice(0, LAST_MESSAGE_LIMIT));
    if (o.lastMessage !== undefined && o.at >= (this.#lastReply?.at ?? 0)) {
      this.#lastReply = { text: o.lastMessage, at: o.at };
    }
    // A turn that ended normally clears the error of an earlier one; a
    // report older than the error does not.
    if (o.lastError !== undefined && (o.lastError !== null || o.at >= this.#errorAt)) {
      if (o.lastError !== null) this.#errorAt = o.at;
      set("lastError", o.lastError);
    }
    if (o.source === "hook") this.#trackAsk(o);
    if (
      o.waitingFor && o.source === "hook" && rec.status === "waiting_permission" &&
      o.at >= this.#observedAt - 1000
    ) {
      // Details of the current wait arriving after it began (a Notification after PermissionRequest).
      rec.waitingFor = { ...(rec.waitingFor ?? {}), ...o.waitingFor };
      changed = true;
    }
    if (o.status && o.at >= this.#observedAt) {
      if (o.status === "waiting_input" && rec.hooks && !this.canType) {
        // Claude says it is ready before its prompt can take input (SessionStart
        // fires before its input line is up): held until it can.
        this.#park(o);
      } else {
        this.#observedAt = o.at;
        if (this.#parked && this.#parked.at <= o.at) this.#unpark();
        if (this.#applyStatus(o)) changed = false; // saved
        else if (o.waitingFor) changed = true;
      }
    }
    if (changed) {
      this.#touch();
      // What it waits for, its last message…: told to those who follow the record.
      this.announce("updated");
    }
    for (const fn of this.#observers) {
      try {
        fn(o);
      } catch (e) {
        this.#host.log(`session ${this.id}: observation listener failed: ${(e as Error).stack}`);
      }
    }
  }

  /** Follows which turn Claude is in (see {@linkcode Session.turnInProgress}). */
  #trackTurn(o: Observation): void {
    const id = o.promptId ?? "";
    switch (o.event) {
      case "UserPromptSubmit":
        // A prompt submitted during a turn carries that turn's id: queued.
        if (this.#openTurn !== null && o.promptId !== undefined && this.#openTurn === id) {
          o.queued = true;
        } else {
          this.#openTurn = id;
        }
        break;
      case "PreToolUse":
      case "PostToolUse":
      case "PostToolUseFailure":
      case "PermissionRequest":
        // A turn Claude took from its queue (no UserPromptSubmit for it).
        if (this.#openTurn === null || (o.promptId !== undefined && this.#openTurn !== id)) {
          this.#openTurn = id;
        }
        break;
      case "SessionStart":
        this.#started = true;
        this.#openTurn = null;
        break;
      case "Stop":
      case "StopFailure":
        this.#openTurn = null;
        break;
      default:
        // Claude's state file: idle ends a turn (also one interrupted with Esc).
        if (o.source === "claude_state" && o.status === "waiting_input") this.#openTurn = null;
    }
  }

  /** Sets the status an observation implies, with what it waits for. */
  #applyStatus(o: Observation, note = ""): boolean {
    const rec = this.record;
    if (o.status === "waiting_permission") {
      // The state file says only "permission prompt": keep a hook's details,
      // or take those of the PermissionRequest not yet answered (its report
      // can come in older than the state file's, and then set no status).
      const keep = o.source === "claude_state" && rec.status === "waiting_permission" &&
        rec.waitingFor;
      if (!keep) {
        const ask = this.#ask;
        rec.waitingFor = o.source === "claude_state" && o.waitingFor?.kind === "permission" &&
            ask && ask.at > this.#askAnsweredAt
          ? { ...o.waitingFor, ...ask.waitingFor }
          : o.waitingFor ?? null;
      }
    } else {
      rec.waitingFor = null;
    }
    return this.setStatus(o.status!, o.source, `${o.detail ?? ""}${note}` || undefined);
  }

  /**
   * Keeps the details of the last PermissionRequest until a hook tells that
   * the turn moved on (it was answered).
   */
  #trackAsk(o: Observation): void {
    if (o.event === "PermissionRequest" && o.waitingFor) {
      if (!this.#ask || o.at >= this.#ask.at) this.#ask = { waitingFor: o.waitingFor, at: o.at };
    } else if (o.event && ANSWERED_BY.has(o.event)) {
      this.#askAnsweredAt = Math.max(this.#askAnsweredAt, o.at);
    }
  }

  /** Holds back a state-file "idle" between background agents' end and Claude's own turn. */
  #deferIdle(o: Observation): void {
    if (this.#deferredIdle && this.#deferredIdle.at > o.at) return;
    this.#deferredIdle = o;
    clearTimeout(this.#deferTimer);
    this.#deferTimer = setTimeout(() => {
      const idle = this.#deferredIdle;
      this.#dropDeferredIdle();
      if (!idle || !this.live) return;
      // No turn of Claude's own came: the work is over after all.
      this.#followUp = false;
      this.observe(idle);
    }, FOLLOW_UP_GRACE_MS);
  }

  #dropDeferredIdle(): void {
    this.#deferredIdle = null;
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
  }

  /** Looks at the screen once output pauses (at most every 150 ms) for the folder-trust dialog. */
  #checkTrustSoon(): void {
    if (this.#trustCheck !== undefined) return;
    this.#trustCheck = setTimeout(async () => {
      const screen = this.#screen;
      const text = screen ? await screen.peek({}).catch(() => "") : "";
      this.#trustCheck = undefined;
      const rec = this.record;
      if (this.#started || rec.status !== "starting" || !showsTrustDialog(text)) return;
      rec.waitingFor = { kind: "folder_trust", message: `trust the folder ${rec.cwd}?` };
      this.setStatus("waiting_permission", "screen", "folder trust");
    }, 150);
  }

  #park(o: Observation): void {
    if (this.#parked && this.#parked.at > o.at) return;
    this.#parked = o;
    if (this.#parkTimer !== undefined) return;
    this.#parkTimer = setTimeout(() => {
      this.#parkTimer = undefined;
      if (!this.#parked || !this.live) return;
      this.#host.log(
        `session ${this.id}: reported ready (${this.#parked.detail}) but did not switch on ` +
          `bracketed paste within ${READY_GRACE_MS / 1000}s; taking its word for it`,
      );
      this.#applyParked(" (without bracketed paste)");
    }, READY_GRACE_MS);
  }

  #unpark(): void {
    this.#parked = null;
    clearTimeout(this.#parkTimer);
    this.#parkTimer = undefined;
  }

  #applyParked(note: string): void {
    const o = this.#parked;
    this.#unpark();
    if (!o || !this.live || o.at < this.#observedAt) return;
    this.#observedAt = o.at;
    this.#applyStatus(o, note);
  }

  /**
   * Stops the program and everything in its process group and session:
   * SIGHUP, then SIGTERM, then SIGKILL, `graceSeconds` apart. Resolves once
   * the record says `exited`.
   */
  async kill(reason: ExitReason = "killed", graceMs?: number, detail?: string): Promise<void> {
    if (!this.live) return;
    if (!this.#child) {
      await this.#finished;
      return;
    }
    if (this.#killReason === null) {
      this.#killReason = reason;
      this.#killDetail = detail ?? null;
    }
    const pid = this.#child.pid;
    const n = await terminate(
      this.target ?? { id: this.id, sid: pid, cgroup: sessionCgroup(pid) },
      graceMs ?? this.#host.graceSeconds() * 1000,
      this.#childExited,
    );
    this.#host.log(`session ${this.id}: stopped (${n} process${n === 1 ? "" : "es"} signalled)`);
    await this.#finished;
    // Every process is gone now, also what outlived the leader in its cgroup.
    const cgroup = this.#cgroup;
    if (cgroup && !this.live) this.#host.releaseCgroup?.(this.id, cgroup);
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
    rec.waitingFor = null;
    this.setStatus("exited", "daemon", "daemon_lost");
  }

  /**
   * Stops processes left over from a dead daemon's session: every process
   * carrying its `CLAUDE_SESSIONS_ID`, their children, and the members of
   * the recorded leader's terminal session when one of them carries it too
   * (pids get reused), and what is left in its last run's `cgroup`. Their
   * terminal is gone, so nothing else can reach them. Resolves with how many
   * processes were signalled.
   */
  static async reapOrphan(
    rec: SessionRecord,
    graceMs: number,
    cgroup: string | null = null,
  ): Promise<number> {
    const scan = await nextScan();
    const sid = rec.pid;
    const ours = sid !== null &&
      [...scan.procs.values()].some((p) => p.session === sid && sessionIdOf(p) === rec.id);
    const target: Target = { id: rec.id, sid: ours ? sid : null, cgroup };
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
    const cgroup = this.#cgroup;
    if (screen && this.#killReason === "daemon_stopped") {
      // The daemon is stopping: no one will look at this screen again.
      screen.dispose();
    } else if (screen) {
      const final = (async () => {
        const plain = (await screen.peek({ lines: 1000, final: true })).split("\n");
        const ansi = await screen.peek({ ansi: true, final: true });
        return { plain, ansi };
      })();
      this.#finalText = final;
      // Asked before the screen is disposed (the worker answers in order).
      this.#finalRedraw = new Promise((r) => screen.atConsistentPoint((snap) => r(snap.data)));
      void final.finally(() => screen.dispose());
      if (this.#killReason === "hibernated") {
        // On disk before anyone hears it is hibernated: a daemon restart
        // right after still has its last screen.
        await final.then((f) => this.#host.keepScreen?.(this.id, f)).catch((e) =>
          this.#host.log(`session ${this.id}: cannot keep its last screen: ${(e as Error).message}`)
        );
      }
    }
    await this.#host.settle?.(this.id).catch((e) =>
      this.#host.log(`session ${this.id}: settling after exit failed: ${(e as Error).message}`)
    );
    // The last output is on the record the exit is told with (no event: at
    // most one a second).
    clearTimeout(this.#activityTimer);
    this.#activityTimer = undefined;
    if (this.#lastOutput !== this.#reportedOutput) {
      this.#reportedOutput = this.#lastOutput;
      this.record.lastOutputAt = new Date(this.#lastOutput).toISOString();
    }

    const rec = this.record;
    const at = now();
    rec.exitCode = status.signal ? null : status.code;
    rec.signal = status.signal ?? null;
    // The kernel killed it for memory (in its cgroup), unless we stopped it.
    rec.exitReason = this.#killReason ??
      (cgroup?.oomKilled(status.signal ?? null) ? "oom" : "exited");
    if (cgroup) this.#host.releaseCgroup?.(this.id, cgroup);
    rec.tty = null;
    rec.waitingFor = null;
    this.#unpark();
    this.#dropDeferredIdle();
    clearTimeout(this.#trustCheck);
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
    const ended = rec.exitReason === "hibernated" ? "hibernated" : "exited";
    if (!this.setStatus(ended, "process", this.#killDetail ?? rec.exitReason)) this.#touch();
    const ev = this.#event("exited");
    this.#host.emit(ev);
  }

  /**
   * Ends a session that has no process (`queued` or `hibernated`) for good:
   * `exited` with `reason` (e.g. `killed`).
   */
  close(reason: ExitReason): void {
    if (this.live || !this.open) return;
    this.record.exitReason = reason;
    this.record.tty = null;
    this.setStatus("exited", "daemon", reason);
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

/** Why a session takes no input now, and what to do. */
export function notRunning(rec: SessionRecord): string {
  const ref = rec.name ?? rec.id;
  switch (rec.status) {
    case "hibernated":
      return `session ${rec.id} is hibernated: wake it first (claude-sessions wake ${ref}); ` +
        "attach and send wake it themselves";
    case "queued":
      return `session ${rec.id} is queued (limits.maxLive): it starts when a slot frees; ` +
        `claude-sessions wait ${ref} --until waiting_input`;
    default:
      return `session ${rec.id} is not running`;
  }
}
