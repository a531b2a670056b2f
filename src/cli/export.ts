/**
 * `export ID [--format cast|bundle] -o FILE`: a session's log as an
 * asciicast v2 recording, or a `.tar.gz` bundle of its record and log files.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { strOpt } from "./_args.ts";
import { CliError, UsageError } from "./_errors.ts";
import {
  findLog,
  logLines,
  type LogTarget,
  Output,
  OutputClosed,
  withOutputFile,
} from "./_session_log.ts";
import { toCast } from "./_cast.ts";
import { TarWriter } from "./_tar.ts";
import type { LogLine } from "../log_format.ts";
import { openLogFiles } from "../log_reader.ts";
import { concatBytes } from "../bytes.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "export",
  usage: "export ID [--format cast|bundle] -o FILE",
  summary: "Export a session's log: an asciicast v2 recording, or a .tar.gz bundle.",
  details: `
--format cast (the default) writes asciicast v2, which asciinema play and
asciinema-player play: a header (version, width, height, timestamp, title),
then [seconds, "o"|"i"|"r", data] events for output, input and resizes.

--format bundle writes a gzip-compressed tar archive holding <id>/record.json
(the session record) and <id>/logs/ (every log file as it is on disk,
archives included).

FILE is written whole or not at all; "-" writes to stdout.`,
  options: {
    format: { type: "string", arg: "cast|bundle", description: "what to write (default: cast)" },
    output: { type: "string", short: "o", arg: "FILE", description: "where to write (required)" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const format = strOpt(args, "format") ?? "cast";
  if (format !== "cast" && format !== "bundle") {
    throw new UsageError(`invalid --format "${format}": use cast or bundle`, "export");
  }
  const file = strOpt(args, "output");
  if (file === undefined) throw new UsageError("-o FILE is required (- for stdout)", "export");
  if (format === "bundle" && file === "-" && Deno.stdout.isTerminal()) {
    throw new UsageError("will not write a .tar.gz to a terminal; use -o FILE", "export");
  }
  const target = await findLog(args.positionals[0]!);
  try {
    await withOutputFile(file, async (sink) => {
      if (format === "cast") await writeCast(target, sink);
      else await writeBundle(target, sink);
    });
  } catch (e) {
    if (e instanceof OutputClosed) return 0;
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot export ${target.id}: ${(e as Error).message}`);
  }
  if (file !== "-") console.error(`wrote ${file}`);
  return 0;
}

async function* entries(t: LogTarget): AsyncGenerator<LogLine> {
  for await (const r of logLines(t)) yield r.line;
}

async function writeCast(t: LogTarget, sink: { write(p: Uint8Array): Promise<number> }) {
  const out = new Output(sink);
  const rec = t.record;
  const meta = {
    title: rec?.name ? `${rec.name} (${t.id})` : t.id,
    cols: rec?.cols ?? 80,
    rows: rec?.rows ?? 24,
  };
  for await (const line of toCast(entries(t), meta)) await out.write(line + "\n");
  await out.flush();
}

async function writeBundle(t: LogTarget, sink: { write(p: Uint8Array): Promise<number> }) {
  const gzip = new CompressionStream("gzip");
  const piped = gzip.readable.pipeTo(
    new WritableStream({
      async write(chunk) {
        let off = 0;
        try {
          while (off < chunk.length) off += await sink.write(chunk.subarray(off));
        } catch (e) {
          // A reader that went away (| head) ends the export, as for logs.
          throw e instanceof Deno.errors.BrokenPipe ? new OutputClosed() : e;
        }
      },
    }),
  );
  const writer = gzip.writable.getWriter();
  const tar = new TarWriter((chunk) => writer.write(chunk.slice()));
  const files = t.remote ? [] : await openLogFiles(t.dir, t.id);
  try {
    if (t.record) {
      const json = new TextEncoder().encode(JSON.stringify(t.record, null, 2) + "\n");
      await tar.add({ name: `${t.id}/record.json`, size: json.length, data: json });
    }
    if (t.remote) {
      // From another machine the log comes as its lines: one file holding
      // them all, archives first (the same content, uncompressed).
      const parts: Uint8Array[] = [];
      const enc = new TextEncoder();
      for await (const r of logLines(t)) parts.push(enc.encode(r.text + "\n"));
      const data = concatBytes(parts);
      await tar.add({ name: `${t.id}/logs/${t.id}.jsonl`, size: data.length, data });
    }
    for (const f of files) {
      const st = await f.handle.stat();
      await tar.add({
        name: `${t.id}/logs/${f.file.name}`,
        // Only what was there when opened: a live log keeps growing.
        size: f.size,
        mtime: st.mtime ?? new Date(),
        data: f.handle.readable,
      });
    }
    await tar.finish();
    await writer.close();
    await piped;
  } finally {
    for (const f of files) {
      try {
        f.handle.close();
      } catch { /* closed with its stream */ }
    }
  }
}
