/**
 * `ls [--all] [--json]`: list sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { statusSummary } from "../session_view.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { formatDuration, nameOf, paintStatus, table, tildify, useColor } from "./_format.ts";
import { paths } from "../paths.ts";
import { shortBytes } from "../bytes.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "ls",
  aliases: ["list"],
  usage: "ls [--all] [--json]",
  summary:
    "List sessions: short id, name, status and how long it has held, memory, CPU, age, directory.",
  details: `
Lists every session that has not exited: live ones, and queued and
hibernated ones (they have no process); --all adds exited ones.

The short id is the shortest prefix (at least 8 characters) that tells every
known session apart; any unique prefix works wherever an ID is expected.

MEM is the resident memory of the session's whole process tree (every
process of its terminal session, or carrying its CLAUDE_SESSIONS_ID, or in
its cgroup, and their children); CPU is their CPU use in percent of one core
since the previous measurement, or over a quarter of a second when there was
none in the last minute. Both are "-" for a session without a process.

--json prints the full records as a JSON array, with "usage" ({"rss",
"cpu", "processes", "at"}) on live ones.`,
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
    result = await client.request("ls", { all: boolOpt(args, "all"), usage: true });
  } finally {
    client.close();
  }
  const { sessions, shortLength } = result;
  const held = result.logHeldBack ?? {};
  if (boolOpt(args, "json")) {
    const out = sessions.map((s) => (held[s.id] ? { ...s, logHeldBack: held[s.id] } : s));
    console.log(JSON.stringify(out, null, 2));
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
    let status = statusSummary(s, now);
    if (held[s.id]) status += " (log held back)";
    // A directory or name may hold control characters: shown escaped.
    return [
      s.id.slice(0, shortLength),
      printable(nameOf(s)),
      paintStatus(printable(status), s.status, color),
      s.usage ? shortBytes(s.usage.rss) : "-",
      s.usage?.cpu != null ? `${Math.round(s.usage.cpu)}%` : "-",
      formatDuration(now - Date.parse(s.created)),
      printable(tildify(s.cwd)),
    ];
  });
  console.log(table(["ID", "NAME", "STATUS", "MEM", "CPU", "AGE", "DIR"], rows));
  const heldIds = Object.keys(held);
  if (heldIds.length > 0) {
    console.error(
      `logging is held back for ${heldIds.length} session(s): ${held[heldIds[0]!]}; ` +
        `their output waits (nothing is lost) until the disk has space`,
    );
  }
  return 0;
}
