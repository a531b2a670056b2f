/**
 * Every file location claude-sessions uses, resolved in one place.
 *
 * All state lives under one home directory: `$CLAUDE_SESSIONS_HOME`, or
 * `~/.claude-sessions` when that is unset.
 *
 * @module
 */

/** The resolved file layout under a claude-sessions home. */
export interface Paths {
  /** The home directory itself (mode 0700). */
  home: string;
  /** Unix socket the daemon listens on (mode 0600). */
  socket: string;
  /** File holding the daemon's pid. */
  pidFile: string;
  /** Lock file held (flock) by the running daemon: one daemon per home. */
  lockFile: string;
  /** The daemon's own stderr when it was started in the background. */
  daemonLog: string;
  /** Directory of session records, one `<id>.json` each. */
  sessionsDir: string;
  /** Directory of session I/O logs, `<id>.jsonl` plus rotated archives. */
  logsDir: string;
  /** Where hook commands drop status events for the daemon (mode 0700). */
  spoolDir: string;
  /** Optional JSON-with-comments configuration file. */
  config: string;
}

/** The default home when `CLAUDE_SESSIONS_HOME` is not set. */
export function defaultHome(): string {
  const user = Deno.env.get("HOME");
  if (!user) {
    throw new Error("neither CLAUDE_SESSIONS_HOME nor HOME is set");
  }
  return `${user}/.claude-sessions`;
}

/** Resolves the home directory from the environment. */
export function resolveHome(): string {
  const home = Deno.env.get("CLAUDE_SESSIONS_HOME");
  if (home && home.length > 0) return absolute(home);
  return defaultHome();
}

/** Lays out every path under `home` (defaults to {@linkcode resolveHome}). */
export function paths(home: string = resolveHome()): Paths {
  const h = absolute(home);
  return {
    home: h,
    socket: `${h}/daemon.sock`,
    pidFile: `${h}/daemon.pid`,
    lockFile: `${h}/daemon.lock`,
    daemonLog: `${h}/daemon.log`,
    sessionsDir: `${h}/sessions`,
    logsDir: `${h}/logs`,
    spoolDir: `${h}/spool`,
    config: `${h}/config.jsonc`,
  };
}

/** The record file of one session. */
export function recordPath(p: Paths, id: string): string {
  return `${p.sessionsDir}/${id}.json`;
}

/** The per-session directory (hook spool, generated settings, saved environment). */
export function sessionDir(p: Paths, id: string): string {
  return `${p.sessionsDir}/${id}`;
}

/** The current (not yet rotated) I/O log of one session. */
export function logPath(p: Paths, id: string): string {
  return `${p.logsDir}/${id}.jsonl`;
}

function absolute(path: string): string {
  if (path.startsWith("/")) return stripTrailingSlash(path);
  return stripTrailingSlash(`${Deno.cwd()}/${path}`);
}

function stripTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}
