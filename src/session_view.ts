/**
 * What a person reads about a session, derived from its record alone, so
 * that every place that shows it (`ls`, `send`, `watch`, notifications) says
 * the same thing.
 *
 * @module
 */

import type { ExitReason, SessionRecord, SessionStatus, WaitingFor } from "./protocol.ts";
import { printable } from "./printable.ts";

/** Shortest id prefix shown (`ls`, `watch`). */
export const MIN_SHORT_ID = 8;

/** Longest last message a view carries (one line), in characters. */
export const VIEW_MESSAGE_CHARS = 200;

/**
 * What a person reads about one session. Every text field is one line, safe
 * to print on a terminal (control characters escaped).
 */
export interface SessionView {
  id: string;
  /** The id's shortest prefix that tells every known session apart. */
  shortId: string;
  name: string | null;
  /** `01M7ZA1Q (api)`, or the short id alone. */
  label: string;
  status: SessionStatus;
  /** How long the status has held, in ms. */
  heldMs: number;
  /** `waiting_permission 3m`, `exited (code 0) 1m`, `waiting_input 2m (turn failed)`. */
  statusText: string;
  /** What it needs from the user, or null: `permission` comes before `input`. */
  attention: "permission" | "input" | null;
  /** What it waits for (`permission to use Bash: touch x`, `input`), or null. */
  waitingFor: string | null;
  /** Its last message (or the error that ended its last turn), one line, shortened; or null. */
  lastMessage: string | null;
  /** How long ago it last wrote output, in ms; null when not known. */
  sinceOutputMs: number | null;
  tags: string[];
  /** Clients attached now. */
  clients: number;
  /** Its directory, with the home directory as `~`. */
  dir: string;
  /** How long ago it was created, in ms. */
  ageMs: number;
}

/** Options of {@linkcode viewSession}. */
export interface ViewOptions {
  /** The time to measure durations against (ms since the epoch). */
  now: number;
  /** Length of the short id (see {@linkcode shortIdLength}); default {@linkcode MIN_SHORT_ID}. */
  shortLength?: number;
  /** The user's home directory, shown as `~`. */
  home?: string;
}

/** The one view of a session that `ls`, `next`, `watch` and notifications show. */
export function viewSession(rec: SessionRecord, opts: ViewOptions): SessionView {
  const shortId = rec.id.slice(0, opts.shortLength ?? MIN_SHORT_ID);
  const attention = attentionOf(rec);
  const message = rec.status === "waiting_input" && rec.lastError
    ? rec.lastError
    : rec.lastMessage ?? rec.lastError;
  const lastOutput = rec.lastOutputAt ? Date.parse(rec.lastOutputAt) : NaN;
  return {
    id: rec.id,
    shortId,
    name: rec.name,
    label: printable(rec.name ? `${shortId} (${rec.name})` : shortId),
    status: rec.status,
    heldMs: Math.max(0, opts.now - Date.parse(rec.statusSince)),
    statusText: printable(statusSummary(rec, opts.now)),
    attention,
    waitingFor: attention === "permission"
      ? oneLine(rec.waitingFor ? describeWait(rec.waitingFor) : "permission")
      : attention === "input"
      ? "input"
      : null,
    lastMessage: message ? oneLine(message, VIEW_MESSAGE_CHARS) : null,
    sinceOutputMs: Number.isNaN(lastOutput) ? null : Math.max(0, opts.now - lastOutput),
    tags: rec.tags ?? [],
    clients: rec.clients ?? 0,
    dir: printable(tildify(rec.cwd, opts.home)),
    ageMs: Math.max(0, opts.now - Date.parse(rec.created)),
  };
}

/** What a session needs from the user: a permission (or dialog) answered, input, or nothing. */
export function attentionOf(rec: SessionRecord): "permission" | "input" | null {
  if (rec.status === "waiting_permission") return "permission";
  if (rec.status === "waiting_input") return "input";
  return null;
}

/**
 * The sessions that wait for the user, the one to see first first: those
 * waiting for a permission before those waiting for input, each the longest
 * waiting first (oldest `statusSince`).
 */
export function waitingOrder(records: readonly SessionRecord[]): SessionRecord[] {
  const rank = (r: SessionRecord) => (attentionOf(r) === "permission" ? 0 : 1);
  return records
    .filter((r) => attentionOf(r) !== null)
    .sort((a, b) =>
      rank(a) - rank(b) || Date.parse(a.statusSince) - Date.parse(b.statusSince) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    );
}

/** Shortest prefix length (at least {@linkcode MIN_SHORT_ID}) that keeps every id unique. */
export function shortIdLength(ids: Iterable<string>): number {
  const sorted = [...ids].sort();
  let len = MIN_SHORT_ID;
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    let k = 0;
    while (k < a.length && a[k] === b[k]) k++;
    len = Math.max(len, k + 1);
  }
  return Math.min(len, 26);
}

/** `text` on one line (runs of white space become one space), at most `max` characters, printable. */
export function oneLine(text: string, max = Infinity): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return printable(flat.length > max ? `${flat.slice(0, max - 1)}…` : flat);
}

/** `path` with the home directory replaced by `~`. */
export function tildify(path: string, home: string | undefined): string {
  if (home && home !== "/" && (path === home || path.startsWith(home + "/"))) {
    return "~" + path.slice(home.length);
  }
  return path;
}

/** "permission to use Bash: touch x", "an answer: …", "the folder-trust question". */
export function describeWait(w: WaitingFor | null | undefined): string {
  if (!w) return "the user";
  switch (w.kind) {
    case "permission":
      return `permission${w.tool ? ` to use ${w.tool}` : ""}${w.input ? `: ${w.input}` : ""}`;
    case "question":
      return `an answer${w.message ? `: ${w.message}` : ""}`;
    case "folder_trust":
      return "the folder-trust question";
    default:
      return w.message ?? "the user";
  }
}

/** How a session is named to a person: its name, else the first 8 characters of its id. */
export function sessionLabel(rec: Pick<SessionRecord, "id" | "name">): string {
  return rec.name ?? rec.id.slice(0, 8);
}

/**
 * A record of another machine's session, named as notifications there name
 * it here: `box/api` (the host, then its name or short id).
 */
export function onHost<R extends Pick<SessionRecord, "id" | "name">>(rec: R, host: string): R {
  return { ...rec, name: `${host}/${sessionLabel(rec)}` };
}

/** What a waiting session waits for, as notifications tell it. */
export type WaitKind = "permission" | "input";

/** A notification's text. */
export interface NotificationText {
  /** Names the session and says what kind of wait it is. */
  title: string;
  /** What it waits for (or what Claude said last), then its directory. */
  body: string;
}

/** Longest line a notification's body takes from the session (the JSON has it all). */
export const NOTIFY_LINE_LIMIT = 200;

/**
 * What a notification says about a session waiting for the user:
 * "api: waiting for permission" / "Waiting for permission to use Bash: rm x"
 * / "in /home/me/api", or "api: waiting for input" with Claude's last answer
 * (or its error). Single lines, control characters escaped, each part cut
 * at {@linkcode NOTIFY_LINE_LIMIT}.
 */
export function notificationText(
  rec: Pick<
    SessionRecord,
    "id" | "name" | "cwd" | "waitingFor" | "lastMessage" | "lastError"
  >,
  kind: WaitKind,
): NotificationText {
  const label = sessionLabel(rec);
  let what: string;
  let line: string;
  if (kind === "permission") {
    const w = rec.waitingFor;
    what = w?.kind === "question"
      ? "an answer"
      : w?.kind === "folder_trust"
      ? "folder trust"
      : w?.kind === "dialog"
      ? "you"
      : "permission";
    line = `Waiting for ${describeWait(w)}`;
  } else {
    what = "input";
    line = rec.lastError
      ? `Turn failed: ${rec.lastError}`
      : rec.lastMessage
      ? rec.lastMessage
      : "Claude finished its turn";
  }
  return {
    title: oneLine(`${label}: waiting for ${what}`, NOTIFY_LINE_LIMIT),
    body: `${oneLine(line, NOTIFY_LINE_LIMIT)}\nin ${oneLine(rec.cwd, NOTIFY_LINE_LIMIT)}`,
  };
}

/** Signal numbers the same on Linux and macOS, for exit codes 128+N. */
const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  6: "SIGABRT",
  9: "SIGKILL",
  15: "SIGTERM",
};

/** How a run ended, as a person says it. */
export interface ExitFacts {
  exitCode?: number | null;
  signal?: string | null;
  exitReason?: ExitReason | null;
}

/**
 * "exited (code 0)", "exited (signal SIGSEGV)", "killed (SIGHUP)" — a program
 * stopped with `kill` that exits with 128+N after signal N was killed by it —
 * "stopped with the daemon (SIGHUP)", "lost with the daemon", "failed to start",
 * "out of memory", "hibernated".
 */
export function exitSummary(r: ExitFacts): string {
  const code = r.exitCode ?? null;
  const bySignal = r.signal ?? (code !== null && code > 128 ? SIGNALS[code - 128] : undefined);
  switch (r.exitReason) {
    case "killed":
      // A queued or hibernated session ends without a process to signal.
      return bySignal || code !== null ? `killed (${bySignal ?? `code ${code}`})` : "killed";
    case "oom":
      return "out of memory";
    case "hibernated":
      return "hibernated";
    case "daemon_stopped":
      return `stopped with the daemon (${bySignal ?? `code ${code}`})`;
    case "daemon_lost":
      return "lost with the daemon";
    case "spawn_failed":
      return "failed to start";
    default:
      return r.signal ? `exited (signal ${r.signal})` : `exited (code ${code})`;
  }
}

/**
 * The status as `ls` shows it: the status and how long it has held, how a
 * run ended, a turn that failed, a resumed run.
 */
export function statusSummary(rec: SessionRecord, now: number): string {
  const held = formatDuration(now - Date.parse(rec.statusSince));
  if (rec.status === "exited") return `${exitSummary(rec)} ${held}`;
  let text = `${rec.status} ${held}`;
  if (rec.status === "waiting_input" && rec.lastError) text += " (turn failed)";
  if (rec.runs.at(-1)?.resumed) text += " (resumed)";
  return text;
}

/** "5s", "3m", "2h", "4d" — the largest whole unit. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
