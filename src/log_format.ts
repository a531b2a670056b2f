/**
 * The session I/O log format, shared by the daemon (writing) and the CLI
 * (reading): one JSON object per line in `logs/<id>.jsonl`, rotated to
 * `<id>.1.jsonl`, `<id>.2.jsonl.gz`, … (higher numbers are older).
 *
 * Every line has `timestamp` (RFC 3339 UTC, milliseconds), `session_id` and
 * `direction`:
 *
 * - `output` / `input`: `data` (base64 of the raw bytes) and `size` (their count);
 * - `resize`: `cols` and `rows`;
 * - `event`: `event` names it — `part` (first line of every file, `part`
 *   counts the session's files from 1), `start`, `status`, `exit`,
 *   `repaired` (a torn last line was cut, `dropped` bytes).
 *
 * Readers skip lines they do not understand.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Largest number of raw bytes in one `output`/`input` line. */
export const MAX_ENTRY_BYTES = 64 * 1024;
/** Small reads within this many milliseconds are coalesced into one line. */
export const COALESCE_MS = 5;

/** Fields every log line has. */
interface LineBase {
  timestamp: string;
  session_id: string;
}

/** Bytes the program wrote (`output`) or that were sent to it (`input`). */
export interface DataLine extends LineBase {
  direction: "output" | "input";
  /** Base64 of the raw bytes. */
  data: string;
  /** Number of raw bytes. */
  size: number;
}

/** The terminal was resized. */
export interface ResizeLine extends LineBase {
  direction: "resize";
  cols: number;
  rows: number;
}

/** A lifecycle or bookkeeping event; other fields depend on `event`. */
export interface EventLine extends LineBase {
  direction: "event";
  event: string;
  [field: string]: unknown;
}

/** Any log line a reader understands. */
export type LogLine = DataLine | ResizeLine | EventLine;

/** The JSON text of a line (without the newline). */
export function formatLine(line: LogLine): string {
  if (line.direction === "output" || line.direction === "input") {
    // Fixed key order, no escaping needed: the fast path for busy sessions.
    return `{"timestamp":"${line.timestamp}","session_id":"${line.session_id}",` +
      `"direction":"${line.direction}","data":"${line.data}","size":${line.size}}`;
  }
  return JSON.stringify(line);
}

/** Base64 of `bytes`. */
export function encodeData(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** The raw bytes of an `output`/`input` line. */
export function decodeData(line: DataLine): Uint8Array {
  const b = Buffer.from(line.data, "base64");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Parses one line; null when it is not a log line (torn, foreign or garbage). */
export function parseLine(text: string): LogLine | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.timestamp !== "string" || typeof o.direction !== "string") return null;
  switch (o.direction) {
    case "output":
    case "input":
      return typeof o.data === "string" ? (o as unknown as DataLine) : null;
    case "resize":
      return typeof o.cols === "number" && typeof o.rows === "number"
        ? (o as unknown as ResizeLine)
        : null;
    case "event":
      return typeof o.event === "string" ? (o as unknown as EventLine) : null;
    default:
      return null;
  }
}

/** Whether a line carries data. */
export function isData(line: LogLine): line is DataLine {
  return line.direction === "output" || line.direction === "input";
}

/** One log file of a session: the current one (`n` 0) or an archive. */
export interface LogFile {
  /** File name within the logs directory. */
  name: string;
  /** 0 for `<id>.jsonl`, else the archive number (1 is the newest archive). */
  n: number;
  /** gzip-compressed. */
  gz: boolean;
}

const NAME_RE = /^([0-9A-HJKMNP-TV-Z]{26})(?:\.(\d+))?\.jsonl(\.gz)?$/;

/** File name of a session's log: `n` 0 is the current file. */
export function logFileName(id: string, n: number, gz = false): string {
  return `${id}${n > 0 ? `.${n}` : ""}.jsonl${gz ? ".gz" : ""}`;
}

/** Parses a log file name; null for anything else (temp files included). */
export function parseLogFileName(name: string): (LogFile & { id: string }) | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const n = m[2] === undefined ? 0 : Number(m[2]);
  if (m[2] !== undefined && n < 1) return null;
  if (n === 0 && m[3]) return null;
  return { id: m[1]!, name, n, gz: m[3] !== undefined };
}

/**
 * A session's log files, oldest first (highest archive number first, the
 * current file last). When an archive exists both plain and compressed (its
 * compression just finished), the compressed one is listed.
 */
export async function listLogFiles(dir: string, id: string): Promise<LogFile[]> {
  const byN = new Map<number, LogFile>();
  try {
    for await (const e of Deno.readDir(dir)) {
      const f = parseLogFileName(e.name);
      if (!f || f.id !== id) continue;
      const seen = byN.get(f.n);
      if (!seen || f.gz) byN.set(f.n, { name: f.name, n: f.n, gz: f.gz });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return [...byN.values()].sort((a, b) => (a.n === 0 ? 1 : b.n === 0 ? -1 : b.n - a.n));
}

/** Ids of every session that has log files in `dir`. */
export async function loggedSessions(dir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  try {
    for await (const e of Deno.readDir(dir)) {
      const f = parseLogFileName(e.name);
      if (f) ids.add(f.id);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return ids;
}
