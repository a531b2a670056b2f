/**
 * The daemon protocol: every message type exchanged on the unix socket, and
 * the framing.
 *
 * Framing is newline-delimited JSON (one UTF-8 JSON object per `\n`-ended
 * line, at most {@linkcode MAX_MESSAGE_BYTES} bytes). On connect the daemon
 * sends a {@linkcode Hello}. The client then sends requests, each with an `id`
 * of its choosing; every request gets exactly one {@linkcode Reply} echoing
 * that `id`. Streaming requests (attach, events, wait) additionally receive
 * {@linkcode Push} messages tagged with the request's id in `sub`. An attach
 * with `binary` (feature `attach.binary`) gets its output, and may send its
 * input, as binary frames between the lines ({@linkcode encodeBinaryFrame},
 * {@linkcode StreamDecoder}).
 *
 * @module
 */

import { PROTOCOL_VERSION } from "./version.ts";

export { PROTOCOL_VERSION };

/** Largest accepted message line, in bytes, not counting the newline. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * Largest `send` text, in UTF-8 bytes. Larger text is refused (`too_large`),
 * not typed: a paste of megabytes is of no use to Claude. (The request, as
 * JSON, must also fit in {@linkcode MAX_MESSAGE_BYTES}.)
 */
export const MAX_SEND_TEXT_BYTES = 512 * 1024;

/** A request id chosen by the client, echoed in the reply. */
export type RequestId = number | string;

// ---------------------------------------------------------------------------
// Sessions

/** Lifecycle status of a session. See the README for what sets each one. */
export type SessionStatus =
  /** Waits for a free slot (`limits.maxLive`); no process yet. */
  | "queued"
  | "starting"
  | "running"
  | "waiting_input"
  | "waiting_permission"
  /** Stopped while idle to free its memory; woken by attach, send, resume or wake. */
  | "hibernated"
  | "exited";

/** Every status, in lifecycle order. */
export const STATUSES: readonly SessionStatus[] = [
  "queued",
  "starting",
  "running",
  "waiting_input",
  "waiting_permission",
  "hibernated",
  "exited",
];

/** Statuses of a session that has a process (or is starting one). */
export const LIVE_STATUSES: readonly SessionStatus[] = [
  "starting",
  "running",
  "waiting_input",
  "waiting_permission",
];

/**
 * Which signal established a status (most trusted first). `screen`: only
 * Claude's folder-trust dialog, which no hook or state file reports.
 */
export type StatusSource = "process" | "hook" | "claude_state" | "screen" | "daemon";

/** Why a session's process is no longer running. */
export type ExitReason =
  /** The program ended on its own. */
  | "exited"
  /** Stopped with `kill`. */
  | "killed"
  /** Stopped because the daemon shut down; eligible for auto-resume. */
  | "daemon_stopped"
  /** The daemon that owned it died; found dead (or orphaned) at the next start. */
  | "daemon_lost"
  /** The program could not be started at all. */
  | "spawn_failed"
  /**
   * Out of memory: the kernel killed it in its cgroup (`memory.events`
   * oom_kill, or v1's `memory.oom_control`), or the daemon stopped it over
   * its memory limit.
   */
  | "oom"
  /** Stopped to hibernate (the status is then `hibernated`, not `exited`). */
  | "hibernated";

/** One entry of a record's status history. */
export interface StatusChange {
  status: SessionStatus;
  /** RFC 3339 UTC time of the change. */
  at: string;
  source: StatusSource;
  /** Hook event or other detail that caused it, when known. */
  detail?: string;
}

/** One run of a session's process (a resumed session has several). */
export interface RunInfo {
  pid: number | null;
  started: string;
  ended: string | null;
  exitCode: number | null;
  signal: string | null;
  exitReason: ExitReason | null;
  /** True when this run continued an earlier conversation. */
  resumed: boolean;
}

/** The persistent record of one session, as stored in `sessions/<id>.json`. */
export interface SessionRecord {
  /** ULID. */
  id: string;
  /** Optional unique (among live sessions) name. */
  name: string | null;
  /** Absolute working directory. */
  cwd: string;
  /** Program run in the PTY. */
  command: string;
  /** Its arguments (config `claude.args`, then the user's `-- ARGS`). */
  args: string[];
  /** Pid of the program (its process group and session id too); null before start. */
  pid: number | null;
  status: SessionStatus;
  /** When the current status began (RFC 3339 UTC). */
  statusSince: string;
  statusSource: StatusSource;
  /** Recent status changes, oldest first (bounded). */
  history: StatusChange[];
  created: string;
  updated: string;
  exitCode: number | null;
  signal: string | null;
  exitReason: ExitReason | null;
  cols: number;
  rows: number;
  /** Process runs of this record, oldest first. */
  runs: RunInfo[];
  /** Path of the PTY slave while running (e.g. `/dev/pts/3`). */
  tty: string | null;
  /** Whether status hooks were injected into the program (Claude Code). */
  hooks: boolean;
  /** Claude's conversation id (`session_id` in its hooks), once known. */
  conversationId: string | null;
  /** Claude's transcript file, once known. */
  transcriptPath: string | null;
  /** The last assistant message Claude reported (Stop hook), truncated. */
  lastMessage: string | null;
  /**
   * The last turn's error (StopFailure hook): Claude's own message, with its
   * kind (e.g. `rate_limit`, `server_error`) and HTTP status when known.
   * Cleared by the next turn that ends normally.
   */
  lastError: string | null;
  /**
   * What the session waits for while `waiting_permission` (or a Claude
   * dialog): the tool and its command, a question, or the folder-trust
   * dialog. Null otherwise.
   */
  waitingFor?: WaitingFor | null;
  /** Claude's background agents still running (they keep the session `running`). */
  backgroundTasks?: number;
  /** The user's labels for grouping sessions (`new --tag`, `tag`). */
  tags?: string[];
  /** When the program last wrote output (RFC 3339); null before it has. */
  lastOutputAt?: string | null;
  /** Clients attached to it now (not persisted). */
  clients?: number;
  /**
   * Its resource limits, fixed when it was created (`new --memory/--cpu`,
   * else config `limits.memory`/`limits.cpu`), with how the current (or
   * last) run enforces them.
   */
  limits?: SessionLimits;
  /** Its processes' memory and CPU, in replies that measured them (`ls` with `usage`); not persisted. */
  usage?: SessionUsage;
}

/** How resource limits are enforced. */
export type Enforcement =
  /** A transient systemd scope per run (`systemd-run --user --scope -p MemoryMax=… -p CPUQuota=…`). */
  | "systemd"
  /** A cgroup v2 per run, in the daemon's own delegated subtree. */
  | "cgroup_v2"
  /** A cgroup v1 per run (memory and cpu hierarchies), under the daemon's own. */
  | "cgroup_v1"
  /** No cgroup: the daemon measures and stops a session over its memory limit (CPU is not bounded). */
  | "daemon";

/** A session's resource limits. */
export interface SessionLimits {
  /** Memory of its whole process tree, in bytes (RAM and swap); null: none. */
  memory: number | null;
  /** CPU, in percent of one core (150: one and a half cores); null: none. */
  cpu: number | null;
  /** How the current (or last) run enforces them. */
  enforcement?: Enforcement;
}

/** What a session's processes use, measured at one moment. */
export interface SessionUsage {
  /** Resident memory of every process of the session, summed (bytes). */
  rss: number;
  /**
   * CPU of every process of the session, in percent of one core, averaged
   * from `cpuSince` to `at`: since the previous measurement, or since the
   * session's process started when there was none (see the README); null
   * when it could not be measured.
   */
  cpu: number | null;
  /** How many processes. */
  processes: number;
  /** When it was measured (RFC 3339): `ls` and `status` may answer with figures a few seconds old. */
  at: string;
  /** Start of the time `cpu` is averaged over (RFC 3339); absent when `cpu` is null (or from an older daemon). */
  cpuSince?: string;
}
/** What a session waiting for the user waits for. */
export interface WaitingFor {
  /**
   * `permission`: a tool awaits approval; `question`: Claude asks something
   * (elicitation); `folder_trust`: Claude's "trust this folder?" dialog;
   * `dialog`: another prompt of Claude's.
   */
  kind: "permission" | "question" | "folder_trust" | "dialog";
  /** The tool awaiting approval (e.g. `Bash`). */
  tool?: string;
  /** What the tool would do, one line: a command, a file path, a URL. */
  input?: string;
  /** Claude's own words about it, when it gave some. */
  message?: string;
}

/** The outcome of `send`: how the daemon knows the program got the text. */
export interface SendResult {
  /** Bytes written to the program. */
  bytes: number;
  /**
   * `written`: bytes handed to the program (keys, `enter: false`, programs
   * without hooks); `submitted`: Claude took the prompt (its
   * UserPromptSubmit hook, or it started working on it); `accepted`: the
   * text left Claude's input line without starting a turn (a command such as
   * `/clear`), or the session ended on it (`/exit`).
   */
  delivery: "written" | "submitted" | "accepted";
  /** Claude was busy: it queued the prompt and took it when its turn ended. */
  queued?: boolean;
  /** Extra Enter presses it took to submit the text (it sat in the input line). */
  retries?: number;
  /** With `wait`: how the turn ended. */
  turn?: TurnResult;
}

/** How a turn that `send` waited for ended. */
export interface TurnResult {
  /**
   * `reply`: Claude answered and waits for input (`error` set when the turn
   * failed); `permission`: it waits for approval or a dialog; `interrupted`:
   * the turn was cut short (Esc) without an answer; `exited`; `timeout`.
   */
  outcome: "reply" | "permission" | "interrupted" | "exited" | "timeout";
  /** Claude's last message of the turn (`reply`). */
  reply?: string | null;
  /** What it waits for (`permission`). */
  waitingFor?: WaitingFor | null;
  /** The turn's error, when it ended in one. */
  error?: string | null;
  session: SessionRecord;
}

/** Pushed during a `send` that has to wait: Claude queued the prompt while busy. */
export interface SendProgressPush {
  type: "progress";
  sub: RequestId;
  state: "queued";
  message: string;
}

/** A lifecycle event, as pushed to `events` subscribers. */
export interface SessionEvent {
  /**
   * What happened. Clients ignore kinds they do not know (more may come):
   * `attached`/`detached` (a client attached or left; `clients` counts
   * them), `activity` (the program wrote output — at most one a second per
   * session; `lastOutputAt`), `notified` (the daemon delivered a
   * notification, or failed to: `notification`), `tags` (tags changed),
   * `updated` (the record changed in a way no other event tells: what it
   * waits for, its last message or error, its background agents).
   */
  event:
    | "created"
    | "started"
    | "status"
    | "exited"
    | "removed"
    | "attached"
    | "detached"
    | "activity"
    | "notified"
    | "tags"
    | "updated";
  /** RFC 3339 UTC time. */
  at: string;
  id: string;
  name: string | null;
  /** Status after the event. */
  status: SessionStatus;
  /** Status before a `status` event. */
  previous: SessionStatus | null;
  source: StatusSource | null;
  detail?: string;
  exitCode?: number | null;
  signal?: string | null;
  exitReason?: ExitReason | null;
  /** `attached`, `detached`: clients attached to the session now. */
  clients?: number;
  /** `activity`: when the program last wrote output (RFC 3339). */
  lastOutputAt?: string;
  /** `notified`: the notification and how its delivery went. */
  notification?: NotificationReport;
  /** `tags`: the session's tags now. */
  tags?: string[];
}

/** A notification the daemon raised for a session, and its delivery. */
export interface NotificationReport {
  /** What the session waits for: `permission` (incl. dialogs) or `input`. */
  kind: "permission" | "input";
  title: string;
  body: string;
  /**
   * Who delivered it: `command` (config notify.command), `notify-send`,
   * `terminal-notifier`, `osascript`; `none` when no notifier was available
   * (or too many were busy), with outcome `failed`.
   */
  notifier: string;
  /** `sent`; `failed` (the notifier exited non-zero or could not start); `timeout` (killed). */
  outcome: "sent" | "failed" | "timeout";
  /** Why it failed. */
  error?: string;
}

// ---------------------------------------------------------------------------
// Requests and their results

/** Parameters and result of each request type. */
export interface Api {
  /** Daemon facts and session counts. */
  status: { params: Record<never, never>; result: DaemonStatus };
  /**
   * Start a session. `notices`: what the user should know up front (e.g.
   * Claude will first ask whether to trust the directory).
   */
  new: { params: NewParams; result: { session: SessionRecord; notices?: string[] } };
  /**
   * List sessions: every session that is not `exited` (also `queued` and
   * `hibernated` ones), or with `all` every one (`tag`: only those with this
   * tag). With `usage`, each live session's record carries `usage` (one
   * measurement for all, or figures a few seconds old). With `brief` (for a
   * listing), each record's `history` holds only its last change and `runs`
   * only its last run: a smaller reply (a daemon older than `brief` sends
   * them whole).
   */
  ls: {
    params: { all?: boolean; tag?: string; usage?: boolean; brief?: boolean };
    /**
     * `shortLength`: prefix length that keeps every known id unique.
     * `logHeldBack`: sessions whose log output waits in memory because writing
     * it fails (e.g. a full disk), with the error.
     */
    result: {
      sessions: SessionRecord[];
      shortLength: number;
      logHeldBack?: Record<string, string>;
    };
  };
  /** One session's record. */
  get: { params: { session: string }; result: { session: SessionRecord } };
  /** Stop a session's whole process group; replies once it has exited. */
  kill: { params: { session: string }; result: { session: SessionRecord } };
  /**
   * Start an exited session again, continuing its conversation: same record,
   * same directory, a new process. `env` is used only when the session's
   * saved environment is missing. A hibernated session is woken. Beyond
   * `limits.maxLive` it is `queued` (or, with `limits.whenFull: "hibernate"`,
   * the idlest session is hibernated to make room).
   */
  resume: {
    params: { session: string; env?: Record<string, string> };
    result: { session: SessionRecord };
  };
  /**
   * Stop an idle Claude session to free its memory: it becomes `hibernated`
   * (its record, name, log and last screen stay) until woken.
   */
  hibernate: { params: { session: string }; result: { session: SessionRecord } };
  /**
   * Wake a hibernated session (`claude --resume` in its directory, with its
   * arguments and environment); replies once it started (or was queued).
   */
  wake: { params: { session: string }; result: { session: SessionRecord } };
  /** Remove an exited session's record and its logs (kept with `keepLogs`). */
  rm: { params: { session: string; keepLogs?: boolean }; result: { id: string } };
  /**
   * Change a session's tags (live or exited): `add` then `remove`. Replies
   * with the record; a `tags` event tells others when they changed.
   */
  tag: {
    params: { session: string; add?: string[]; remove?: string[] };
    result: { session: SessionRecord };
  };
  /**
   * Streams a session's I/O log (needs `files.stream`): its JSON lines as
   * stored, oldest first, archives included, in {@linkcode LinesPush}
   * batches; the last has `end: true` — unless `follow`, which goes on as
   * the log grows until the connection closes. The session is named as
   * elsewhere, or (its record removed with `rm --keep-logs`) by a unique
   * prefix of its id among the log files. Replies at once with its id.
   * This is how `logs`, `replay` and `export` work with `--host`.
   */
  log: {
    params: { session: string; follow?: boolean };
    result: { id: string; record: SessionRecord | null };
  };
  /**
   * Streams Claude's transcript of a session (the JSON lines of the file its
   * hooks reported), like `log` (needs `files.stream`).
   */
  transcript: {
    params: { session: string };
    result: { session: SessionRecord; path: string };
  };
  /** Graceful daemon shutdown; replies before the daemon exits. */
  shutdown: { params: Record<never, never>; result: { pid: number } };
  /** Bytes to type into a session (base64), recorded as input. */
  input: { params: { session: string; data: string }; result: { bytes: number } };
  /** Resize a session's terminal (the program gets SIGWINCH). */
  resize: { params: { session: string; cols: number; rows: number }; result: Record<never, never> };
  /**
   * Attach this connection to a session. Replies at once; pushes a `screen`
   * (redraw), then `output` as the program writes, and `exit` when it ends.
   * While attached, `input` and `resize` on this connection count as this
   * client's (size policy), and are refused for read-only clients.
   */
  attach: {
    params: {
      session: string;
      readOnly?: boolean;
      cols?: number;
      rows?: number;
      /**
       * Output as binary frames ({@linkcode BINARY_OUTPUT}) instead of
       * `output` pushes (needs {@linkcode FEATURES.attachBinary}; the request's
       * id must then be an integer from 0 to 2^32-1: the frames carry it).
       */
      binary?: boolean;
    };
    result: { session: SessionRecord; detachKey: string };
  };
  /** Ask for a fresh `screen` push on this connection's attachment. */
  redraw: { params: { session: string }; result: Record<never, never> };
  /** End this connection's attachment (closing the connection does too). */
  detach: { params: { session: string }; result: Record<never, never> };
  /**
   * Type text and/or named keys into a session. Text is sent as a bracketed
   * paste when the program enabled it; `enter` adds Enter after it.
   *
   * To a Claude session (hooks), text with `enter` is confirmed: the reply
   * comes once Claude took the prompt (`delivery: "submitted"`), after at
   * most two more Enter presses when the text sat in its input line; else the
   * error `not_delivered`. Sent while Claude works, the prompt is queued by
   * Claude: a `progress` push says so, and the reply waits until it is taken.
   * With `wait`, the reply comes once the turn ended, with Claude's answer
   * (`turn`). `timeoutMs` bounds the whole request.
   */
  send: {
    params: {
      session: string;
      text?: string;
      keys?: string[];
      enter?: boolean;
      wait?: boolean;
      timeoutMs?: number;
    };
    result: SendResult;
  };
  /** The session's screen as text (plain, or with SGR colours). */
  peek: {
    params: { session: string; ansi?: boolean; lines?: number };
    result: { text: string; cols: number; rows: number; status: SessionStatus };
  };
  /**
   * Subscribe to lifecycle events (of one session, or all). Replies at once;
   * then pushes {@linkcode EventPush} until the connection closes.
   */
  events: {
    /**
     * `snapshot`: the reply also carries every session (all, or the one
     * asked for) as of `seq`, and every pushed event carries its `seq` and
     * the session's record, so a client that lists and follows misses
     * nothing in between. Without it, the frequent kinds `activity` and
     * `updated` are not sent (older clients never asked for them).
     */
    /**
     * `usage`: also push a {@linkcode UsagePush} with every live session's
     * usage every {@linkcode USAGE_PUSH_MS} ms while subscribed.
     */
    params: { session?: string; snapshot?: boolean; usage?: boolean };
    result: {
      subscribed: true;
      /** With `snapshot`: the number of the last event before it (pushes start at seq + 1). */
      seq?: number;
      /** With `snapshot`: the sessions, as of `seq`. */
      sessions?: SessionRecord[];
      /** With `snapshot`: the id prefix length `ls` uses. */
      shortLength?: number;
      /** With `snapshot`: this daemon's start time; a new one means numbering started over. */
      daemonStarted?: string;
    };
  };
  /**
   * Wait until a session's status is one of `until` (replies at once when it
   * already is), it exits, or `timeoutMs` passes.
   */
  wait: {
    /** `next`: the status must change first (a status already held does not count). */
    params: { session: string; until: SessionStatus[]; timeoutMs?: number; next?: boolean };
    result: { outcome: "reached" | "exited" | "timeout"; session: SessionRecord };
  };
  /**
   * Send a sample notification through the notifier the daemon uses (the
   * config is re-read first when it changed); replies with how it went, also
   * when `notify.enabled` is false (`enabled` says so).
   */
  notifyTest: {
    params: Record<never, never>;
    result: { notification: NotificationReport; enabled: boolean };
  };
}

/** An event pushed to an `events` subscriber. */
export interface EventPush {
  type: "event";
  /** Id of the `events` request. */
  sub: RequestId;
  event: SessionEvent;
  /**
   * With `snapshot`: this event's number. Events are numbered across the
   * daemon's life, one apart, starting after the snapshot's `seq`; a gap
   * means one was missed (reconnect and take a new snapshot). Subscribed to
   * one session, the numbers of other sessions' events are skipped.
   */
  seq?: number;
  /**
   * With `snapshot`: the session's record as the event is sent (all of it,
   * also what no event tells), except with `activity` and `removed`.
   */
  session?: SessionRecord;
}

/** Attached client: redraw (clear the screen, then write `data`: escape sequences, UTF-8 text). */
export interface AttachScreenPush {
  type: "screen";
  sub: RequestId;
  data: string;
  cols: number;
  rows: number;
}

/** Attached client: live program output, base64. */
export interface AttachOutputPush {
  type: "output";
  sub: RequestId;
  data: string;
}

/** Attached client: the session's program exited; the attachment is over. */
export interface AttachExitPush {
  type: "exit";
  sub: RequestId;
  session: SessionRecord;
}

/** Every message pushed to an attached client (tagged with the attach request's id). */
export type AttachPush = AttachScreenPush | AttachOutputPush | AttachExitPush;

/** Every message pushed for a streaming request (tagged with its id in `sub`). */
/** Lines of a file streamed by `log` or `transcript`. */
export interface LinesPush {
  type: "lines";
  sub: RequestId;
  lines: string[];
  /** The last batch: nothing follows. */
  end?: boolean;
  /** Something the reader should know (e.g. an archive that could not be read). */
  notice?: string;
}

export type Push = EventPush | SendProgressPush | AttachPush | LinesPush | UsagePush;

/**
 * The daemon's last line to a client it disconnects (it did not read what it
 * was sent), when it can still be delivered.
 */
export interface DroppedNotice {
  type: "dropped";
  reason: string;
}

/** How often a subscriber that asked for usage gets it. */
export const USAGE_PUSH_MS = 5000;

/** Pushed to an `events` subscriber that asked for `usage`. */
export interface UsagePush {
  type: "usage";
  /** Id of the `events` request. */
  sub: RequestId;
  /** Each live session's usage (of the one session subscribed to, if one), by id. */
  sessions: Record<string, SessionUsage>;
}

/** Every request type name. */
export type RequestType = keyof Api;

/** Parameters of `new`. */
export interface NewParams {
  /** Absolute working directory for the session (`~` or `~/…`: under the daemon's home directory). */
  cwd: string;
  name?: string;
  /** Extra arguments appended after config `claude.args`. */
  args?: string[];
  /** Tags to give it (see {@linkcode SessionRecord.tags}). */
  tags?: string[];
  /** Continue this Claude conversation (`claude --resume ID`). */
  resume?: string;
  /** Start a new conversation with this id (`claude --session-id UUID`). */
  sessionId?: string;
  /** Memory limit in bytes instead of config `limits.memory`; null: none. */
  memory?: number | null;
  /** CPU limit in percent of one core instead of config `limits.cpu`; null: none. */
  cpu?: number | null;
  /**
   * The requesting CLI's environment; the session's environment is built
   * from it. Absent (a client on another machine): the daemon's own.
   */
  env?: Record<string, string>;
  cols?: number;
  rows?: number;
}

/** Result of `status`. */
export interface DaemonStatus {
  pid: number;
  version: string;
  protocol: number;
  /** RFC 3339 time the daemon started. */
  started: string;
  uptimeMs: number;
  socket: string;
  home: string;
  /** True when the listening socket was inherited (systemd socket activation). */
  socketActivated: boolean;
  sessions: { live: number; exited: number; byStatus: Partial<Record<SessionStatus, number>> };
  /** Problems found in `config.jsonc` (unknown keys, bad values). */
  configWarnings: string[];
  /** Sessions whose log output waits in memory because writing it fails (e.g. a full disk). */
  logHeldBack?: { id: string; error: string; bytes: number }[];
  /** Why session records cannot be written at the moment (retried), if they cannot. */
  recordsFailing?: string | null;
  /** How the daemon notifies (absent: a daemon without {@linkcode FEATURES.notify}). */
  notify?: NotifyStatus;
  /** Limits, their enforcement, hibernation, and what the sessions use. */
  resources?: ResourceStatus;
}

/** The daemon's notifier, as `status` (and `doctor`) report it. */
export interface NotifyStatus {
  /** Config `notify.enabled`. */
  enabled: boolean;
  /** Config `notify.on`. */
  on: SessionStatus[];
  /**
   * Who delivers: `command` (config `notify.command`), `notify-send`,
   * `terminal-notifier`, `osascript`; null when none is available.
   */
  notifier: string | null;
  /** The command or program it runs; without a notifier, why there is none. */
  detail: string;
  /** Something the daemon can see will stop delivery (e.g. no D-Bus session bus). */
  problem?: string;
  /** Whether the daemon sees a desktop session (a display, a session bus, or macOS). */
  desktop: boolean;
  /** Config `notify.timeoutSeconds`. */
  timeoutSeconds: number;
}

/** The daemon's resource governance, as `status` (and `doctor`) report it. */
export interface ResourceStatus {
  /** How limits are enforced now. */
  enforcement: Enforcement;
  /** Where (the cgroup), or why not by the kernel. */
  enforcementDetail: string;
  /** Config `limits.memory` and `limits.cpu` (defaults for new sessions). */
  limits: { memory: number | null; cpu: number | null };
  /** Config `limits.maxLive` (0: no bound) and `limits.whenFull`. */
  maxLive: number;
  whenFull: "queue" | "hibernate";
  /** Config `hibernate.afterMinutes` (0: off). */
  hibernateAfterMinutes: number;
  /** Every live session's usage, summed (`cpu` null when not measured). */
  usage: { rss: number; cpu: number | null; processes: number; sessions: number };
  /** The machine's memory (bytes): total, and available for new work. */
  machine: { total: number; available: number };
}

/** A request as sent on the wire. */
export type Request<K extends RequestType = RequestType> = K extends RequestType
  ? { id: RequestId; type: K } & Api[K]["params"]
  : never;

// ---------------------------------------------------------------------------
// Daemon -> client messages

/** First message on every connection. */
export interface Hello {
  type: "hello";
  /**
   * Incompatible changes bump it (clients refuse another); everything else
   * is added as a feature.
   */
  protocol: number;
  version: string;
  pid: number;
  /**
   * What this daemon can do beyond protocol 1's first requests (see
   * {@linkcode FEATURES}). A client requires the ones it uses and says which
   * are missing; absent (an older daemon): none.
   */
  features?: string[];
}

/**
 * Features a daemon advertises in {@linkcode Hello.features}. Added, never
 * removed or changed in meaning; a client that needs one checks for it.
 */
export const FEATURES = {
  /** `send` confirms delivery to Claude, `wait`/`timeoutMs`, `progress` pushes. */
  sendConfirm: "send.confirm",
  /** `wait` with `next`. */
  waitNext: "wait.next",
  /** `events` with `snapshot`, and `seq` on every event push. */
  eventsSnapshot: "events.snapshot",
  /** `attached`, `detached`, `activity` events. */
  eventsActivity: "events.activity",
  /** Daemon-side notifications: `notified` events, `notifyTest`. */
  notify: "notify",
  /** Tags: `new` with `tags`, `tag`, `ls`/`kill` by tag. */
  tags: "tags",
  /** `log` and `transcript`: files streamed through the protocol (for `--host`). */
  filesStream: "files.stream",
  /**
   * Resource governance: `ls`/`events` with `usage`, `new` with `memory`/`cpu`,
   * `hibernate`, `wake`, the `queued` and `hibernated` statuses, `resources`
   * in `status`.
   */
  resources: "resources",
  /**
   * `attach` with `binary`: output comes as binary frames instead of `output`
   * pushes, and input may be sent as binary frames (see {@linkcode encodeBinaryFrame}).
   */
  attachBinary: "attach.binary",
} as const;

/** Machine-readable error codes. */
export type ErrorCode =
  /** The line was not valid JSON, or not a JSON object. */
  | "bad_json"
  /**
   * The line exceeded {@linkcode MAX_MESSAGE_BYTES} (the reply echoes the
   * request's id when the line starts with it, else its id is null), or a
   * `send` text exceeded {@linkcode MAX_SEND_TEXT_BYTES}.
   */
  | "too_large"
  /** The `type` is not a known request. */
  | "unknown_type"
  /** A field is missing or of the wrong type. */
  | "bad_request"
  /** No session matches. */
  | "not_found"
  /** A prefix matches several sessions. */
  | "ambiguous"
  /** Name already taken, or conversation already held by a live session. */
  | "conflict"
  /** The session is not in a state that allows this. */
  | "invalid_state"
  /** config.jsonc is invalid. */
  | "config"
  /** The program could not be started. */
  | "spawn_failed"
  /** The daemon is shutting down. */
  | "shutting_down"
  /** `send`: the program did not take the text (the message says what is left where). */
  | "not_delivered"
  /** The request's `timeoutMs` passed before it could be done. */
  | "timeout"
  /**
   * The connection is not from the daemon's own user (its peer credentials
   * say so): the daemon sends this one reply (id null) and closes it.
   */
  | "forbidden"
  /** Anything unexpected; the daemon keeps running. */
  | "internal";

/** The error half of a reply. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** Successful reply. */
export interface OkReply<T = unknown> {
  type: "reply";
  id: RequestId | null;
  ok: true;
  result: T;
}

/** Failed reply; `id` is null when the request's id could not be read. */
export interface ErrReply {
  type: "reply";
  id: RequestId | null;
  ok: false;
  error: ErrorBody;
}

/** The one reply every request gets. */
export type Reply<T = unknown> = OkReply<T> | ErrReply;

/** Any message from the daemon: one tagged union on `type`. */
export type ServerMessage = Hello | Reply | Push | DroppedNotice;

// ---------------------------------------------------------------------------
// Framing

/**
 * One decoded frame: a complete line, or notice that a line was too long
 * (with its first bytes, at most {@linkcode OVERSIZED_HEAD_BYTES}, as text).
 */
export type Frame =
  | { kind: "line"; text: string }
  | { kind: "oversized"; bytes: number; head: string };

/** How much of a too-long line an oversized frame keeps (enough to read a leading id). */
export const OVERSIZED_HEAD_BYTES = 256;

const NL = 0x0a;

/**
 * Splits a byte stream into newline-delimited lines, refusing (once per line)
 * any line longer than `max` bytes without buffering it.
 */
export class LineDecoder {
  #parts: Uint8Array[] = [];
  #size = 0;
  #skipping = false;
  #decoder = new TextDecoder("utf-8", { fatal: false });
  #max: number;

  /** @param max largest accepted line in bytes (excluding the newline) */
  constructor(max: number = MAX_MESSAGE_BYTES) {
    this.#max = max;
  }

  /** Feeds bytes, returning every frame they complete. */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.#skipping) {
        if (nl !== -1) this.#skipping = false;
      } else if (this.#size + piece.length > this.#max) {
        out.push({ kind: "oversized", bytes: this.#size + piece.length, head: this.#head(piece) });
        this.#parts = [];
        this.#size = 0;
        this.#skipping = nl === -1;
      } else if (nl === -1) {
        // Copy: the caller may reuse its buffer.
        this.#parts.push(piece.slice());
        this.#size += piece.length;
      } else {
        const line = this.#take(piece);
        if (line.trim().length > 0) out.push({ kind: "line", text: line });
      }
      if (nl === -1) break;
      start = nl + 1;
    }
    return out;
  }

  /** Bytes of an unfinished line held so far. */
  get pending(): number {
    return this.#size;
  }

  /** The first bytes of the line held so far plus `more`, decoded. */
  #head(more: Uint8Array): string {
    const head = new Uint8Array(OVERSIZED_HEAD_BYTES);
    let at = 0;
    for (const p of [...this.#parts, more]) {
      if (at === head.length) break;
      const n = Math.min(p.length, head.length - at);
      head.set(p.subarray(0, n), at);
      at += n;
    }
    return new TextDecoder("utf-8", { fatal: false }).decode(head.subarray(0, at));
  }

  #take(last: Uint8Array): string {
    let bytes: Uint8Array;
    if (this.#parts.length === 0) {
      bytes = last;
    } else {
      bytes = new Uint8Array(this.#size + last.length);
      let at = 0;
      for (const p of this.#parts) {
        bytes.set(p, at);
        at += p.length;
      }
      bytes.set(last, at);
    }
    this.#parts = [];
    this.#size = 0;
    return this.#decoder.decode(bytes);
  }
}

/** First byte of a binary frame (a JSON line never starts with it). */
export const BINARY_FRAME_MARK = 0x00;
/** Binary frame kind: program output to an attached client (daemon → client). */
export const BINARY_OUTPUT = 1;
/** Binary frame kind: input typed by an attached client (client → daemon), not answered. */
export const BINARY_INPUT = 2;
/** Bytes of a binary frame's header: mark, kind, sub (u32 BE), length (u32 BE). */
export const BINARY_HEADER_BYTES = 10;

/**
 * A binary frame between JSON lines: `kind` (e.g. {@linkcode BINARY_OUTPUT}),
 * `sub` (the attach request's id), and its raw bytes.
 */
export interface BinaryFrame {
  kind: "binary";
  type: number;
  sub: number;
  data: Uint8Array;
}

/** Encodes one binary frame: header, then `data`. */
export function encodeBinaryFrame(type: number, sub: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(BINARY_HEADER_BYTES + data.length);
  const view = new DataView(out.buffer);
  out[0] = BINARY_FRAME_MARK;
  out[1] = type;
  view.setUint32(2, sub);
  view.setUint32(6, data.length);
  out.set(data, BINARY_HEADER_BYTES);
  return out;
}

/** Whether `id` can name a binary frame's subscription (an integer from 0 to 2^32-1). */
export function isFrameSub(id: unknown): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 0xffff_ffff;
}

/**
 * Splits a byte stream of JSON lines and binary frames (those that start
 * with {@linkcode BINARY_FRAME_MARK} where a line would start). Lines behave
 * as in {@linkcode LineDecoder}; a frame longer than `max` bytes cannot be
 * skipped safely, so it throws (the stream is then unusable).
 */
export class StreamDecoder {
  #lines: LineDecoder;
  #max: number;
  /** Inside a line (its newline not yet seen). */
  #inLine = false;
  #header = new Uint8Array(BINARY_HEADER_BYTES);
  /** Header bytes held; -1 when not in a frame. */
  #headerAt = -1;
  #payload: Uint8Array | null = null;
  #payloadAt = 0;

  /** @param max largest accepted line or frame payload in bytes */
  constructor(max: number = MAX_MESSAGE_BYTES) {
    this.#max = max;
    this.#lines = new LineDecoder(max);
  }

  /**
   * Feeds bytes, returning every line and frame they complete.
   * @throws {Error} on a frame over the size limit
   */
  push(chunk: Uint8Array): (Frame | BinaryFrame)[] {
    const out: (Frame | BinaryFrame)[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#payload) {
        const n = Math.min(chunk.length - at, this.#payload.length - this.#payloadAt);
        this.#payload.set(chunk.subarray(at, at + n), this.#payloadAt);
        this.#payloadAt += n;
        at += n;
        if (this.#payloadAt === this.#payload.length) this.#emit(out, this.#payload);
      } else if (this.#headerAt >= 0) {
        const n = Math.min(chunk.length - at, BINARY_HEADER_BYTES - this.#headerAt);
        this.#header.set(chunk.subarray(at, at + n), this.#headerAt);
        this.#headerAt += n;
        at += n;
        if (this.#headerAt === BINARY_HEADER_BYTES) {
          const len = new DataView(this.#header.buffer).getUint32(6);
          if (len > this.#max) {
            throw new Error(`binary frame too large (${len} bytes; at most ${this.#max})`);
          }
          if (len === 0) this.#emit(out, new Uint8Array(0));
          else if (chunk.length - at >= len) {
            // The whole payload is here: copy it at once (the caller may reuse its buffer).
            const data = chunk.slice(at, at + len);
            at += len;
            this.#emit(out, data);
          } else {
            this.#payload = new Uint8Array(len);
            this.#payloadAt = 0;
          }
        }
      } else if (!this.#inLine && chunk[at] === BINARY_FRAME_MARK) {
        this.#headerAt = 0;
      } else {
        const nl = chunk.indexOf(NL, at);
        const end = nl === -1 ? chunk.length : nl + 1;
        out.push(...this.#lines.push(chunk.subarray(at, end)));
        this.#inLine = nl === -1;
        at = end;
      }
    }
    return out;
  }

  #emit(out: (Frame | BinaryFrame)[], data: Uint8Array): void {
    const view = new DataView(this.#header.buffer);
    out.push({ kind: "binary", type: this.#header[1]!, sub: view.getUint32(2), data });
    this.#headerAt = -1;
    this.#payload = null;
    this.#payloadAt = 0;
  }
}

const encoder = new TextEncoder();

/** Encodes one message as a newline-terminated JSON line. */
export function encodeMessage(message: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(message) + "\n");
}

/** Builds an error reply. */
export function errorReply(id: RequestId | null, code: ErrorCode, message: string): ErrReply {
  return { type: "reply", id, ok: false, error: { code, message } };
}

/**
 * The id of a request from the first bytes of its line, when the line starts
 * with it (`{"id":7,…`), else null. For answering a line too long to parse.
 */
export function leadingId(head: string): RequestId | null {
  const m = /^\s*\{\s*"id"\s*:\s*(-?\d{1,16}|"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])*")\s*[,}]/.exec(
    head,
  );
  if (!m) return null;
  try {
    const id = JSON.parse(m[1]!);
    return typeof id === "number" || typeof id === "string" ? id : null;
  } catch {
    return null;
  }
}

/** Builds a success reply. */
export function okReply<T>(id: RequestId | null, result: T): OkReply<T> {
  return { type: "reply", id, ok: true, result };
}

/** A failure carrying a protocol error code; thrown inside the daemon, sent as a reply. */
export class ProtocolError extends Error {
  /** The machine-readable code sent to the client. */
  readonly code: ErrorCode;
  /** @param code error code for the reply */
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}
