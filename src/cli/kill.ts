/**
 * `kill ID…`: stop sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { exitSummary } from "../session_view.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import type { SessionRecord } from "../protocol.ts";

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
  const client = await connectOrStart(paths());
  const done: SessionRecord[] = [];
  let failed = 0;
  try {
    const results = await Promise.allSettled(
      args.positionals.map((ref) => client.request("kill", { session: ref })),
    );
    results.forEach((r, i) => {
      if (r.status === "fulfilled") {
        done.push(r.value.session);
        if (!boolOpt(args, "json")) {
          const s = r.value.session;
          console.log(printable(`${s.id}${s.name ? ` (${s.name})` : ""}: ${exitSummary(s)}`));
        }
      } else {
        failed++;
        console.error(
          printable(`claude-sessions: ${args.positionals[i]}: ${(r.reason as Error).message}`),
        );
      }
    });
  } finally {
    client.close();
  }
  if (boolOpt(args, "json")) console.log(JSON.stringify(done, null, 2));
  return failed ? 1 : 0;
}
