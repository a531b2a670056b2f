/**
 * `dial-stdio [--no-start]`: bridges standard input and output to the
 * daemon's socket. Run over ssh, it is the whole transport of `--host`:
 * `ssh -T HOST claude-sessions dial-stdio`.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { CliError } from "./_errors.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "dial-stdio",
  usage: "dial-stdio [--no-start]",
  summary: "Bridge stdin/stdout to this machine's daemon (what --host runs over ssh).",
  details: `
Copies bytes between standard input/output and the daemon's unix socket,
starting the daemon first when none runs (as any command does), until either
side closes. It prints nothing of its own on standard output; errors go to
standard error. Other machines reach this one with:
  ssh -T HOST claude-sessions dial-stdio
which is what "claude-sessions --host ssh://HOST …" runs (see README,
"Several machines").`,
  options: {
    "no-start": {
      type: "boolean",
      description: "fail when no daemon runs instead of starting one",
    },
  },
  positionals: { min: 0, max: 0 },
  remote: false,
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const p = paths();
  if (!boolOpt(args, "no-start")) (await connectOrStart(p)).close();
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: p.socket });
  } catch (e) {
    throw new CliError(
      `no daemon is answering on ${p.socket} (${(e as Error).message})`,
      1,
      boolOpt(args, "no-start") ? "not started (--no-start)" : undefined,
    );
  }
  // Up: what the far side sends. When it ends (ssh went away), the daemon
  // sees the connection end too.
  void Deno.stdin.readable.pipeTo(conn.writable).catch(() => {});
  // Down: the daemon's messages. Its end (the daemon closed, or stopped) is ours.
  try {
    await conn.readable.pipeTo(Deno.stdout.writable);
  } catch { /* the far side is gone */ }
  try {
    conn.close();
  } catch { /* closed */ }
  return 0;
}
