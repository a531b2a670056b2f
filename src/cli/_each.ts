/**
 * Commands that act on each of several sessions at once (`kill`,
 * `hibernate`, `wake`): one request per ID, in parallel.
 *
 * @module
 */

import { boolOpt, type Parsed } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import type { SessionRecord } from "../protocol.ts";

/**
 * Sends `type` for each ID at once, printing `ID (name): what` for each, or
 * the records with --json; exit 1 when any failed.
 */
export async function eachSession(
  args: Parsed,
  type: "kill" | "hibernate" | "wake",
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
