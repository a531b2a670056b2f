/**
 * Files streamed to a client through the protocol (`log`, `transcript`), so
 * that commands that read them work from another machine (`--host`). Lines
 * go out in batches, and the next batch waits while the client has more than
 * {@linkcode STREAM_BACKLOG} unread: a slow reader slows the stream, never
 * the daemon.
 *
 * @module
 */

import type { Connection } from "./server.ts";
import type { LinesPush, RequestId } from "../protocol.ts";
import { LineSplitter, readLog } from "../log_reader.ts";

/** Bytes of lines per push. */
const BATCH_BYTES = 64 * 1024;
/** Unread bytes at which the stream waits for the client. */
export const STREAM_BACKLOG = 1024 * 1024;

/**
 * Sends `lines` to `conn` as {@linkcode LinesPush} batches for request
 * `sub`; `eager`: send each line as it comes (a followed log) instead of
 * filling batches. Stops when the connection closes.
 */
export async function streamLines(
  conn: Connection,
  sub: RequestId,
  lines: AsyncIterable<string>,
  eager: boolean,
): Promise<void> {
  let batch: string[] = [];
  let bytes = 0;
  const flush = async (end: boolean) => {
    const push: LinesPush = { type: "lines", sub, lines: batch };
    if (end) push.end = true;
    conn.send(push);
    batch = [];
    bytes = 0;
    if (conn.backlog > STREAM_BACKLOG) await conn.drained();
  };
  for await (const line of lines) {
    if (conn.closed) return;
    batch.push(line);
    bytes += line.length;
    if (eager || bytes >= BATCH_BYTES) await flush(false);
  }
  if (!conn.closed) await flush(true);
}

/** A session's log lines (archives first); follows it while `signal` lets it. */
export async function* logLines(
  dir: string,
  id: string,
  follow: boolean,
  signal: AbortSignal,
  onNotice: (msg: string) => void,
): AsyncGenerator<string> {
  for await (const r of readLog(dir, id, { follow, signal, onNotice })) yield r.text;
}

/** The lines of a file. */
export async function* fileLines(path: string): AsyncGenerator<string> {
  using file = await Deno.open(path, { read: true });
  const splitter = new LineSplitter();
  for await (const chunk of file.readable) yield* splitter.push(chunk);
  const rest = splitter.rest();
  if (rest !== null) yield rest;
}
