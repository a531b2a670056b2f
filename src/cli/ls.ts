/**
 * `ls [--all] [--json]`: list sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { statusSummary } from "../session_view.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { formatDuration, nameOf, paintStatus, table, tildify, useColor } from "./_format.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "ls",
  aliases: ["list"],
  usage: "ls [--all] [--json]",
  summary: "List live sessions: short id, name, status and how long it has held, age, directory.",
  details: `
The short id is the shortest prefix (at least 8 characters) that tells every
known session apart; any unique prefix works wherever an ID is expected.
--json prints the full records as a JSON array.`,
  options: {
    all: { type: "boolean", short: "a", description: "include exited sessions" },
    json: { type: "boolean", description: "print records as a JSON array" },
  },
  positionals: { min: 0, max: 0 },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const client = await connectOrStart(paths());
  let result;
  try {
    result = await client.request("ls", { all: boolOpt(args, "all") });
  } finally {
    client.close();
  }
  const { sessions, shortLength } = result;
  if (boolOpt(args, "json")) {
    console.log(JSON.stringify(sessions, null, 2));
    return 0;
  }
  if (sessions.length === 0) {
    if (Deno.stdout.isTerminal()) {
      console.log(
        boolOpt(args, "all") ? "no sessions" : "no live sessions (--all shows exited ones)",
      );
    }
    return 0;
  }
  const color = useColor();
  const now = Date.now();
  const rows = sessions.map((s) => {
    const status = statusSummary(s, now);
    // A directory or name may hold control characters: shown escaped.
    return [
      s.id.slice(0, shortLength),
      printable(nameOf(s)),
      paintStatus(printable(status), s.status, color),
      formatDuration(now - Date.parse(s.created)),
      printable(tildify(s.cwd)),
    ];
  });
  console.log(table(["ID", "NAME", "STATUS", "AGE", "DIR"], rows));
  return 0;
}
