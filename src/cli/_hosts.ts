/**
 * Several machines at once (`ls --hosts`, `next --hosts`): this one and the
 * hosts of config `hosts`, each asked over its own connection, in parallel,
 * so that one that is slow or unreachable never holds up the others.
 *
 * @module
 */

import type { Paths } from "../paths.ts";
import type { Client, ConnectOptions } from "../client/client.ts";
import { connectOrStart, connectRemote } from "./_connect.ts";
import { TIMED_OUT, within } from "../async.ts";
import { UsageError } from "./_errors.ts";

/** How long one host may take to answer before it counts as unreachable. */
export const HOST_TIMEOUT_MS = 15_000;

/** The machines `--hosts` names: `all` (this one and every configured host), or a comma list. */
export async function hostsOf(spec: string, p: Paths, command: string): Promise<string[]> {
  // Loaded only here: plain commands do not pay for the config parser.
  const { loadConfig } = await import("../config.ts");
  const configured = Object.keys((await loadConfig(p.config)).config.hosts);
  const names = spec === "all"
    ? ["local", ...configured]
    : spec.split(",").map((h) => h.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError("--hosts needs host names, or all", command);
  for (const n of names) {
    if (n !== "local" && !n.startsWith("ssh://") && !configured.includes(n)) {
      throw new UsageError(
        `unknown host "${n}" (configured: ${configured.join(", ") || "none"}; or ssh://…, local)`,
        command,
      );
    }
  }
  return [...new Set(names)];
}

/** What one host answered, or why it could not. */
export type HostAnswer<T> = { host: string; value: T } | { host: string; error: string };

/**
 * Asks every host in parallel with `ask` (over a connection closed after),
 * each within {@linkcode HOST_TIMEOUT_MS}. Other hosts' daemons are not
 * started: one that runs none counts as unreachable, with the reason.
 */
export async function askHosts<T>(
  hosts: string[],
  p: Paths,
  ask: (client: Client) => Promise<T>,
  opts: ConnectOptions = {},
): Promise<HostAnswer<T>[]> {
  return await Promise.all(hosts.map(async (host): Promise<HostAnswer<T>> => {
    let client: Client | null = null;
    let abandoned = false;
    const attempt = (async () => {
      client = host === "local"
        ? await connectOrStart(p, opts)
        : await connectRemote(p, host, { ...opts, noStart: true });
      if (abandoned) client.close();
      return await ask(client);
    })();
    try {
      const r = await within(attempt, HOST_TIMEOUT_MS);
      if (r === TIMED_OUT) {
        abandoned = true;
        attempt.catch(() => {});
        return { host, error: `no answer within ${HOST_TIMEOUT_MS / 1000}s` };
      }
      return { host, value: r };
    } catch (e) {
      return { host, error: (e as Error).message };
    } finally {
      (client as Client | null)?.close();
    }
  }));
}
