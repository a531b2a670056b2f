/**
 * `hibernate ID…`: stop idle Claude sessions to free their memory, keeping
 * everything needed to wake them.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { eachSession } from "./_each.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "hibernate",
  usage: "hibernate ID… [--json]",
  summary:
    "Stop idle Claude sessions to free their memory; attach, send, resume or wake bring them back.",
  details: `
The program is stopped gracefully (as by kill) and the session becomes
"hibernated": its record, name, log and last screen stay, and it uses no
memory. attach (which shows the last screen at once), send (which waits
until Claude is ready), resume and wake start "claude --resume <conversation>"
in its directory with its original arguments and environment.

Only a Claude session that is waiting_input, with a known conversation id
and nothing in its input line, can be hibernated: never one that is running
or waiting for a permission, nor another program. Attached clients are told
and let go. Config hibernate.afterMinutes does this by itself for sessions
idle that long with no client attached.`,
  options: {
    json: { type: "boolean", description: "print the records as a JSON array" },
  },
  positionals: { min: 1, max: Infinity, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  return await eachSession(args, "hibernate", (s) => `${s.status}`);
}
