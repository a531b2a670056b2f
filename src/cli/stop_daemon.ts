/**
 * `stop-daemon`: graceful shutdown.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { Client, NoDaemonError } from "./_client.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "stop-daemon",
  usage: "stop-daemon",
  summary: "Stop the daemon: its sessions are stopped cleanly and their records written.",
  details: `
Returns once the daemon has finished. Sessions stopped this way are marked
as stopped by the daemon. With no daemon running it says so and exits 0.
Under systemd, prefer: systemctl --user stop claude-sessions.`,
  options: {},
  positionals: { min: 0, max: 0 },
};

/** Runs the command. */
export async function run(_args: Parsed): Promise<number> {
  const p = paths();
  let client: Client;
  try {
    client = await Client.connect(p.socket);
  } catch (e) {
    if (e instanceof NoDaemonError) {
      console.log("no daemon was running");
      return 0;
    }
    throw e;
  }
  const closed = new Promise<void>((r) => client.onClose(() => r()));
  const { pid } = await client.request("shutdown", {});
  // The daemon closes its clients as the last step of shutting down.
  await closed;
  console.log(`daemon stopped (pid ${pid})`);
  return 0;
}
