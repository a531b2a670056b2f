/**
 * `send ID TEXT… [--no-enter]` / `send ID --keys KEY…`: type into a session.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { CliError, UsageError } from "./_errors.ts";
import { MAX_SEND_TEXT_BYTES } from "../protocol.ts";
import { concatBytes, formatBytes } from "../bytes.ts";
import { paths } from "../paths.ts";
import { KEY_NAMES } from "../keys.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "send",
  usage: "send ID TEXT… [--no-enter] | send ID --keys KEY…",
  summary: "Type text (then Enter) or named keys into a session, without attaching.",
  details: `
TEXT words are joined with spaces; "-" reads the text from stdin. It is typed
as a bracketed paste when the program asked for that (Claude Code does), so
long or multi-line prompts arrive whole, then Enter — unless --no-enter.
The text may be up to 512 KiB; longer text is refused and nothing is typed.

With --keys every argument is a key name: ${KEY_NAMES.join(", ")}.
Cursor keys follow the program's cursor-key mode. Examples:
  claude-sessions send api "explain the failing test"
  claude-sessions send api --keys Enter          # approve a permission prompt
  claude-sessions send api --keys Esc            # interrupt
  claude-sessions send api --keys C-c C-c

Everything sent is recorded in the session's log as input.`,
  options: {
    "no-enter": { type: "boolean", description: "do not press Enter after the text" },
    keys: { type: "boolean", short: "k", description: "arguments are key names, not text" },
  },
  positionals: { min: 2, max: Infinity, names: "ID and TEXT (or keys)" },
};

/** The limit, for messages. */
const LIMIT = `${formatBytes(MAX_SEND_TEXT_BYTES)} (${MAX_SEND_TEXT_BYTES} bytes)`;
const TOO_LONG_HINT = "save it to a file and ask the session to read that file instead";

/**
 * Reads stdin, up to {@linkcode MAX_SEND_TEXT_BYTES}: more is refused at once,
 * without reading the rest.
 * @throws {CliError} when stdin holds more
 */
async function readStdin(): Promise<string> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = Deno.stdin.readable.getReader();
  try {
    while (true) {
      const r = await reader.read();
      if (r.done) break;
      size += r.value.length;
      // One byte over is allowed for the trailing newline that is dropped.
      if (size > MAX_SEND_TEXT_BYTES + 1) {
        throw new CliError(
          `the text on stdin is too long to send: over ${LIMIT}, the most send takes`,
          1,
          TOO_LONG_HINT,
        );
      }
      parts.push(r.value);
    }
  } finally {
    reader.releaseLock();
  }
  return new TextDecoder().decode(concatBytes(parts)).replace(/\n$/, "");
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const [ref, ...rest] = args.positionals as [string, ...string[]];
  const params: { session: string; text?: string; keys?: string[]; enter?: boolean } = {
    session: ref,
  };
  if (boolOpt(args, "keys")) {
    if (boolOpt(args, "no-enter")) {
      throw new UsageError("--no-enter applies to text, not --keys", "send");
    }
    params.keys = rest;
  } else {
    const text = rest.length === 1 && rest[0] === "-" ? await readStdin() : rest.join(" ");
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_SEND_TEXT_BYTES) {
      throw new CliError(
        `the text is too long to send: ${formatBytes(bytes)}; send takes at most ${LIMIT}`,
        1,
        TOO_LONG_HINT,
      );
    }
    if (text.length === 0 && boolOpt(args, "no-enter")) {
      throw new UsageError("nothing to send", "send");
    }
    params.text = text;
    params.enter = !boolOpt(args, "no-enter");
  }
  const client = await connectOrStart(paths());
  try {
    await client.request("send", params);
  } finally {
    client.close();
  }
  return 0;
}
