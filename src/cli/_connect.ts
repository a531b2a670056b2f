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
import { checkHomePath, OwnershipError } from "../ownership.ts";
import { CliError } from "./_errors.ts";

/**
 * Connects to the daemon, starting it first when none answers: through the
 * service when one is installed for this home, else in the background.
 * `opts.require`: features the command uses (see `Client.connect`).
 */
export async function connectOrStart(p: Paths, opts: ConnectOptions = {}): Promise<Client> {
  try {
    return await Client.connect(p.socket, opts);
  } catch (e) {
    if (!(e instanceof NoDaemonError)) throw e;
  }
  // No daemon will be started, by the service or by us, in a home that is not ours.
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
