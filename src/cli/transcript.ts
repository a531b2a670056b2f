/**
 * `transcript ID [--json]`: print a session's conversation from Claude's
 * own transcript.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart, remoteTarget } from "./_connect.ts";
import { FEATURES } from "../protocol.ts";
import { CliError } from "./_errors.ts";
import { Output, OutputClosed } from "./_session_log.ts";
import { entriesOf, formatEntry } from "./_transcript.ts";
import { LineSplitter } from "../log_reader.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "transcript",
  usage: "transcript ID [--json]",
  summary:
    "Print a session's conversation (prompts, replies, tool calls) from Claude's transcript.",
  details: `
Reads the transcript Claude Code keeps of the conversation (the file its
hooks reported: transcriptPath in ls --json), also after the session
exited, and prints the prompts, Claude's replies and thinking, and each
tool call with the start of its result (--json: all of it). Claude's other
bookkeeping and subagents' side conversations are left out.

--json prints one JSON object per line: {"timestamp", "type", …} with type
prompt or reply or thinking ("text"), tool_use ("id", "tool", "input") or
tool_result ("id", "text", "isError").

An error when the session never reported a transcript (not Claude, hooks
off, or it exited before Claude started) or the file is gone.`,
  options: {
    json: { type: "boolean", description: "one JSON object per entry" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  if (remoteTarget() !== null) {
    return await printEntries(remoteTranscript(args.positionals[0]!), args);
  }
  const client = await connectOrStart(paths());
  let session;
  try {
    session = (await client.request("get", { session: args.positionals[0]! })).session;
  } finally {
    client.close();
  }
  const path = session.transcriptPath;
  if (!path) {
    throw new CliError(
      `session ${session.id} never reported a transcript`,
      1,
      "Claude reports it through its hooks once it starts (not for other programs, or with claude.hooks off); see logs --text",
    );
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new CliError(`cannot read the transcript ${path}: ${(e as Error).message}`);
    }
    throw new CliError(
      `the transcript of session ${session.id} is gone: ${path}`,
      1,
      "Claude writes it at the first prompt, and deletes old ones (cleanupPeriodDays); see logs --text",
    );
  }
  return await printEntries(fileLines(file), args);
}

/** The lines of an open file (closed at the end). */
async function* fileLines(file: Deno.FsFile): AsyncGenerator<string> {
  const splitter = new LineSplitter();
  for await (const chunk of file.readable) yield* splitter.push(chunk);
  const rest = splitter.rest();
  if (rest !== null) yield rest;
}

/** The transcript's lines, streamed by the daemon of the machine `--host` names. */
async function* remoteTranscript(ref: string): AsyncGenerator<string> {
  const client = await connectOrStart(paths(), { require: [FEATURES.filesStream] });
  try {
    yield* client.lines("transcript", { session: ref });
  } finally {
    client.close();
  }
}

/** Prints a transcript's entries (`--json`: as JSON lines). */
async function printEntries(lines: AsyncIterable<string>, args: Parsed): Promise<number> {
  const json = boolOpt(args, "json");
  const out = new Output(Deno.stdout);
  let first = true;
  const print = async (text: string) => {
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      return; // a line being written, or not Claude's
    }
    for (const e of entriesOf(line)) {
      if (json) await out.write(JSON.stringify(e) + "\n");
      else await out.write((first ? formatEntry(e).replace(/^\n/, "") : formatEntry(e)) + "\n");
      first = false;
    }
  };
  try {
    for await (const text of lines) await print(text);
    await out.flush();
  } catch (e) {
    if (e instanceof OutputClosed) return 0;
    throw e;
  }
  return 0;
}
