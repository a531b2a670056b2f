/**
 * `hibernate ID…`: stop idle Claude sessions to free their memory, keeping
 * everything needed to wake them.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import type { SessionRecord } from "../protocol.ts";

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

/**
 * Sends `type` for each ID at once, printing `ID (name): what` for each, or
 * the records with --json; exit 1 when any failed.
 */
export async function eachSession(
  args: Parsed,
  type: "hibernate" | "wake",
  what: (s: SessionRecord) => string,
): Promise<number> {
  const client = await connectOrStart(paths());
  const done: SessionRecord[] = [];
  let failed = 0;
  try {
    const results = await Promise.allSettled(
      args.positionals.map((ref) => client.request(type, { session: ref })),
    );
    results.forEach((r, i) => {
      if (r.status === "fulfilled") {
        const s = r.value.session;
        done.push(s);
        if (!boolOpt(args, "json")) {
          console.log(printable(`${s.id}${s.name ? ` (${s.name})` : ""}: ${what(s)}`));
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
