/**
 * Reaching a daemon on another machine: over OpenSSH, as Docker's `ssh://`
 * contexts do. `ssh HOST claude-sessions dial-stdio` bridges the remote
 * daemon's unix socket to the ssh session's stdin/stdout; nothing new
 * listens on the network. Connections are reused through ssh's own
 * multiplexing (`ControlMaster=auto`, `ControlPersist`), with the control
 * sockets in a private directory of the local home, so that once warm a
 * remote command costs one round trip.
 *
 * @module
 */

import type { HostConfig } from "../config.ts";
import { streamTransport, type Transport } from "./client.ts";
import { NoDaemonError } from "./errors.ts";

/** A machine to reach. */
export interface Host {
  /** What the user calls it: a name in config `hosts`, or the URL given. */
  name: string;
  user?: string;
  hostname: string;
  port?: number;
  /** The program on that host (shell words); unset: found on its PATH, else `~/.local/bin/`. */
  command?: string;
  /** `CLAUDE_SESSIONS_HOME` there. */
  home?: string;
  /** More `ssh` arguments. */
  ssh: string[];
}

/** How long a warm connection is kept after its last use (seconds). */
export const CONTROL_PERSIST_SECONDS = 600;

/**
 * The host `spec` names: `ssh://[user@]host[:port]`, or a name in `hosts`.
 * @throws {Error} with a one-line message for anything else
 */
export function resolveHost(spec: string, hosts: Record<string, HostConfig>): Host {
  const configured = hosts[spec];
  if (configured) {
    const h = parseSshUrl(configured.url, spec);
    if (configured.command) h.command = configured.command;
    if (configured.home) h.home = configured.home;
    h.ssh = configured.ssh ?? [];
    return h;
  }
  if (spec.startsWith("ssh://")) return parseSshUrl(spec, spec);
  const names = Object.keys(hosts);
  throw new Error(
    `unknown host "${spec}": give ssh://[user@]host[:port], or a name in config hosts` +
      (names.length ? ` (${names.join(", ")})` : " (none configured)"),
  );
}

/** Parses `ssh://[user@]host[:port]`. */
export function parseSshUrl(url: string, name: string): Host {
  const m = /^ssh:\/\/(?:([^@/\s:]+)@)?(\[[0-9a-fA-F:.]+\]|[^@/\s:]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!m) throw new Error(`invalid host "${url}": expected ssh://[user@]host[:port]`);
  const h: Host = { name, hostname: m[2]!.replace(/^\[|\]$/g, ""), ssh: [] };
  if (m[1]) h.user = m[1];
  if (m[3]) {
    const port = Number(m[3]);
    if (port < 1 || port > 65535) throw new Error(`invalid port in "${url}"`);
    h.port = port;
  }
  return h;
}

/** Quotes a word for a POSIX shell. */
function q(word: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command run on the host: `dial-stdio` of its claude-sessions (with
 * its home), through `sh` whatever the user's login shell is.
 */
export function remoteCommand(h: Host, args: string[]): string {
  const env = h.home ? `env CLAUDE_SESSIONS_HOME=${q(h.home)} ` : "";
  const rest = args.map(q).join(" ");
  const script = h.command
    ? `exec ${env}${h.command} ${rest}`
    : `c=$(command -v claude-sessions 2>/dev/null) || c="$HOME/.local/bin/claude-sessions"; ` +
      `exec ${env}"$c" ${rest}`;
  return `sh -c ${q(script)}`;
}

/** The `ssh` argument list that runs `args` of claude-sessions on `h`. */
export function sshArgs(h: Host, controlDir: string, args: string[]): string[] {
  return [
    "-T",
    "-o",
    "BatchMode=yes",
    "-o",
    "ControlMaster=auto",
    "-o",
    `ControlPath=${controlDir}/%C`,
    "-o",
    `ControlPersist=${CONTROL_PERSIST_SECONDS}`,
    "-o",
    "ConnectTimeout=10",
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "ServerAliveCountMax=3",
    ...(h.port ? ["-p", String(h.port)] : []),
    ...h.ssh,
    h.user ? `${h.user}@${h.hostname}` : h.hostname,
    "--",
    remoteCommand(h, args),
  ];
}

/** The label of a host in messages: `ssh://user@host:port` (or its configured name). */
export function hostLabel(h: Host): string {
  return h.name.startsWith("ssh://")
    ? h.name
    : `${h.name} (ssh://${h.user ? `${h.user}@` : ""}${h.hostname}${h.port ? `:${h.port}` : ""})`;
}

/**
 * Runs `ssh … dial-stdio` and returns it as a transport. `noStart`: the
 * remote side does not start a daemon when none runs (for listings that
 * must not). `controlDir` holds the multiplexing sockets (created 0700).
 */
export async function sshTransport(
  h: Host,
  controlDir: string,
  opts: { noStart?: boolean; ssh?: string } = {},
): Promise<Transport> {
  await Deno.mkdir(controlDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(controlDir, 0o700);
  const label = hostLabel(h);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(opts.ssh ?? "ssh", {
      args: sshArgs(h, controlDir, ["dial-stdio", ...(opts.noStart ? ["--no-start"] : [])]),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new NoDaemonError(label, `cannot run ssh: ${(e as Error).message}`);
  }
  // What ssh (or the remote side) says; only the tail is kept. ssh's
  // multiplexing master may hold stderr open after the session: never wait
  // for its end.
  let said = "";
  const dec = new TextDecoder();
  void (async () => {
    try {
      for await (const chunk of child.stderr) said = (said + dec.decode(chunk)).slice(-4096);
    } catch { /* gone */ }
  })();
  let closed = false;
  return streamTransport(child.stdout, child.stdin, {
    label,
    close: () => {
      if (closed) return;
      closed = true;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      child.status.catch(() => {});
    },
    failure: async () => {
      const st = await child.status;
      // Give the last of stderr a moment to arrive.
      await new Promise((r) => setTimeout(r, 50));
      const text = said.trim().split("\n").filter((l) => !/^Warning: Permanently added/.test(l))
        .slice(-2).join("; ");
      if (st.code === 127) {
        return `claude-sessions was not found on the host (${text || "exit 127"}); ` +
          "set hosts.NAME.command to its path there";
      }
      return text || `ssh exited with code ${st.code}`;
    },
  });
}
