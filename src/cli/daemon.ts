/**
 * `daemon [--foreground]`: run the daemon.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { Client } from "../client/client.ts";
import { NoDaemonError } from "../client/errors.ts";
import { startDaemonBackground } from "../service/background.ts";
import { CliError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "daemon",
  usage: "daemon [--foreground]",
  summary: "Run the daemon that owns the sessions.",
  details: `
Without --foreground it starts in the background (its log goes to
daemon.log in the home) and returns once the socket answers; if a daemon is
already running it says so. With --foreground it runs in this process and
logs to stderr (what a systemd or launchd service runs). SIGTERM or SIGINT
stop it gracefully; SIGHUP reloads config.jsonc. Other commands start the
daemon on their own when none answers.`,
  options: {
    foreground: { type: "boolean", short: "f", description: "run in this process" },
  },
  positionals: { min: 0, max: 0 },
  remote: false,
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const p = paths();
  if (boolOpt(args, "foreground")) {
    const { withMemoryFlags } = await import("../daemon/memory.ts");
    withMemoryFlags((msg) => console.error(`${new Date().toISOString()} ${msg}`));
    const { runDaemon, DaemonStartError, daemonLog } = await import("../daemon/main.ts");
    globalThis.addEventListener("unhandledrejection", (e) => {
      e.preventDefault();
      daemonLog(`unhandled rejection: ${(e.reason as Error)?.stack ?? e.reason}`);
    });
    globalThis.addEventListener("error", (e) => {
      e.preventDefault();
      daemonLog(`uncaught error: ${(e.error as Error)?.stack ?? e.message}`);
    });
    try {
      await runDaemon();
    } catch (e) {
      if (e instanceof DaemonStartError) throw new CliError(e.message);
      throw e;
    }
    return 0;
  }
  try {
    const c = await Client.connect(p.socket);
    c.close();
    console.log(printable(`a daemon is already running (pid ${c.hello.pid}, ${p.socket})`));
    return 0;
  } catch (e) {
    if (!(e instanceof NoDaemonError)) throw e;
  }
  const { pid } = await startDaemonBackground(p);
  console.log(printable(`daemon started (pid ${pid}, ${p.socket})`));
  return 0;
}
