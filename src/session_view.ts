/**
 * What a person reads about a session, derived from its record alone, so
 * that every place that shows it (`ls`, `send`, `watch`, notifications) says
 * the same thing.
 *
 * @module
 */

import type { ExitReason, SessionRecord, WaitingFor } from "./protocol.ts";

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
