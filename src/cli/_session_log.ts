/**
 * What the log commands (`logs`, `replay`, `export`) share: finding a
 * session's log from a reference, parsing `--since`, and buffered writing
 * to stdout or a file that copes with a reader that went away.
 *
 * @module
 */

import { type Paths, paths } from "../paths.ts";
import type { SessionRecord } from "../protocol.ts";
import { listLogFiles, loggedSessions, parseLine } from "../log_format.ts";
import { connectOrStart, remoteTarget } from "./_connect.ts";
import { type ReadLine, readLog, type ReadOptions } from "../log_reader.ts";
import { type Api, FEATURES } from "../protocol.ts";
import { DaemonError } from "../client/errors.ts";
import { CliError, UsageError } from "./_errors.ts";

/** A session whose log is to be read. */
export interface LogTarget {
  id: string;
  /** The record, or null when only log files remain (`rm --keep-logs`). */
  record: SessionRecord | null;
  /** The logs directory (on this machine; unused for another one). */
  dir: string;
  /** On another machine (`--host`): read through its daemon. */
  remote?: boolean;
}

/**
 * Resolves a reference through the daemon (id, prefix or name). A session
 * whose record was removed with `rm --keep-logs` is found by its id or a
 * unique id prefix among the log files.
 * @throws {CliError} when nothing matches or the session has no log
 */
export async function findLog(ref: string, p: Paths = paths()): Promise<LogTarget> {
  if (remoteTarget() !== null) return await findRemoteLog(ref, p);
  const client = await connectOrStart(p);
  let target: LogTarget;
  try {
    const { session } = await client.request("get", { session: ref });
    target = { id: session.id, record: session, dir: p.logsDir };
  } catch (e) {
    if (!(e instanceof DaemonError) || e.code !== "not_found") throw e;
    const upper = ref.trim().toUpperCase();
    const ids = [...await loggedSessions(p.logsDir)].filter((id) => id.startsWith(upper));
    if (ids.length !== 1 || upper.length === 0) throw e;
    target = { id: ids[0]!, record: null, dir: p.logsDir };
  } finally {
    client.close();
  }
  // A session that just started may not have opened its log yet.
  const live = target.record !== null && target.record.status !== "exited";
  if (!live && (await listLogFiles(target.dir, target.id)).length === 0) {
    throw new CliError(
      `session ${target.id} has no log`,
      1,
      "logging may be off (log.enabled), or its logs were deleted (log.retentionDays)",
    );
  }
  return target;
}

/** {@linkcode findLog} on another machine: its daemon resolves the reference and has the log. */
async function findRemoteLog(ref: string, p: Paths): Promise<LogTarget> {
  const client = await connectOrStart(p, { require: [FEATURES.filesStream] });
  try {
    try {
      const { session } = await client.request("get", { session: ref });
      return { id: session.id, record: session, dir: "", remote: true };
    } catch (e) {
      if (!(e instanceof DaemonError) || e.code !== "not_found") throw e;
    }
    // Only its logs are left (rm --keep-logs): the daemon finds them by id
    // prefix (what it starts to stream goes with this connection).
    const found = await client.request("log", { session: ref });
    return { id: found.id, record: found.record, dir: "", remote: true };
  } finally {
    client.close();
  }
}

/**
 * The lines of a session's log, oldest first (and, with `follow`, as they
 * come until `signal` aborts): read from the files here, or streamed by the
 * daemon of the machine `--host` names.
 */
export async function* logLines(
  target: LogTarget,
  opts: ReadOptions & { paths?: Paths } = {},
): AsyncGenerator<ReadLine> {
  if (!target.remote) {
    yield* readLog(target.dir, target.id, opts);
    return;
  }
  const client = await connectOrStart(opts.paths ?? paths(), {
    require: [FEATURES.filesStream],
  });
  opts.signal?.addEventListener("abort", () => client.close(), { once: true });
  try {
    const params: Api["log"]["params"] = { session: target.id };
    if (opts.follow) params.follow = true;
    for await (const text of client.lines("log", params, opts.onNotice)) {
      const line = parseLine(text);
      if (line) yield { text, line };
    }
  } finally {
    client.close();
  }
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * `--since`: a duration back from now (`90s`, `10m`, `2h`, `1.5d`, `1w`) or
 * a date/time (`2026-02-07`, `2026-02-07T18:15:00Z`). Returns epoch ms.
 * @throws {UsageError} when it is neither
 */
export function parseSince(text: string, command: string, now: number = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  const t = Date.parse(text);
  if (Number.isFinite(t) && /^\d{4}-\d{2}-\d{2}/.test(text.trim())) return t;
  throw new UsageError(
    `invalid --since "${text}": use a duration (30s, 10m, 2h, 1d) or a time (2026-02-07T18:15:00Z)`,
    command,
  );
}

/** The reader of our output went away (e.g. `| head`): stop quietly. */
export class OutputClosed extends Error {
  constructor() {
    super("output closed");
    this.name = "OutputClosed";
  }
}

/**
 * Buffered output to stdout or a file. Text and bytes are collected and
 * written in large pieces; with `flushAfterMs`, whatever waits is written
 * that soon even when no more comes (for following).
 */
export class Output {
  #sink: { write(p: Uint8Array): Promise<number> };
  #parts: Uint8Array[] = [];
  #size = 0;
  #enc = new TextEncoder();
  #flushAfterMs: number | null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #flushing: Promise<void> = Promise.resolve();
  #error: unknown = null;
  #onError: ((e: unknown) => void) | null;

  /**
   * @param sink where bytes go
   * @param flushAfterMs write out this soon after the first unwritten byte (null: only when full)
   * @param onError told when such a timed write fails (the next write throws too)
   */
  constructor(
    sink: { write(p: Uint8Array): Promise<number> } = Deno.stdout,
    flushAfterMs: number | null = null,
    onError: ((e: unknown) => void) | null = null,
  ) {
    this.#sink = sink;
    this.#flushAfterMs = flushAfterMs;
    this.#onError = onError;
  }

  /** Queues text or bytes; writes out once 256 KiB are waiting. */
  async write(data: string | Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    const bytes = typeof data === "string" ? this.#enc.encode(data) : data;
    if (bytes.length === 0) return;
    this.#parts.push(bytes);
    this.#size += bytes.length;
    if (this.#size >= 256 * 1024) await this.flush();
    else if (this.#flushAfterMs !== null && this.#timer === null) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.flush().catch((e) => {
          this.#error = e;
          this.#onError?.(e);
        });
      }, this.#flushAfterMs);
    }
  }

  /** Writes out everything queued. */
  flush(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const parts = this.#parts;
    const size = this.#size;
    this.#parts = [];
    this.#size = 0;
    this.#flushing = this.#flushing.then(async () => {
      if (size === 0) return;
      let buf: Uint8Array;
      if (parts.length === 1) buf = parts[0]!;
      else {
        buf = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          buf.set(p, at);
          at += p.length;
        }
      }
      try {
        let off = 0;
        while (off < buf.length) off += await this.#sink.write(buf.subarray(off));
      } catch (e) {
        throw e instanceof Deno.errors.BrokenPipe ? new OutputClosed() : e;
      }
    });
    return this.#flushing;
  }
}

/**
 * Writes to `path` through a temporary file renamed into place at the end
 * (so a failed export leaves no partial file); `-` is stdout.
 */
export async function withOutputFile(
  path: string,
  fn: (sink: { write(p: Uint8Array): Promise<number> }) => Promise<void>,
): Promise<void> {
  if (path === "-") {
    await fn(Deno.stdout);
    return;
  }
  const tmp = `${path}.${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36)}.tmp`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    await fn(file);
    file.close();
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      file.close();
    } catch { /* closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
