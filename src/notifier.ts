/**
 * What a notification is made of and who delivers it: the payload a
 * notifier gets (JSON on stdin, `CLAUDE_SESSIONS_NOTIFY_*` variables), and
 * the notifier in effect — config `notify.command`, else the desktop's
 * (`notify-send` on Linux; `terminal-notifier` or `osascript` on macOS) and
 * what it needs (the D-Bus session bus). The daemon runs them
 * (`daemon/notifications.ts`); `doctor` reports the choice.
 *
 * @module
 */

import type { NotifyStatus, SessionRecord, SessionStatus } from "./protocol.ts";
import type { NotifyConfig } from "./config.ts";
import { describeWait, notificationText, type WaitKind } from "./session_view.ts";

/** Finds an executable on a PATH string, or null. */
export type FindProgram = (name: string, path: string) => Promise<string | null>;

/** What a notifier gets on stdin (one JSON object). */
export interface NotifyPayload {
  /** `permission` (incl. questions and dialogs) or `input`. */
  kind: WaitKind;
  title: string;
  body: string;
  /** When the notification was raised (RFC 3339). */
  at: string;
  /** True for `notify test`'s sample. */
  test: boolean;
  session: {
    id: string;
    name: string | null;
    cwd: string;
    status: SessionStatus;
    statusSince: string;
    waitingFor: SessionRecord["waitingFor"] | null;
    lastMessage: string | null;
    lastError: string | null;
    tags: string[];
  };
}

/** The notification about `rec` waiting (kind `kind`). */
export function payloadFor(rec: SessionRecord, kind: WaitKind, test = false): NotifyPayload {
  const text = notificationText(rec, kind);
  return {
    kind,
    title: text.title,
    body: text.body,
    at: new Date().toISOString(),
    test,
    session: {
      id: rec.id,
      name: rec.name,
      cwd: rec.cwd,
      status: rec.status,
      statusSince: rec.statusSince,
      waitingFor: rec.waitingFor ?? null,
      lastMessage: rec.lastMessage ?? null,
      lastError: rec.lastError ?? null,
      tags: rec.tags ?? [],
    },
  };
}

/** The environment variables a notifier gets besides the daemon's own. */
export function payloadEnv(p: NotifyPayload): Record<string, string> {
  const s = p.session;
  const vars: Record<string, string> = {
    CLAUDE_SESSIONS_NOTIFY_TITLE: p.title,
    CLAUDE_SESSIONS_NOTIFY_BODY: p.body,
    CLAUDE_SESSIONS_NOTIFY_KIND: p.kind,
    CLAUDE_SESSIONS_NOTIFY_ID: s.id,
    CLAUDE_SESSIONS_NOTIFY_NAME: s.name ?? "",
    CLAUDE_SESSIONS_NOTIFY_STATUS: s.status,
    CLAUDE_SESSIONS_NOTIFY_DIR: s.cwd,
    CLAUDE_SESSIONS_NOTIFY_WAITING_FOR: p.kind === "permission"
      ? describeWait(s.waitingFor)
      : "the next prompt",
    CLAUDE_SESSIONS_NOTIFY_TEST: p.test ? "1" : "0",
  };
  // No NUL can be in an environment variable.
  for (const k of Object.keys(vars)) vars[k] = vars[k]!.replaceAll("\0", "");
  return vars;
}

/** A notifier that can be run. */
export interface NotifierChoice {
  /** `command`, `notify-send`, `terminal-notifier` or `osascript`. */
  name: string;
  /** The program (or the configured command). */
  detail: string;
  /** The command line that delivers `p`. */
  argv(p: NotifyPayload): string[];
  /** Variables it needs besides the daemon's (the session bus for notify-send). */
  env: Record<string, string>;
}

/** What {@linkcode findNotifier} found. */
export interface NotifierFound {
  /** Null: none available (`detail` says why). */
  choice: NotifierChoice | null;
  detail: string;
  /** Something that will stop delivery. */
  problem?: string;
  /** Whether a desktop session is visible (a display, a session bus, or macOS). */
  desktop: boolean;
}

/** Escapes the markup notify-send's body is read as. */
function markupEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Where the D-Bus session bus is, or why it is not known. */
async function sessionBus(
  env: Record<string, string>,
  uid: number | null,
): Promise<{ address: string | null; fill: Record<string, string>; why: string }> {
  if (env.DBUS_SESSION_BUS_ADDRESS) {
    return { address: env.DBUS_SESSION_BUS_ADDRESS, fill: {}, why: "" };
  }
  const runtime = env.XDG_RUNTIME_DIR || (uid === null ? null : `/run/user/${uid}`);
  const path = runtime ? `${runtime}/bus` : null;
  if (path) {
    try {
      await Deno.stat(path);
      const address = `unix:path=${path}`;
      return { address, fill: { DBUS_SESSION_BUS_ADDRESS: address }, why: "" };
    } catch { /* no bus there: said below */ }
  }
  return {
    address: null,
    fill: {},
    why: `no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset${
      path ? ` and there is no ${path}` : ""
    })`,
  };
}

/**
 * The notifier the daemon uses with `cfg` in environment `env`: the
 * configured command, else the desktop's (found on `env.PATH` by `find`).
 */
export async function findNotifier(
  cfg: NotifyConfig,
  env: Record<string, string>,
  find: FindProgram,
  os: string = Deno.build.os,
  uid: number | null = Deno.uid(),
): Promise<NotifierFound> {
  const path = env.PATH ?? "";
  const command = cfg.command;
  const linuxBus = os === "darwin" ? null : await sessionBus(env, uid);
  const desktop = os === "darwin" || !!env.DISPLAY || !!env.WAYLAND_DISPLAY ||
    !!linuxBus?.address;
  if (command !== null) {
    return {
      choice: {
        name: "command",
        detail: command,
        argv: () => ["/bin/sh", "-c", command],
        env: linuxBus?.fill ?? {},
      },
      detail: `notify.command: ${command}`,
      desktop,
    };
  }
  if (os === "darwin") {
    const tn = await find("terminal-notifier", path);
    if (tn) {
      return {
        choice: {
          name: "terminal-notifier",
          detail: tn,
          argv: (p) => [
            tn,
            "-title",
            p.title,
            // A leading "-" would read as an option.
            "-message",
            p.body.startsWith("-") ? ` ${p.body}` : p.body,
            "-group",
            `claude-sessions-${p.session.id}`,
            ...(p.kind === "permission" ? ["-sound", "default"] : []),
          ],
          env: {},
        },
        detail: tn,
        desktop,
      };
    }
    const osa = await find("osascript", path);
    if (osa) {
      return {
        choice: {
          name: "osascript",
          detail: osa,
          // The text goes in as arguments, never into the script.
          argv: (p) => [
            osa,
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e",
            "end run",
            p.title,
            p.body,
          ],
          env: {},
        },
        detail: osa,
        desktop,
      };
    }
    return {
      choice: null,
      detail: `neither terminal-notifier nor osascript is on the daemon's PATH (${path})`,
      desktop,
    };
  }
  const ns = await find("notify-send", path);
  if (!ns) {
    return {
      choice: null,
      detail: `notify-send is not on the daemon's PATH (${path})`,
      desktop,
    };
  }
  const found: NotifierFound = {
    choice: {
      name: "notify-send",
      detail: ns,
      argv: (p) => [
        ns,
        "--app-name=claude-sessions",
        `--urgency=${p.kind === "permission" ? "critical" : "normal"}`,
        "--",
        p.title,
        markupEscape(p.body),
      ],
      env: linuxBus?.fill ?? {},
    },
    detail: ns,
    desktop,
  };
  if (!linuxBus?.address) found.problem = linuxBus?.why ?? "no D-Bus session bus";
  return found;
}

/** What `status` and `doctor` report: the settings and the notifier found for them. */
export function notifyStatus(cfg: NotifyConfig, found: NotifierFound): NotifyStatus {
  const st: NotifyStatus = {
    enabled: cfg.enabled,
    on: [...cfg.on],
    notifier: found.choice?.name ?? null,
    detail: found.detail,
    desktop: found.desktop,
    timeoutSeconds: cfg.timeoutSeconds,
  };
  if (found.problem) st.problem = found.problem;
  return st;
}

/**
 * A session waiting for permission in `cwd`: what `notify test` sends
 * (named `notify-test`, id all zeros); tests build records from it.
 */
export function sampleRecord(cwd: string): SessionRecord {
  const at = new Date().toISOString();
  return {
    id: "00000000000000000000000000",
    name: "notify-test",
    cwd,
    command: "claude",
    args: [],
    pid: null,
    status: "waiting_permission",
    statusSince: at,
    statusSource: "daemon",
    history: [],
    created: at,
    updated: at,
    exitCode: null,
    signal: null,
    exitReason: null,
    cols: 80,
    rows: 24,
    runs: [],
    tty: null,
    hooks: true,
    conversationId: null,
    transcriptPath: null,
    lastMessage: null,
    lastError: null,
    waitingFor: {
      kind: "permission",
      tool: "Bash",
      input: "echo this is a test notification from claude-sessions",
    },
  };
}
