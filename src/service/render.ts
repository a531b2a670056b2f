/**
 * The service files, rendered from the templates in `service/` (embedded in
 * the program as text) for one install: the absolute command that runs the
 * CLI, the claude-sessions home, and the PATH to carry.
 *
 * @module
 */

import socketTemplate from "../../service/claude-sessions.socket" with { type: "text" };
import serviceTemplate from "../../service/claude-sessions.service" with { type: "text" };
import plistTemplate from "../../service/com.claude-sessions.daemon.plist" with { type: "text" };

/** Name of the systemd socket unit. */
export const SOCKET_UNIT = "claude-sessions.socket";
/** Name of the systemd service unit. */
export const SERVICE_UNIT = "claude-sessions.service";
/** Label of the launchd agent (and the plist's base name). */
export const LAUNCHD_LABEL = "com.claude-sessions.daemon";

/** What a service file is rendered for. */
export interface RenderInput {
  /** argv prefix that runs the CLI (absolute program first), e.g. from `selfCommand()`. */
  command: string[];
  /** The claude-sessions home (absolute). */
  home: string;
  /** The daemon's socket (absolute; in the home). */
  socket: string;
  /** PATH the daemon runs with. */
  path: string;
}

/** One file to write. */
export interface ServiceFile {
  /** Base name, e.g. `claude-sessions.socket`. */
  name: string;
  text: string;
}

/** The two systemd user units. */
export function renderSystemdUnits(input: RenderInput): ServiceFile[] {
  const socket = replaceLine(
    socketTemplate,
    /^ListenStream=.*$/m,
    `ListenStream=${escapeSpecifiers(input.socket)}`,
  );
  const execStart = [...input.command, "daemon", "--foreground"].map(execWord).join(" ");
  const service = replaceLine(
    serviceTemplate,
    /^ExecStart=.*$/m,
    [
      `ExecStart=${execStart}`,
      `Environment=${envValue("CLAUDE_SESSIONS_HOME", input.home)}`,
      `Environment=${envValue("PATH", input.path)}`,
    ].join("\n"),
  );
  return [
    { name: SOCKET_UNIT, text: socket },
    { name: SERVICE_UNIT, text: service },
  ];
}

/** The launchd agent's property list. */
export function renderLaunchdPlist(input: RenderInput): ServiceFile {
  let text = replaceLine(
    plistTemplate,
    /^([ \t]*)<string>__CLAUDE_SESSIONS__<\/string>$/m,
    (indent) => input.command.map((w) => `${indent}<string>${xmlEscape(w)}</string>`).join("\n"),
  );
  text = text.replaceAll("<string>__HOME__", () => `<string>${xmlEscape(input.home)}`);
  text = text.replaceAll("<string>__PATH__", () => `<string>${xmlEscape(input.path)}`);
  return { name: `${LAUNCHD_LABEL}.plist`, text };
}

function replaceLine(
  template: string,
  re: RegExp,
  replacement: string | ((indent: string) => string),
): string {
  if (!re.test(template)) throw new Error(`service template lacks ${re}`);
  return template.replace(
    re,
    (_m, indent: string | undefined) =>
      typeof replacement === "string" ? replacement : replacement(indent ?? ""),
  );
}

/** Escapes `%` (systemd specifiers) in a unit file value. */
export function escapeSpecifiers(value: string): string {
  return value.replaceAll("%", "%%");
}

/**
 * One word of a systemd `ExecStart=` command line: `%` and `$` escaped,
 * quoted when it holds whitespace, quotes, backslashes or `;`.
 */
export function execWord(word: string): string {
  const w = escapeSpecifiers(word).replaceAll("$", "$$$$");
  if (w !== "" && !/[\s"'\\;]/.test(w)) return w;
  return `"${w.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** A quoted `KEY=value` assignment for systemd `Environment=`. */
export function envValue(key: string, value: string): string {
  const v = escapeSpecifiers(`${key}=${value}`).replaceAll("\\", "\\\\").replaceAll('"', '\\"');
  return `"${v}"`;
}

/** Escapes text for XML character data. */
export function xmlEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&apos;");
}

/** Reverses {@linkcode xmlEscape}. */
export function xmlUnescape(text: string): string {
  return text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'").replaceAll("&amp;", "&");
}
