/**
 * `resume ID`: start an exited session again, continuing its conversation.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { connectOrStart, remoteTarget } from "./_connect.ts";
import { reportStarted } from "./_started.ts";
import { noteQueued } from "./new.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "resume",
  usage: "resume ID [--attach] [--json]",
  summary: "Start an exited session again in its directory, continuing its Claude conversation.",
  details: `
The record stays the same (same id, name, logs); a new process runs
"claude --resume <conversation id>" with the session's original arguments and
environment. Its history keeps every run. Refused while the session runs, when
its conversation id is unknown, or when another live session has that
conversation open. A hibernated session is woken (as by wake). Beyond config
limits.maxLive it is queued and starts when a slot frees.`,
  options: {
    attach: { type: "boolean", short: "a", description: "attach to it right away" },
    json: { type: "boolean", description: "print the session record as JSON" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const client = await connectOrStart(paths());
  try {
    // This environment stands in for a lost saved one; not from another machine.
    const { session } = await client.request(
      "resume",
      remoteTarget() === null
        ? { session: args.positionals[0]!, env: Deno.env.toObject() }
        : { session: args.positionals[0]! },
    );
    noteQueued(session);
    return await reportStarted(client, session, args);
  } finally {
    client.close();
  }
}
