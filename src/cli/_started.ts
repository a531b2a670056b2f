/**
 * What `new` and `resume` do once a session has started: attach to it
 * (`--attach`), or print its id (its record with `--json`).
 *
 * @module
 */

import { boolOpt, type Parsed } from "./_args.ts";
import type { Client } from "../client/client.ts";
import type { SessionRecord } from "../protocol.ts";

/** Reports a started session as the options ask; returns the exit code. */
export async function reportStarted(
  client: Client,
  session: SessionRecord,
  args: Parsed,
): Promise<number> {
  if (boolOpt(args, "attach")) {
    const { attachTo } = await import("./attach.ts");
    return await attachTo(client, session.id, false);
  }
  if (boolOpt(args, "json")) console.log(JSON.stringify(session, null, 2));
  else console.log(session.id);
  return 0;
}
