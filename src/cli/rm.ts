/**
 * `rm ID… [--force] [--keep-logs]`: remove records (and logs) of exited sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "rm",
  usage: "rm ID… [--force] [--keep-logs]",
  summary: "Remove the records and I/O logs of exited sessions.",
  details: `
Queued and hibernated sessions (no process) are removed as they are. A live
session is refused unless --force, which stops it first. With
--keep-logs the session's log files stay (claude-sessions logs FULL-ID still
reads them) until log.retentionDays after they were last written.`,
  options: {
    force: { type: "boolean", short: "f", description: "stop live sessions first" },
    "keep-logs": { type: "boolean", description: "keep the sessions' log files" },
  },
  positionals: { min: 1, max: Infinity, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const client = await connectOrStart(paths());
  let failed = 0;
  try {
    for (const ref of args.positionals) {
      try {
        if (boolOpt(args, "force")) {
          const { session } = await client.request("get", { session: ref });
          if (session.status !== "exited") await client.request("kill", { session: session.id });
        }
        const params: { session: string; keepLogs?: boolean } = { session: ref };
        if (boolOpt(args, "keep-logs")) params.keepLogs = true;
        const { id } = await client.request("rm", params);
        console.log(`removed ${id}`);
      } catch (e) {
        failed++;
        console.error(printable(`claude-sessions: ${ref}: ${(e as Error).message}`));
      }
    }
  } finally {
    client.close();
  }
  return failed ? 1 : 0;
}
