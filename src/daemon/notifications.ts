/**
 * Notifications the daemon raises when a session starts waiting for the
 * user, so they arrive whether or not any client is open.
 *
 * Which waits, and when: the rule of `src/waits.ts` (a permission, or
 * input once a turn ended; once the wait has held {@linkcode NOTIFY_SETTLE_MS},
 * flaps coalesced, once per wait). Whether to notify is decided then, from
 * the config in effect (`notify.enabled`, `notify.on`) and the clients
 * attached to the session (none: the user is not looking).
 *
 * Who delivers: config `notify.command` (`/bin/sh -c`, the notification as
 * JSON on stdin and in `CLAUDE_SESSIONS_NOTIFY_*` variables), else the
 * desktop's notifier (`notify-send`; `terminal-notifier` or `osascript` on
 * macOS). Notifiers run as their own process group, at most
 * {@linkcode MAX_RUNNING_NOTIFIERS} at once (the rest queue, up to
 * {@linkcode MAX_QUEUED_NOTIFICATIONS}), never awaited by anything else the
 * daemon does; one still running after `notify.timeoutSeconds` is killed
 * (its whole group). Every delivery and every failure is a `notified`
 * event; a failure is also logged, once per notifier and kind of failure
 * until that notifier works again.
 *
 * @module
 */

import type { NotificationReport, NotifyStatus, SessionEvent, SessionRecord } from "../protocol.ts";
import type { NotifyConfig } from "../config.ts";
import type { WaitKind } from "../session_view.ts";
import {
  findNotifier,
  type NotifierFound,
  type NotifyPayload,
  notifyStatus,
  payloadEnv,
  payloadFor,
  sampleRecord,
} from "../notifier.ts";
import { resolveCommand } from "./manager.ts";
import { now } from "./session.ts";
import { TIMED_OUT, within } from "../async.ts";
import type { Clock } from "../clock.ts";
import { STATUS_OF_WAIT, WAIT_SETTLE_MS, WaitTracker } from "../waits.ts";

/** How long a wait must hold before it is notified (flaps within it are coalesced). */
export const NOTIFY_SETTLE_MS = WAIT_SETTLE_MS;
/** Notifier processes running at once; more notifications queue. */
export const MAX_RUNNING_NOTIFIERS = 4;
/** Notifications queued behind running notifiers; beyond, they fail at once. */
export const MAX_QUEUED_NOTIFICATIONS = 64;
/** Bytes of a notifier's stderr kept for the failure message. */
const STDERR_LIMIT = 2048;

/** Variables of the daemon's own that a notifier does not inherit. */
const DROPPED_ENV = ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"];

/** Finds a program on a PATH as the daemon runs programs. */
const findProgram = (name: string, path: string) => resolveCommand(name, path, "/");

/** How one run of a notifier ended. */
export interface RunOutcome {
  outcome: NotificationReport["outcome"];
  error?: string;
}

/**
 * Runs a notifier: `argv` in its own process group, `stdin` written to it,
 * killed (the group) after `timeoutMs`. Never throws.
 */
export async function runNotifier(
  argv: string[],
  env: Record<string, string>,
  stdin: string,
  timeoutMs: number,
  running?: Set<number>,
): Promise<RunOutcome> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
      // setsid: its own process group, killed as a whole.
      detached: true,
    }).spawn();
  } catch (e) {
    return { outcome: "failed", error: `cannot start ${argv[0]}: ${(e as Error).message}` };
  }
  const pid = child.pid;
  running?.add(pid);
  const writer = child.stdin.getWriter();
  // A notifier that exits without reading its input is fine: only its exit status counts.
  writer.write(new TextEncoder().encode(stdin)).then(() => writer.close()).catch(() => {});
  const stderr = readSome(child.stderr, STDERR_LIMIT);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pid);
  }, timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  running?.delete(pid);
  if (timedOut) {
    stderr.cancel();
    return { outcome: "timeout", error: `killed after ${formatSeconds(timeoutMs)}` };
  }
  // A child left in the background may hold stderr open: take what came.
  const text = await within(stderr.text, 200);
  stderr.cancel();
  if (status.success) return { outcome: "sent" };
  const how = status.signal ? `was killed by ${status.signal}` : `exited ${status.code}`;
  const said = text === TIMED_OUT ? "" : lastLine(text);
  return { outcome: "failed", error: `${how}${said ? `: ${said}` : ""}` };
}

/** Sends SIGKILL to a notifier's process group. */
function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // The group is already gone (it exited as the timer fired).
  }
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))}s`;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? "").slice(0, 300);
}

/** Reads up to `limit` bytes of a stream as text (the rest is drained and dropped). */
function readSome(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): { text: Promise<string>; cancel(): void } {
  const reader = stream.getReader();
  const text = (async () => {
    const parts: Uint8Array[] = [];
    let size = 0;
    try {
      while (true) {
        const r = await reader.read();
        if (r.done) break;
        if (size < limit) {
          parts.push(r.value.subarray(0, limit - size));
          size += Math.min(r.value.length, limit - size);
        }
      }
    } catch {
      // Cancelled (the notifier was killed, or left a child holding the pipe).
    }
    const all = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    return new TextDecoder().decode(all);
  })();
  return { text, cancel: () => void reader.cancel().catch(() => {}) };
}

/** What the notifications need from the daemon. */
export interface NotificationsHost {
  /** The `notify` settings in effect. */
  config(): NotifyConfig;
  /** The session's record, while it exists. */
  record(id: string): SessionRecord | undefined;
  /** Clients attached to the session now. */
  attached(id: string): number;
  /** Publishes an event (`notified`). */
  publish(ev: SessionEvent): void;
  /** The daemon's log. */
  log(msg: string): void;
  /** The daemon's environment (notifiers inherit it). */
  env(): Record<string, string>;
  /** Where `notify test`'s sample session is said to run. */
  sampleDir: string;
}

interface Job {
  payload: NotifyPayload;
  done(report: NotificationReport): void;
}

/** The daemon's notifications. */
export class Notifications {
  readonly #host: NotificationsHost;
  readonly #maxRunning: number;
  readonly #maxQueued: number;
  readonly #waits: WaitTracker;
  readonly #queue: Job[] = [];
  #running = 0;
  /** Process groups of running notifiers (killed at close). */
  readonly #groups = new Set<number>();
  /** Failures already logged ("notifier:outcome"). */
  readonly #logged = new Set<string>();
  #closed = false;

  /** The limits default to the constants above, the clock to the real one (tests change them). */
  constructor(
    host: NotificationsHost,
    limits: { settleMs?: number; maxRunning?: number; maxQueued?: number; clock?: Clock } = {},
  ) {
    this.#host = host;
    this.#maxRunning = limits.maxRunning ?? MAX_RUNNING_NOTIFIERS;
    this.#maxQueued = limits.maxQueued ?? MAX_QUEUED_NOTIFICATIONS;
    this.#waits = new WaitTracker({
      record: (id) => this.#host.record(id),
      wanted: (kind) => {
        const cfg = this.#host.config();
        return cfg.enabled && cfg.on.includes(STATUS_OF_WAIT[kind] as typeof cfg.on[number]);
      },
      // Someone attached is looking at it.
      looking: (id) => this.#host.attached(id) > 0,
      announce: (id, rec, kind) => this.#notify(id, rec, kind),
    }, { settleMs: limits.settleMs ?? NOTIFY_SETTLE_MS, clock: limits.clock });
  }

  /** Notifications being delivered or queued. */
  get inFlight(): number {
    return this.#running + this.#queue.length;
  }

  /** Follows a lifecycle event (subscribe this to the manager). */
  onEvent(ev: SessionEvent): void {
    if (this.#closed) return;
    this.#waits.onEvent(ev);
  }

  /** Sends `notify test`'s sample through the notifier in effect. */
  test(): Promise<NotificationReport> {
    const payload = payloadFor(sampleRecord(this.#host.sampleDir), "permission", true);
    return new Promise((resolve) => this.#enqueue({ payload, done: resolve }));
  }

  /** The notifier in effect, for `status` and `doctor`. */
  async status(): Promise<NotifyStatus> {
    const cfg = this.#host.config();
    return notifyStatus(cfg, await findNotifier(cfg, this.#host.env(), findProgram));
  }

  /** Stops: pending notifications are dropped, running notifiers killed. */
  close(): void {
    this.#closed = true;
    this.#waits.reset();
    this.#queue.length = 0;
    for (const pid of this.#groups) killGroup(pid);
  }

  /** A wait that settled: notify it, and tell of the outcome (a `notified` event). */
  #notify(id: string, rec: SessionRecord, kind: WaitKind): void {
    if (this.#closed) return;
    this.#enqueue({
      payload: payloadFor(rec, kind),
      done: (notification) => {
        const latest = this.#host.record(id) ?? rec;
        this.#host.publish({
          event: "notified",
          at: now(),
          id,
          name: latest.name,
          status: latest.status,
          previous: null,
          source: latest.statusSource,
          notification,
        });
      },
    });
  }

  #enqueue(job: Job): void {
    if (this.#running < this.#maxRunning) {
      this.#start(job);
      return;
    }
    if (this.#queue.length < this.#maxQueued) {
      this.#queue.push(job);
      return;
    }
    const report: NotificationReport = {
      kind: job.payload.kind,
      title: job.payload.title,
      body: job.payload.body,
      notifier: "none",
      outcome: "failed",
      error: `dropped: ${this.#maxRunning} notifiers still running and ` +
        `${this.#maxQueued} notifications waiting`,
    };
    this.#logFailure("queue", report);
    job.done(report);
  }

  #start(job: Job): void {
    this.#running++;
    void this.#deliver(job.payload).then((report) => {
      this.#running--;
      job.done(report);
      const next = this.#closed ? undefined : this.#queue.shift();
      if (next) this.#start(next);
    });
  }

  async #deliver(payload: NotifyPayload): Promise<NotificationReport> {
    const cfg = this.#host.config();
    const base = this.#host.env();
    let found: NotifierFound;
    try {
      found = await findNotifier(cfg, base, findProgram);
    } catch (e) {
      found = {
        choice: null,
        detail: `cannot look for a notifier: ${(e as Error).message}`,
        desktop: false,
      };
    }
    const report: NotificationReport = {
      kind: payload.kind,
      title: payload.title,
      body: payload.body,
      notifier: found.choice?.name ?? "none",
      outcome: "failed",
    };
    const choice = found.choice;
    if (!choice) {
      report.error = `no notifier: ${found.detail}`;
      this.#logFailure("none", report);
      return report;
    }
    const env: Record<string, string> = { ...base, ...choice.env, ...payloadEnv(payload) };
    for (const k of DROPPED_ENV) delete env[k];
    const run = await runNotifier(
      choice.argv(payload),
      env,
      JSON.stringify(payload) + "\n",
      cfg.timeoutSeconds * 1000,
      this.#groups,
    );
    report.outcome = run.outcome;
    if (run.error) report.error = run.error;
    if (run.outcome === "sent") {
      // Works again: its next failure is logged.
      for (const k of [...this.#logged]) {
        if (k.startsWith(`${choice.name}:`)) this.#logged.delete(k);
      }
    } else {
      this.#logFailure(`${choice.name}:${run.outcome}`, report);
    }
    return report;
  }

  /** Logs a failure the first time one of its kind happens (until the notifier works again). */
  #logFailure(key: string, r: NotificationReport): void {
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    const what = r.outcome === "timeout" ? "timed out" : "failed";
    this.#host.log(
      `notification ${what} (${r.notifier}): ${r.error ?? "unknown error"}; ` +
        "further failures like it are not logged, but each is a notified event (events --json)",
    );
  }
}
