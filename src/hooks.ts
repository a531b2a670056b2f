/**
 * Claude Code hooks that report a session's status to the daemon.
 *
 * Each session's `claude` gets `--settings <file>` registering one command
 * hook per event. The command is a short POSIX shell line: it stamps the
 * time (nanoseconds), and writes the hook's stdin (Claude's JSON payload) to
 * a new file in the home's `spool/` directory — write to a temp name, then
 * rename, so the daemon never sees half a file. It never talks to the daemon,
 * prints nothing, and always exits 0, so it cannot slow or block Claude
 * whatever state the daemon is in; the daemon watches the directory (inotify
 * / FSEvents) and applies events in time order, also those spooled while it
 * was stopped.
 *
 * A spool file is named `<nanoseconds>-<hook pid>-<session id>.hook`.
 *
 * @module
 */

import type { SessionStatus, WaitingFor } from "./protocol.ts";

/** The hook events registered, and what each means for the status. */
export const HOOK_EVENTS = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PermissionRequest",
  "PostToolUse",
  "PostToolUseFailure",
  "Notification",
  "Stop",
  "StopFailure",
  "SubagentStart",
  "SubagentStop",
  "SessionEnd",
] as const;

/** One of {@linkcode HOOK_EVENTS}. */
export type HookEventName = typeof HOOK_EVENTS[number];

/** Seconds Claude gives a hook before killing it (ours takes milliseconds). */
const HOOK_TIMEOUT_SECONDS = 10;

/** Quotes a string for POSIX sh. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The shell command run for every hook of session `id`. */
export function hookCommand(spoolDir: string, id: string): string {
  if (!/^[0-9A-Z]+$/.test(id)) throw new Error(`invalid session id for a hook: ${id}`);
  return [
    // Nothing may reach Claude: not even the shell's own error messages.
    "exec 2>/dev/null",
    "umask 077",
    `d=${shellQuote(spoolDir)}`,
    "t=$(date +%s%N)",
    // BSD date has no %N: take the time from perl (part of macOS).
    `case "$t" in *N|'') t=$(perl -MTime::HiRes=time -e 'printf("%.0f",time*1e9)');; esac`,
    `f="$d/$t-$$-${id}"`,
    `cat >"$f.tmp" && mv -f "$f.tmp" "$f.hook"`,
    "exit 0",
  ].join("; ");
}

/** Claude Code settings registering the hook command for every event. */
export function hookSettings(command: string): { hooks: Record<string, unknown[]> } {
  const hooks: Record<string, unknown[]> = {};
  for (const event of HOOK_EVENTS) {
    hooks[event] = [{ hooks: [{ type: "command", command, timeout: HOOK_TIMEOUT_SECONDS }] }];
  }
  return { hooks };
}

/**
 * Merges our hook settings into the user's own `--settings` (Claude reads
 * only the last `--settings`): every key of theirs is kept; per event, their
 * hook entries come first, then ours.
 */
export function mergeSettings(
  theirs: Record<string, unknown>,
  ours: { hooks: Record<string, unknown[]> },
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...theirs };
  const theirHooks = (typeof theirs.hooks === "object" && theirs.hooks !== null &&
      !Array.isArray(theirs.hooks))
    ? theirs.hooks as Record<string, unknown>
    : {};
  const hooks: Record<string, unknown> = { ...theirHooks };
  for (const [event, entries] of Object.entries(ours.hooks)) {
    const existing = Array.isArray(theirHooks[event]) ? theirHooks[event] as unknown[] : [];
    hooks[event] = [...existing, ...entries];
  }
  merged.hooks = hooks;
  return merged;
}

/** A spool file's name, decoded. */
export interface SpoolName {
  /** When the hook started, in milliseconds since the epoch (fractional). */
  at: number;
  /** Exact nanosecond stamp, for ordering. */
  ns: bigint;
  pid: number;
  /** The claude-sessions session id. */
  session: string;
}

const SPOOL_RE = /^(\d{10,20})-(\d+)-([0-9A-Z]{26})\.hook$/;

/** Decodes a spool file name, or null for anything else (temp files included). */
export function parseSpoolName(name: string): SpoolName | null {
  const m = SPOOL_RE.exec(name);
  if (!m) return null;
  const ns = BigInt(m[1]!);
  return {
    ns,
    at: Number(ns / 1000n) / 1000,
    pid: Number(m[2]),
    session: m[3]!,
  };
}

/** Orders spool names by time, then hook pid. */
export function compareSpool(a: SpoolName, b: SpoolName): number {
  if (a.ns !== b.ns) return a.ns < b.ns ? -1 : 1;
  return a.pid - b.pid;
}

/** What a hook payload says about the session. */
export interface HookMeaning {
  /** The event name (`hook_event_name`). */
  event: string;
  /** The status it implies, or null when it implies none. */
  status: SessionStatus | null;
  /** Claude's conversation id. */
  conversationId?: string;
  transcriptPath?: string;
  /** The last assistant message (Stop). */
  lastMessage?: string;
  /** The turn's error (StopFailure); null: the turn ended without one (Stop). */
  lastError?: string | null;
  /** The prompt Claude took (UserPromptSubmit). */
  prompt?: string;
  /** What Claude waits for (PermissionRequest, Notification). */
  waitingFor?: WaitingFor;
  /** Background agents still running when a turn ended (Stop's `background_tasks`). */
  backgroundTasks?: number;
  /** The turn the event belongs to (`prompt_id`). */
  promptId?: string;
  /** Why the session ended (SessionEnd). */
  endReason?: string;
  /** Notification type, tool name or similar, for the status history. */
  detail?: string;
}

/**
 * The status a hook payload implies (verified on claude 2.1.x):
 * SessionStart → waiting_input; UserPromptSubmit, PreToolUse, PostToolUse,
 * PostToolUseFailure → running; PermissionRequest → waiting_permission;
 * Notification permission_prompt / elicitation_dialog → waiting_permission,
 * idle_prompt → waiting_input; Stop, StopFailure → waiting_input; SessionEnd
 * implies none (the process exit does).
 */
export function interpretHook(payload: Record<string, unknown>): HookMeaning {
  const event = typeof payload.hook_event_name === "string" ? payload.hook_event_name : "";
  const str = (k: string) => (typeof payload[k] === "string" ? payload[k] as string : undefined);
  const out: HookMeaning = { event, status: null };
  const conv = str("session_id");
  if (conv) out.conversationId = conv;
  const transcript = str("transcript_path");
  if (transcript) out.transcriptPath = transcript;
  if (str("prompt_id")) out.promptId = str("prompt_id");
  switch (event) {
    case "SessionStart":
      out.status = "waiting_input";
      if (str("source")) out.detail = str("source");
      break;
    case "PreToolUse":
    case "PostToolUse":
    case "PostToolUseFailure":
      out.status = "running";
      if (str("tool_name")) out.detail = str("tool_name");
      break;
    case "PermissionRequest": {
      out.status = "waiting_permission";
      const tool = str("tool_name");
      if (tool) out.detail = tool;
      out.waitingFor = { kind: "permission" };
      if (tool) out.waitingFor.tool = tool;
      const input = summarizeToolInput(payload.tool_input);
      if (input) out.waitingFor.input = input;
      break;
    }
    case "Notification": {
      const type = str("notification_type");
      if (type) out.detail = type;
      if (type === "permission_prompt" || type === "elicitation_dialog") {
        out.status = "waiting_permission";
        out.waitingFor = { kind: type === "permission_prompt" ? "permission" : "question" };
        const message = str("message");
        if (message) out.waitingFor.message = oneLine(message, 300);
      } else if (type === "idle_prompt") out.status = "waiting_input";
      break;
    }
    case "UserPromptSubmit":
      out.status = "running";
      if (str("prompt") !== undefined) out.prompt = str("prompt");
      break;
    case "Stop": {
      // A turn that ends with background agents still running is not the
      // end of the work: Claude starts a turn of its own when they finish.
      const bg = runningTasks(payload.background_tasks);
      out.backgroundTasks = bg;
      out.status = bg > 0 ? "running" : "waiting_input";
      if (bg > 0) out.detail = `${bg} background agent${bg === 1 ? "" : "s"}`;
      out.lastError = null;
      if (str("last_assistant_message") !== undefined) {
        out.lastMessage = str("last_assistant_message");
      }
      break;
    }
    case "StopFailure":
      out.status = "waiting_input";
      out.lastError = describeHookError(payload);
      break;
    case "SubagentStart":
      out.status = "running";
      if (str("agent_type")) out.detail = str("agent_type");
      break;
    case "SubagentStop":
      if (str("agent_type") !== undefined) out.detail = str("agent_type") || "agent";
      break;
    case "SessionEnd":
      if (str("reason")) out.endReason = str("reason");
      break;
  }
  return out;
}

/** Text on one line, at most `max` characters. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * What a tool would do, as one line: the command of `Bash`, the path of a
 * file tool, the URL of a fetch, the pattern of a search; else the input as
 * JSON.
 */
export function summarizeToolInput(input: unknown): string | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const o = input as Record<string, unknown>;
  for (const k of ["command", "file_path", "notebook_path", "path", "url", "pattern", "query"]) {
    if (typeof o[k] === "string" && o[k] !== "") return oneLine(o[k] as string, 300);
  }
  const json = JSON.stringify(o);
  return json === "{}" ? undefined : oneLine(json, 300);
}

/** How many entries of a Stop's `background_tasks` are still running. */
function runningTasks(tasks: unknown): number {
  if (!Array.isArray(tasks)) return 0;
  return tasks.filter((t) =>
    typeof t === "object" && t !== null && (t as Record<string, unknown>).status === "running"
  ).length;
}

/**
 * A StopFailure's error as one line: Claude's own words about it (its
 * `last_assistant_message`, e.g. "API Error: 529 Overloaded…"), then the kind
 * Claude files it under (`error`: `server_error`, `rate_limit`,
 * `authentication_failed`, …).
 */
export function describeHookError(payload: Record<string, unknown>): string {
  const err = payload.error;
  let kind = typeof err === "string" ? err : "";
  let message = typeof payload.last_assistant_message === "string"
    ? payload.last_assistant_message
    : "";
  if (typeof err === "object" && err !== null) {
    const e = err as Record<string, unknown>;
    if (typeof e.type === "string") kind = e.type;
    if (!message && typeof e.message === "string") message = e.message;
  }
  message = oneLine(message, 300);
  if (!message) return kind || "the turn failed";
  return kind && !message.includes(kind) ? `${message} (${kind})` : message;
}

/** What Claude's state file says. */
export interface ClaudeStateMeaning {
  status: SessionStatus;
  at: number;
  conversationId?: string;
  detail?: string;
  waitingFor?: WaitingFor;
}

/**
 * The status Claude's own per-process state file (`sessions/<pid>.json` in
 * its config dir) implies: busy → running, waiting → waiting_permission,
 * idle → waiting_input.
 */
export function interpretClaudeState(
  state: Record<string, unknown>,
): ClaudeStateMeaning | null {
  const s = state.status;
  const status: SessionStatus | null = s === "busy"
    ? "running"
    : s === "waiting"
    ? "waiting_permission"
    : s === "idle"
    ? "waiting_input"
    : null;
  if (!status) return null;
  const at = typeof state.statusUpdatedAt === "number"
    ? state.statusUpdatedAt
    : typeof state.updatedAt === "number"
    ? state.updatedAt
    : Date.now();
  const out: ClaudeStateMeaning = { status, at };
  if (typeof state.sessionId === "string") out.conversationId = state.sessionId;
  if (typeof state.waitingFor === "string") out.detail = state.waitingFor;
  if (status === "waiting_permission") {
    // "permission prompt", or "dialog open" (/model, /help, …: no tool asks).
    const what = typeof state.waitingFor === "string" ? state.waitingFor : "";
    out.waitingFor = what === "permission prompt"
      ? { kind: "permission" }
      : { kind: "dialog", ...(what ? { message: what } : {}) };
  }
  return out;
}

/** Whether hooks apply to a command: config `claude.hooks`, or "auto" (its name starts with "claude"). */
export function wantsHooks(setting: boolean | "auto", command: string): boolean {
  if (setting !== "auto") return setting;
  const base = command.split("/").pop() ?? command;
  return /^claude/i.test(base);
}
