/**
 * `wake ID…`: bring hibernated sessions back.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { eachSession } from "./_each.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "wake",
  usage: "wake ID… [--json]",
  summary: "Wake hibernated sessions: claude --resume their conversation, where they were.",
  details: `
Starts "claude --resume <conversation>" in the session's directory with its
original arguments and environment; the record, name and log continue.
Returns once the program started ("starting"; wait ID --until waiting_input
waits for Claude's prompt). Beyond config limits.maxLive the session is
queued instead. A session whose conversation cannot be continued (Claude's
transcript of it is gone) stays hibernated, and says why. attach, send and
resume wake a hibernated session by themselves.`,
  options: {
    json: { type: "boolean", description: "print the records as a JSON array" },
  },
  positionals: { min: 1, max: Infinity, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  return await eachSession(args, "wake", (s) => s.status === "queued" ? "queued" : "woken");
}
