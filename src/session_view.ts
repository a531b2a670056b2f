/**
 * What a person reads about a session, derived from its record alone, so
 * that every place that shows it (`ls`, `send`, `watch`, notifications) says
 * the same thing.
 *
 * @module
 */

import type { ExitReason, SessionRecord, WaitingFor } from "./protocol.ts";
import { printable } from "./printable.ts";

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
    title: oneLine(`${label}: waiting for ${what}`),
    body: `${oneLine(line)}\nin ${oneLine(rec.cwd)}`,
  };
}

/** `text` on one line (whitespace runs become one space), escaped, cut with "…". */
function oneLine(text: string): string {
  const flat = printable(text.replace(/\s+/g, " ").trim());
  return flat.length > NOTIFY_LINE_LIMIT ? `${flat.slice(0, NOTIFY_LINE_LIMIT - 1)}…` : flat;
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
 * "stopped with the daemon (SIGHUP)", "lost with the daemon", "failed to start".
 */
export function exitSummary(r: ExitFacts): string {
  const code = r.exitCode ?? null;
  const bySignal = r.signal ?? (code !== null && code > 128 ? SIGNALS[code - 128] : undefined);
  switch (r.exitReason) {
    case "killed":
      return `killed (${bySignal ?? `code ${code}`})`;
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
