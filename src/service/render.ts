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
  /**
   * More variables the daemon needs, e.g. the `DENO_DIR` holding the modules
   * of a daemon run from a checkout.
   */
  env?: Record<string, string>;
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
      ...Object.entries(input.env ?? {}).map(([k, v]) => `Environment=${envValue(k, v)}`),
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
  const extra = Object.entries(input.env ?? {});
  if (extra.length > 0) {
    // After the PATH entry, in the same dict and indentation.
    const re = /^([ \t]*)<key>PATH<\/key>\n[ \t]*<string>.*<\/string>$/m;
    const m = re.exec(text);
    if (!m) throw new Error("service template lacks the PATH entry");
    const indent = m[1]!;
    const more = extra.map(([k, v]) =>
      `\n${indent}<key>${xmlEscape(k)}</key>\n${indent}<string>${xmlEscape(v)}</string>`
    ).join("");
    text = text.slice(0, m.index + m[0].length) + more + text.slice(m.index + m[0].length);
  }
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
