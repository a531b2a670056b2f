/**
 * `rm ID… [--force]`: remove records of exited sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "rm",
  usage: "rm ID… [--force]",
  summary: "Remove the records of exited sessions.",
  details: `
A live session is refused unless --force, which stops it first.`,
  options: {
    force: { type: "boolean", short: "f", description: "stop live sessions first" },
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
        const { id } = await client.request("rm", { session: ref });
        console.log(`removed ${id}`);
      } catch (e) {
        failed++;
        console.error(`claude-sessions: ${ref}: ${(e as Error).message}`);
      }
    }
  } finally {
    client.close();
  }
  return failed ? 1 : 0;
}
