/**
 * `logs ID [-f] [--grep REGEX] [--direction input|output] [--since WHEN]
 * [--json] [--strip-ansi]`: print a session's I/O log.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { AnsiStripper, stripAnsi } from "./_ansi.ts";
import { findLog, Output, OutputClosed, parseSince } from "./_session_log.ts";
import { decodeData, isData } from "../log_format.ts";
import { readLog } from "../log_reader.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "logs",
  usage:
    "logs ID [-f|--follow] [--grep REGEX] [--direction input|output] [--since DURATION|TIME] [--json] [--strip-ansi]",
  summary: "Print what a session's program wrote (or what was sent to it), from its I/O log.",
  details: `
By default prints the program's output as text, decoded as UTF-8 across
chunk boundaries, terminal escape sequences included (so it renders as it
did); --strip-ansi removes them for plain text. --direction input prints the
bytes sent to the program instead. --json prints the log's raw JSON lines
(all directions and events unless --direction is given).

Rotated archives (<id>.1.jsonl, <id>.N.jsonl.gz) are read first, oldest
first. --follow keeps printing as the session writes, across rotations,
until Ctrl-C. --grep prints only the text lines (with --json: the entries)
whose text, without escape sequences, matches the regular expression.
--since takes a duration back from now (30s, 10m, 2h, 1d, 1w) or a date or
time (2026-02-07, 2026-02-07T18:15:00Z).

A session removed with rm --keep-logs is found by its id or id prefix.`,
  options: {
    follow: { type: "boolean", short: "f", description: "keep printing new output until Ctrl-C" },
    grep: { type: "string", arg: "REGEX", description: "only lines matching REGEX" },
    direction: {
      type: "string",
      arg: "input|output",
      description: "which bytes to print (default: output)",
    },
    since: { type: "string", arg: "DURATION|TIME", description: "skip what was logged before" },
    json: { type: "boolean", description: "print the raw JSON lines" },
    "strip-ansi": { type: "boolean", description: "remove escape sequences (plain text)" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const direction = strOpt(args, "direction");
  if (direction !== undefined && direction !== "input" && direction !== "output") {
    throw new UsageError(`invalid --direction "${direction}": use input or output`, "logs");
  }
  const sinceText = strOpt(args, "since");
  const since = sinceText === undefined ? null : parseSince(sinceText, "logs");
  const grepText = strOpt(args, "grep");
  let grep: RegExp | null = null;
  if (grepText !== undefined) {
    try {
      grep = new RegExp(grepText);
    } catch (e) {
      throw new UsageError(`invalid --grep: ${(e as Error).message}`, "logs");
    }
  }
  const json = boolOpt(args, "json");
  const follow = boolOpt(args, "follow");
  const strip = boolOpt(args, "strip-ansi") ? new AnsiStripper() : null;
  const target = await findLog(args.positionals[0]!);

  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  if (follow) Deno.addSignalListener("SIGINT", onInterrupt);
  const out = new Output(Deno.stdout, follow ? 20 : null, () => stop.abort());
  const want = direction ?? "output";
  const decoder = new TextDecoder();
  let line = "";

  const emitText = async (text: string, end: boolean) => {
    if (strip) text = strip.push(text);
    if (!grep) {
      await out.write(text);
      return;
    }
    line += text;
    const lines = line.split("\n");
    line = end ? "" : lines.pop()!;
    for (const l of lines) {
      if (l.length > 0 && grep.test(strip ? l : stripAnsi(l))) await out.write(l + "\n");
    }
  };

  try {
    for await (
      const r of readLog(target.dir, target.id, {
        follow,
        signal: stop.signal,
        onNotice: (msg) => console.error(printable(`claude-sessions: ${msg}`)),
      })
    ) {
      const entry = r.line;
      if (since !== null && Date.parse(entry.timestamp) < since) continue;
      if (json) {
        if (direction !== undefined && entry.direction !== direction) continue;
        if (grep) {
          if (!isData(entry)) continue;
          if (!grep.test(stripAnsi(new TextDecoder().decode(decodeData(entry))))) continue;
        }
        await out.write(r.text + "\n");
      } else if (isData(entry) && entry.direction === want) {
        await emitText(decoder.decode(decodeData(entry), { stream: true }), false);
      }
    }
    if (!json) await emitText(decoder.decode(), true);
    await out.flush();
  } catch (e) {
    if (e instanceof OutputClosed) return 0;
    throw e;
  } finally {
    if (follow) Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  return 0;
}
