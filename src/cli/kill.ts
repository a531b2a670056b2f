/**
 * `kill ID… [--tag TAG] [--json]`: stop sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { exitSummary } from "../session_view.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { UsageError } from "./_errors.ts";
import { DaemonError } from "../client/errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import { FEATURES, type SessionRecord } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "kill",
  aliases: ["stop"],
  usage: "kill ID… [--json] | kill --tag TAG [--json]",
  summary:
    "Stop sessions: SIGHUP, then SIGTERM, then SIGKILL to the whole process group and session.",
  details: `
Signals are config kill.graceSeconds apart (default 2). Returns once each
session has exited; its record stays (see rm). --tag stops every live
session with that tag (none is not an error: it says so on stderr).`,
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
  const json = boolOpt(args, "json");
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
      refs.map((ref) => client.request("kill", { session: ref })),
    );
    results.forEach((r, i) => {
      if (r.status === "fulfilled") {
        done.push(r.value.session);
        if (!json) {
          const s = r.value.session;
          console.log(printable(`${s.id}${s.name ? ` (${s.name})` : ""}: ${exitSummary(s)}`));
        }
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
