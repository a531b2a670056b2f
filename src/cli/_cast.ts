/**
 * Converting a session log to asciicast v2 (the format of asciinema): a
 * header line `{"version":2,"width":…,"height":…,"timestamp":…,"title":…}`,
 * then one event per line, `[seconds, "o"|"i"|"r", data]`: output, input
 * and resizes (`"COLSxROWS"`). Times are seconds since the log began and
 * never go backwards; data is text, decoded as UTF-8 across entries.
 *
 * @module
 */

import { decodeData, isData, type LogLine } from "../log_format.ts";

/** What the header needs besides the log. */
export interface CastMeta {
  title: string;
  /** Size to assume when the log does not record the starting size. */
  cols: number;
  rows: number;
}

/** asciicast v2 header. */
export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp: number;
  title: string;
}

/** Yields the lines (without newlines) of an asciicast v2 recording of `log`. */
export async function* toCast(
  log: AsyncIterable<LogLine>,
  meta: CastMeta,
): AsyncGenerator<string> {
  let header: CastHeader | null = null;
  let size = { cols: meta.cols, rows: meta.rows };
  let start = 0;
  let last = 0;
  const decoders = { o: new TextDecoder(), i: new TextDecoder() };
  const at = (ts: string): number => {
    const t = Math.max(last, (Date.parse(ts) - start) / 1000);
    last = t;
    return Math.round(t * 1000) / 1000;
  };
  const open = function* (ts: string): Generator<string> {
    if (header) return;
    start = Date.parse(ts);
    header = {
      version: 2,
      width: size.cols,
      height: size.rows,
      timestamp: Math.floor(start / 1000),
      title: meta.title,
    };
    yield JSON.stringify(header);
  };
  let first: string | null = null;
  for await (const line of log) {
    first ??= line.timestamp;
    if (line.direction === "event") {
      // The header has the size the program started with.
      if (line.event === "start" && !header) {
        if (typeof line.cols === "number" && typeof line.rows === "number") {
          size = { cols: line.cols, rows: line.rows };
        }
      }
      continue;
    }
    yield* open(first);
    if (line.direction === "resize") {
      yield JSON.stringify([at(line.timestamp), "r", `${line.cols}x${line.rows}`]);
      continue;
    }
    if (!isData(line)) continue;
    const code = line.direction === "output" ? "o" : "i";
    const text = decoders[code].decode(decodeData(line), { stream: true });
    if (text.length > 0) yield JSON.stringify([at(line.timestamp), code, text]);
  }
  if (first !== null) yield* open(first);
  for (const code of ["o", "i"] as const) {
    const rest = decoders[code].decode();
    if (rest.length > 0) yield JSON.stringify([last, code, rest]);
  }
}
