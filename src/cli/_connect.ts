/**
 * How CLI commands reach the daemon: connect, and start the daemon first
 * when none answers (through the service when one is installed for this
 * home, else in the background). Sits above both the client library and the
 * service code.
 *
 * @module
 */

import type { Paths } from "../paths.ts";
import { Client, type ConnectOptions } from "../client/client.ts";
import { NoDaemonError } from "../client/errors.ts";
import { CliError } from "./_errors.ts";

/** The machine the command acts on (`--host`): null for this one. */
let target: string | null = null;

/**
 * Sets the machine commands act on: `--host`, else `$CLAUDE_SESSIONS_HOST`
 * (`local` or empty: this one).
 */
export function setTarget(host: string | undefined): void {
  target = host && host !== "local" ? host : null;
}

/** The `--host` in effect (null: this machine). */
export function remoteTarget(): string | null {
  return target;
}

/**
 * Connects to the daemon of `host` over ssh (see `src/client/ssh.ts`).
 * `noStart`: do not start a daemon there when none runs.
 */
export async function connectRemote(
  p: Paths,
  host: string,
  opts: ConnectOptions & { noStart?: boolean } = {},
): Promise<Client> {
  const { loadConfig, ConfigError } = await import("../config.ts");
  const { resolveHost, sshTransport } = await import("../client/ssh.ts");
  let hosts;
  try {
    hosts = (await loadConfig(p.config)).config.hosts;
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
  let h;
  try {
    h = resolveHost(host, hosts);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const transport = await sshTransport(h, `${p.home}/ssh`, { noStart: opts.noStart ?? false });
  try {
    return await Client.over(transport, opts);
  } catch (e) {
    if (e instanceof NoDaemonError) {
      // The host said no daemon runs (--no-start), or it could not be reached.
      if (/no daemon is answering/.test(e.why)) throw new NoDaemonError(transport.label, e.why);
      throw new CliError(`cannot reach ${transport.label}: ${e.why}`, 1);
    }
    throw e;
  }
}

/**
 * Connects to a daemon that runs, never starting one (`status`,
 * `stop-daemon`): here, or on the `--host`.
 * @throws {NoDaemonError} when none runs
 */
export async function connectExisting(p: Paths, opts: ConnectOptions = {}): Promise<Client> {
  if (target !== null) return await connectRemote(p, target, { ...opts, noStart: true });
  return await Client.connect(p.socket, opts);
}

/**
 * Connects to the daemon, starting it first when none answers: through the
 * service when one is installed for this home, else in the background.
 * `opts.require`: features the command uses (see `Client.connect`). With
 * `--host`, connects to that machine's daemon over ssh instead (starting it
 * there as any command does).
 */
export async function connectOrStart(p: Paths, opts: ConnectOptions = {}): Promise<Client> {
  if (target !== null) return await connectRemote(p, target, opts);
  try {
    return await Client.connect(p.socket, opts);
  } catch (e) {
    if (!(e instanceof NoDaemonError)) throw e;
  }
  // No daemon will be started, by the service or by us, in a home that is not ours.
  // (Loaded only here: a command that finds its daemon running never needs it.)
  const { checkHomePath, OwnershipError } = await import("../ownership.ts");
  try {
    await checkHomePath(p.home);
  } catch (e) {
    if (e instanceof OwnershipError) throw new CliError(`cannot start a daemon: ${e.message}`);
    throw e;
  }
  try {
    const { Service } = await import("../service/service.ts");
    const service = await Service.forThisMachine();
    if (service.paths.home === p.home && await service.startIfInstalled()) {
      return await Client.connect(p.socket, opts);
    }
  } catch (e) {
    // Not the service's to start (or it could not): started directly below.
    if (Deno.env.get("CLAUDE_SESSIONS_DEBUG")) {
      console.error(`claude-sessions: the service did not start the daemon: ${e}`);
    }
  }
  const { startDaemonBackground } = await import("../service/background.ts");
  try {
    await startDaemonBackground(p);
  } catch (e) {
    // A concurrent CLI may have started one meanwhile.
    try {
      return await Client.connect(p.socket, opts);
    } catch {
      throw e;
    }
  }
  return await Client.connect(p.socket, opts);
}
