/**
 * `logs ID [-f] [--text] [--grep REGEX] [--direction input|output]
 * [--since WHEN] [--json] [--strip-ansi]`: print a session's I/O log.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { AnsiStripper, stripAnsi } from "./_ansi.ts";
import {
  findLog,
  logLines,
  type LogTarget,
  Output,
  OutputClosed,
  parseSince,
} from "./_session_log.ts";
import { ScreenText } from "./_screen_text.ts";
import { decodeData, isData } from "../log_format.ts";
import type { ReadLine } from "../log_reader.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "logs",
  usage:
    "logs ID [-f|--follow] [--text] [--grep REGEX] [--direction input|output] [--since DURATION|TIME] [--json] [--strip-ansi]",
  summary: "Print what a session's program wrote (or what was sent to it), from its I/O log.",
  details: `
By default prints the program's output as it was written, decoded as UTF-8
across chunk boundaries, terminal escape sequences included (so it renders
as it did); --strip-ansi removes them (cursor movements too, so text a
program placed with them runs together). --direction input prints the bytes
sent to the program instead. --json prints the log's raw JSON lines (all
directions and events unless --direction is given).

--text prints the output as it appeared on the screen: rendered by a
terminal emulator at the recorded sizes, every line of text that was on
the screen at some point, once, in the order it appeared (alternate-screen
frames included; a program redrawing the same lines prints them once).
With --json it prints {"timestamp", "text"} per line.

--grep REGEX prints only the matching lines: of the output, the rendered
lines (as --text); of --direction input, the typed lines; with --json (and
without --text), the log entries whose data, without escape sequences,
matches.

Rotated archives (<id>.1.jsonl, <id>.N.jsonl.gz) are read first, oldest
first. --follow keeps printing as the session writes, across rotations,
until Ctrl-C (with --text: lines once they leave the screen, and what is
on it whenever the output pauses). --since takes a duration back from now
(30s, 10m, 2h, 1d, 1w) or a date or time (2026-02-07,
2026-02-07T18:15:00Z); with --text, lines on the screen at that time or
later.

A session removed with rm --keep-logs is found by its id or id prefix.`,
  options: {
    follow: { type: "boolean", short: "f", description: "keep printing new output until Ctrl-C" },
    text: { type: "boolean", short: "t", description: "the lines as they appeared on the screen" },
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

/** How long a followed log is quiet before `--text` prints what is on the screen. */
const IDLE_MS = 250;

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
  const want = direction ?? "output";
  const textOpt = boolOpt(args, "text");
  if (textOpt && want === "input") {
    throw new UsageError(
      "--text shows the program's output as it appeared on the screen; it cannot be used with --direction input",
      "logs",
    );
  }
  const rendered = textOpt || (grep !== null && !json && want === "output");
  const strip = boolOpt(args, "strip-ansi") ? new AnsiStripper() : null;
  const target = await findLog(args.positionals[0]!);

  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  if (follow) Deno.addSignalListener("SIGINT", onInterrupt);
  const out = new Output(Deno.stdout, follow ? 20 : null, () => stop.abort());
  const lines = logLines(target, {
    follow,
    signal: stop.signal,
    onNotice: (msg) => console.error(printable(`claude-sessions: ${msg}`)),
  });
  try {
    if (rendered) await printText(lines, target, { since, grep, json, follow, out });
    else await printRaw(lines, { since, grep, json, direction, want, strip, out });
    await out.flush();
  } catch (e) {
    if (e instanceof OutputClosed) return 0;
    throw e;
  } finally {
    stop.abort();
    await lines.return(undefined);
    if (follow) Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  return 0;
}

/** The log's data as it was written (or its JSON lines). */
async function printRaw(
  lines: AsyncIterable<ReadLine>,
  o: {
    since: number | null;
    grep: RegExp | null;
    json: boolean;
    direction: string | undefined;
    want: string;
    strip: AnsiStripper | null;
    out: Output;
  },
): Promise<void> {
  const { since, grep, json, direction, want, strip, out } = o;
  const decoder = new TextDecoder();
  let line = "";
  const emitText = async (text: string, end: boolean) => {
    if (!grep) {
      await out.write(strip ? strip.push(text) : text);
      return;
    }
    // Typed lines (input): ended by Enter (CR) or a newline.
    line += text;
    const parts = line.split(/\r\n?|\n/);
    line = end ? "" : parts.pop()!;
    for (const l of parts) {
      const plain = stripAnsi(l);
      if (plain.length > 0 && grep.test(plain)) await out.write(plain + "\n");
    }
  };
  for await (const r of lines) {
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
}

/**
 * The output as it appeared on the screen (see `_screen_text.ts`): each run
 * of the program in a fresh emulator of the size it started with, resized
 * as the terminal was. Following, the lines on the screen are printed
 * whenever the output pauses.
 */
async function printText(
  lines: AsyncIterable<ReadLine>,
  target: LogTarget,
  o: { since: number | null; grep: RegExp | null; json: boolean; follow: boolean; out: Output },
): Promise<void> {
  const { since, grep, json, follow, out } = o;
  let screen: ScreenText | null = null;
  // Output before any recorded size (its start was in a deleted archive).
  const size = () => ({ cols: target.record?.cols ?? 120, rows: target.record?.rows ?? 40 });
  const open = (cols: number, rows: number) => new ScreenText({ cols, rows, since });
  const print = async () => {
    for (const l of screen?.take() ?? []) {
      if (grep && !grep.test(l.text)) continue;
      await out.write(
        json ? JSON.stringify({ timestamp: l.at, text: l.text }) + "\n" : l.text + "\n",
      );
    }
  };
  const it = lines[Symbol.asyncIterator]();
  try {
    let next = it.next();
    for (;;) {
      let res: IteratorResult<ReadLine>;
      if (follow && screen?.pending) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = new Promise<null>((r) => timer = setTimeout(() => r(null), IDLE_MS));
        const first = await Promise.race([next, idle]);
        clearTimeout(timer);
        if (first === null) {
          // Quiet: print what is on the screen now.
          await screen.flush(new Date().toISOString());
          await print();
          res = await next;
        } else {
          res = first;
        }
      } else {
        res = await next;
      }
      if (res.done) break;
      next = it.next();
      const e = res.value.line;
      if (e.direction === "event" && e.event === "start") {
        const cols = typeof e.cols === "number" ? e.cols : size().cols;
        const rows = typeof e.rows === "number" ? e.rows : size().rows;
        if (screen) await screen.restart(cols, rows, e.timestamp);
        else screen = open(cols, rows);
      } else if (e.direction === "resize") {
        screen ??= open(size().cols, size().rows);
        screen.resize(e.cols, e.rows, e.timestamp);
      } else if (isData(e) && e.direction === "output") {
        screen ??= open(size().cols, size().rows);
        await screen.feed(decodeData(e), e.timestamp);
      } else {
        continue;
      }
      await print();
    }
    await screen?.flush(follow ? new Date().toISOString() : undefined);
    await print();
  } finally {
    screen?.dispose();
  }
}
