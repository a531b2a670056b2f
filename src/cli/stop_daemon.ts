/**
 * `stop-daemon`: graceful shutdown.
 *
 * @module
 */

import { boolOpt, type CommandSpec, type Parsed } from "./_args.ts";
import type { Client } from "../client/client.ts";
import { connectExisting } from "./_connect.ts";
import { NoDaemonError } from "../client/errors.ts";
import { paths } from "../paths.ts";
import { VERSION } from "../version.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "stop-daemon",
  usage: "stop-daemon [--if-outdated]",
  summary: "Stop the daemon: its sessions are stopped cleanly and their records written.",
  details: `
Returns once the daemon has finished. Sessions stopped this way are marked
as stopped by the daemon. With no daemon running it says so and exits 0.
Under systemd, prefer: systemctl --user stop claude-sessions.

With --if-outdated it stops the daemon only when it is of another version
than this program and has no live sessions, so that the next command starts
this version (install.sh does this on an upgrade); otherwise it says why it
left the daemon running, and exits 0.`,
  options: {
    "if-outdated": {
      type: "boolean",
      description: "only stop a daemon of another version that has no live sessions",
    },
  },
  positionals: { min: 0, max: 0 },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const p = paths();
  if (boolOpt(args, "if-outdated")) {
    const { refreshIdleDaemon } = await import("../service/service.ts");
    const r = await refreshIdleDaemon(p.socket, (line) => console.log(line));
    if (r.outcome === "none") {
      // E.g. one that speaks another protocol: say what was found.
      const note = r.daemon.note ?? "";
      console.log(
        note.startsWith("no daemon is answering") || !note ? "no daemon was running" : note,
      );
    }
    if (r.outcome === "current") {
      console.log(`the daemon (pid ${r.daemon.pid}) runs this version (${VERSION}); left running`);
    }
    return 0;
  }
  let client: Client;
  try {
    client = await connectExisting(p);
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
