/**
 * `tag ID [+TAG|-TAG]… [--json]`: add and remove a session's tags.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { FEATURES } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "tag",
  usage: "tag ID [+TAG|-TAG]… [--json]",
  summary: "Add (+TAG) and remove (-TAG) a session's tags; print the tags it has then.",
  details: `
Tags group sessions: "ls --tag TAG" lists a group, "kill --tag TAG" stops
it; "new --tag TAG" tags a session from the start. A tag follows the rules of names: 1-64 letters, digits, ".", "_" or
"-", starting with a letter or digit. A session has at most 32. Exited
sessions keep theirs. A bare TAG adds it too. Prints the tags it has then,
space-separated on one line (empty when none); --json prints the record.
Here -h is a tag to remove ("h"): for help, use --help.`,
  options: {
    json: { type: "boolean", description: "print the session record as JSON" },
  },
  positionals: { min: 1, max: Infinity, names: "ID" },
  signedWords: true,
};

/** Splits `+a -b c` into tags to add and to remove. */
export function parseTagEdits(words: string[]): { add: string[]; remove: string[] } {
  const add: string[] = [];
  const remove: string[] = [];
  for (const w of words) {
    const tag = w.startsWith("+") || w.startsWith("-") ? w.slice(1) : w;
    if (tag === "") throw new UsageError(`"${w}": a tag is missing after the sign`, "tag");
    (w.startsWith("-") ? remove : add).push(tag);
  }
  return { add, remove };
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const [ref, ...words] = args.positionals;
  const { add, remove } = parseTagEdits(words);
  const client = await connectOrStart(paths(), { require: [FEATURES.tags] });
  let session;
  try {
    ({ session } = await client.request("tag", { session: ref!, add, remove }));
  } finally {
    client.close();
  }
  if (boolOpt(args, "json")) console.log(JSON.stringify(session, null, 2));
  else {
    const tags = session.tags ?? [];
    console.log(tags.length === 0 && Deno.stdout.isTerminal() ? "(no tags)" : tags.join(" "));
  }
  return 0;
}
