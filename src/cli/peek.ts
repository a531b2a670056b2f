/**
 * `peek ID [--ansi] [--lines N]`: print a session's screen.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "peek",
  usage: "peek ID [--ansi] [--lines N] [--json]",
  summary: "Print a session's current screen and exit.",
  details: `
Plain text by default (trailing blank lines dropped); --ansi keeps colours
and attributes. --lines N prints the last N lines including scrollback
instead of the visible screen. After a session exits, its last screen (and
up to 1000 lines before it) can still be peeked until the daemon restarts:
the screen the program last showed. A full-screen program that left its
alternate screen on the way out (Claude Code does) shows that screen as it
left it, then what it printed after (unless that was a screenful or more).`,
  options: {
    ansi: { type: "boolean", description: "keep colours (SGR escape sequences)" },
    lines: {
      type: "string",
      short: "n",
      arg: "N",
      description: "last N lines, scrollback included",
    },
    json: { type: "boolean", description: "print {text, cols, rows, status} as JSON" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const linesOpt = strOpt(args, "lines");
  let lines: number | undefined;
  if (linesOpt !== undefined) {
    lines = Number(linesOpt);
    if (!Number.isInteger(lines) || lines < 1) {
      throw new UsageError(`invalid --lines "${linesOpt}": expected a positive integer`, "peek");
    }
  }
  const client = await connectOrStart(paths());
  try {
    const params: { session: string; ansi: boolean; lines?: number } = {
      session: args.positionals[0]!,
      ansi: boolOpt(args, "ansi"),
    };
    if (lines !== undefined) params.lines = lines;
    const r = await client.request("peek", params);
    if (boolOpt(args, "json")) console.log(JSON.stringify(r));
    else if (r.text.length > 0) console.log(r.text);
  } finally {
    client.close();
  }
  return 0;
}
