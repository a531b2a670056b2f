/**
 * `kill ID… | kill --tag TAG`: stop sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { strOpt } from "./_args.ts";
import { exitSummary } from "../session_view.ts";
import { eachSession } from "./_each.ts";
import { UsageError } from "./_errors.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "kill",
  aliases: ["stop"],
  usage: "kill ID… [--json] | kill --tag TAG [--json]",
  summary:
    "Stop sessions: SIGHUP, then SIGTERM, then SIGKILL to every process of each (its cgroup too).",
  details: `
Signals are config kill.graceSeconds apart (default 2), to the program's
process group and terminal session, anything carrying its CLAUDE_SESSIONS_ID,
and everything in its cgroup (where it has one). Returns once each session
has exited; its record stays (see rm). A queued or hibernated session has no
process: it ends at once. --tag stops every live session with that tag (none
is not an error: it says so on stderr).`,
  options: {
    tag: {
      type: "string",
      short: "t",
      arg: "TAG",
      description: "stop every live session with this tag",
    },
    json: { type: "boolean", description: "print the final records as a JSON array" },
  },
  positionals: { min: 0, max: Infinity, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const tag = strOpt(args, "tag");
  if (tag === undefined && args.positionals.length === 0) {
    throw new UsageError(`missing ID or --tag (usage: claude-sessions ${spec.usage})`, "kill");
  }
  return await eachSession(args, "kill", exitSummary, tag === undefined ? {} : { tag });
}
