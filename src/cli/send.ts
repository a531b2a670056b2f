/**
 * `send ID TEXT… [--no-enter] [--wait [--timeout S]] [--json]` /
 * `send ID --keys KEY… [--wait …]`: type into a session; for a Claude session,
 * confirm that Claude took the prompt, and with `--wait` print its answer.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { DaemonError } from "../client/errors.ts";
import { CliError, EXIT, UsageError } from "./_errors.ts";
import { parseSeconds } from "./wait.ts";
import { MAX_SEND_TEXT_BYTES } from "../protocol.ts";
import { concatBytes, formatBytes } from "../bytes.ts";
import { paths } from "../paths.ts";
import { KEY_NAMES } from "../keys.ts";
import type { Api, SendResult } from "../protocol.ts";
import { describeWait, exitSummary } from "../session_view.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "send",
  usage:
    "send ID TEXT… [--no-enter] [--wait [--timeout S]] [--json] | send ID --keys KEY… [--wait]",
  summary: "Type text (then Enter) or named keys into a session, without attaching.",
  details: `
TEXT words are joined with spaces; "-" reads the text from stdin. It is typed
as a bracketed paste when the program asked for that (Claude Code does), so
long or multi-line prompts arrive whole, then Enter — unless --no-enter.
The text may be up to 512 KiB; longer text is refused and nothing is typed.

To a Claude session, send returns only once Claude took the prompt (its
UserPromptSubmit hook, or it started working on it). A starting session is
waited for (up to a minute) until its prompt is up; a hibernated one is woken
first (claude --resume); a queued one is waited for until it starts. Text left sitting in the
input box gets Enter again (twice at most); if it still does not take, send
exits 1 saying what is left there. Sent while Claude works, the prompt is
queued by Claude: send says so on stderr and returns when Claude takes it.
Text is refused (exit 1, nothing typed) while Claude waits for a permission
or its folder-trust question: answer those with --keys (or attach).

--wait then waits for the end of the turn and prints Claude's answer (its
last message). Exit codes: 0 answered; 3 Claude waits for a permission (what
it asks to do is printed); 1 the turn failed (the error is printed) or the
session exited; 124 --timeout passed (the whole send, delivery included).

With --keys every argument is a key name: ${KEY_NAMES.join(", ")}.
Cursor keys follow the program's cursor-key mode. Examples:
  claude-sessions send api "explain the failing test"
  reply=$(claude-sessions send api "summarize the diff" --wait --timeout 600)
  claude-sessions send api --keys Enter --wait   # approve, then wait for the answer
  claude-sessions send api --keys Esc            # interrupt
  git diff | claude-sessions send api -          # a long prompt from stdin

Everything sent is recorded in the session's log as input.`,
  options: {
    "no-enter": { type: "boolean", description: "do not press Enter after the text" },
    keys: { type: "boolean", short: "k", description: "arguments are key names, not text" },
    wait: {
      type: "boolean",
      short: "w",
      description: "wait for the end of the turn and print Claude's answer",
    },
    timeout: {
      type: "string",
      short: "t",
      arg: "SECONDS",
      description: "give up after this long (exit 124)",
    },
    json: { type: "boolean", description: "print the outcome as JSON" },
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
  const params: Api["send"]["params"] = { session: ref };
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
  const wait = boolOpt(args, "wait");
  const timeout = parseSeconds(strOpt(args, "timeout"), "send");
  if (wait) params.wait = true;
  if (timeout !== undefined) params.timeoutMs = Math.round(timeout * 1000);
  const json = boolOpt(args, "json");
  const client = await connectOrStart(paths());
  let r: SendResult;
  try {
    const reply = client.request("send", params, (push) => {
      if (push.type === "progress" && !json) console.error(`claude-sessions: ${push.message}`);
    });
    try {
      r = await reply;
    } catch (e) {
      if (e instanceof DaemonError && e.code === "timeout") {
        throw new CliError(e.message, EXIT.TIMEOUT);
      }
      throw e;
    }
  } finally {
    client.close();
  }
  if (json) console.log(JSON.stringify(r, null, 2));
  const turn = r.turn;
  if (!turn) return EXIT.OK;
  switch (turn.outcome) {
    case "reply":
      if (turn.error) {
        if (!json) console.error(`claude-sessions: the turn failed: ${turn.error}`);
        return EXIT.ERROR;
      }
      if (!json && turn.reply) console.log(turn.reply);
      return EXIT.OK;
    case "permission":
      if (!json) console.log(`waiting for ${describeWait(turn.waitingFor)}`);
      return EXIT.PERMISSION;
    case "exited": {
      if (r.delivery === "accepted") return EXIT.OK; // the text ended it (/exit)
      const s = turn.session;
      throw new CliError(`session ${s.id} ended before the turn did: ${exitSummary(s)}`);
    }
    case "interrupted":
      throw new CliError(`the turn was interrupted before Claude answered`);
    case "timeout":
      throw new CliError(
        `timed out after ${timeout}s waiting for the turn to end; ${turn.session.id} is ${turn.session.status}`,
        EXIT.TIMEOUT,
      );
  }
}
