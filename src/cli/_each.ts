/**
 * Commands that act on each of several sessions at once (`kill`,
 * `hibernate`, `wake`): one request per ID, in parallel — and, with a tag,
 * on every live session that has it.
 *
 * @module
 */

import { boolOpt, type Parsed } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { DaemonError } from "../client/errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import { FEATURES, type SessionRecord } from "../protocol.ts";

/**
 * Sends `type` for each ID (and each live session with `opts.tag`) at once,
 * printing `ID (name): what` for each, or the records with --json; exit 1
 * when any failed. A tagged session that ended on its own since it was
 * listed is not a failure.
 */
export async function eachSession(
  args: Parsed,
  type: "kill" | "hibernate" | "wake",
  what: (s: SessionRecord) => string,
  opts: { tag?: string } = {},
): Promise<number> {
  const json = boolOpt(args, "json");
  const tag = opts.tag;
  const client = await connectOrStart(
    paths(),
    tag !== undefined ? { require: [FEATURES.tags] } : {},
  );
  const done: SessionRecord[] = [];
  let failed = 0;
  try {
    const refs = [...args.positionals];
    const tagged = new Set<string>();
    if (tag !== undefined) {
      const { sessions } = await client.request("ls", { tag });
      if (sessions.length === 0) {
        console.error(printable(`claude-sessions: no live session has the tag "${tag}"`));
      }
      for (const s of sessions) {
        if (refs.includes(s.id)) continue;
        refs.push(s.id);
        tagged.add(s.id);
      }
    }
    const results = await Promise.allSettled(
      refs.map((ref) => client.request(type, { session: ref })),
    );
    results.forEach((r, i) => {
      if (r.status === "fulfilled") {
        const s = r.value.session;
        done.push(s);
        if (!json) console.log(printable(`${s.id}${s.name ? ` (${s.name})` : ""}: ${what(s)}`));
      } else if (
        tagged.has(refs[i]!) && r.reason instanceof DaemonError && r.reason.code === "invalid_state"
      ) {
        // It ended on its own since it was listed.
      } else {
        failed++;
        console.error(printable(`claude-sessions: ${refs[i]}: ${(r.reason as Error).message}`));
      }
    });
  } finally {
    client.close();
  }
  if (json) console.log(JSON.stringify(done, null, 2));
  return failed ? 1 : 0;
}
