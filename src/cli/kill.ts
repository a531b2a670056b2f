/**
 * `kill ID…`: stop sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { exitSummary } from "../session_view.ts";
import { eachSession } from "./_each.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "kill",
  aliases: ["stop"],
  usage: "kill ID… [--json]",
  summary:
    "Stop sessions: SIGHUP, then SIGTERM, then SIGKILL to every process of each (its cgroup too).",
  details: `
Signals are config kill.graceSeconds apart (default 2), to the program's
process group and terminal session, anything carrying its CLAUDE_SESSIONS_ID,
and everything in its cgroup (where it has one). Returns once each session
has exited; its record stays (see rm). A queued or hibernated session has no
process: it ends at once.`,
  options: {
    json: { type: "boolean", description: "print the final records as a JSON array" },
  },
  positionals: { min: 1, max: Infinity, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  return await eachSession(args, "kill", exitSummary);
}
