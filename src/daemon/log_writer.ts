/**
 * Writes one session's I/O log (`logs/<id>.jsonl`) without ever blocking the
 * PTY: listeners only append to memory; one asynchronous loop writes whole
 * lines to the file, rotates it, and compresses archives in the background.
 *
 * - **Coalescing**: consecutive chunks of one direction become one line, up
 *   to {@linkcode MAX_ENTRY_BYTES} raw bytes or {@linkcode COALESCE_MS} ms;
 *   the first chunk after a quiet spell of that long is made a line at the
 *   end of the event loop's turn (with whatever else came in that turn).
 * - **Bounded**: when more than `log.maxBufferBytes` wait for the disk, the
 *   writer holds back the session's output (the program blocks on its next
 *   write once the PTY fills) and says so in the daemon's log; reading
 *   resumes once half has been written. Nothing is dropped.
 * - **Whole lines**: a line is written completely or (if the daemon dies
 *   mid-write) torn at the very end of the file, which the next open cuts
 *   back to the last newline, noting it with a `repaired` event line.
 *   After a failed write the rest of the same bytes is retried.
 * - **Rotation** happens between lines: before a line that would take the
 *   file past `log.maxBytes` (a file holds at least one line), `<id>.jsonl`
 *   becomes `<id>.1.jsonl`, older archives shift up by one (`.N.jsonl.gz`),
 *   those beyond `log.keep` are deleted, and `<id>.2.jsonl` is gzip-compressed
 *   (`CompressionStream`, on a worker thread) while writing goes on. Every file begins with a
 *   `part` event line numbering the session's files.
 *
 * @module
 */

import type { LogConfig } from "../config.ts";
import {
  COALESCE_MS,
  encodeData,
  type EventLine,
  formatLine,
  logFileName,
  type LogLine,
  MAX_ENTRY_BYTES,
  parseLogFileName,
} from "../log_format.ts";
import { partOf } from "../log_reader.ts";
import { Buffer } from "node:buffer";
import { gzipFile } from "./_gzip.ts";
import { LOG_BUFFER_SHARE_MIN, LOG_BUFFER_TOTAL_BYTES, LOG_WRITE_BATCH_BYTES } from "./limits.ts";

/** At most this many bytes go to the file in one write. */
const BATCH_BYTES = LOG_WRITE_BATCH_BYTES;
/** Batches up to this size are written synchronously (see `#run`). */
const SYNC_WRITE_BYTES = 64 * 1024;
/** Longest wait between retries after a failed write. */
const MAX_BACKOFF_MS = 5000;

/** What a writer needs from its owner. */
export interface LogWriterHost {
  /** The logs directory. */
  dir: string;
  /** The session id. */
  id: string;
  /** Current settings (read at each use, so a config reload applies). */
  settings(): LogConfig;
  /** Holds back the session's output; returns the release function. */
  hold(): () => void;
  /** The daemon's log. */
  log(msg: string): void;
  /** The bound shared by every writer of the daemon, if any. */
  budget?: LogBudget;
}

/**
 * Log bytes waiting for the disk across every writer of the daemon: past
 * `limit`, the writers holding at least {@linkcode LOG_BUFFER_SHARE_MIN} hold
 * their sessions back until the total is down to half.
 */
export class LogBudget {
  total = 0;
  #reported = 0;

  constructor(readonly limit: number = LOG_BUFFER_TOTAL_BYTES) {}

  /** Whether to say so in the daemon's log (at most every 10 s). */
  shouldReport(): boolean {
    const now = Date.now();
    if (now - this.#reported < 10_000) return false;
    this.#reported = now;
    return true;
  }
}

/** The current UTC time as RFC 3339 with milliseconds. */
function now(): string {
  return new Date().toISOString();
}

/** Writer of one session's log. */
export class LogWriter {
  readonly #host: LogWriterHost;
  readonly #enc = new TextEncoder();
  // The line being coalesced.
  #pending: Uint8Array[] = [];
  #pendingSize = 0;
  #pendingDir: "output" | "input" = "output";
  #pendingAt = "";
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** A seal at the end of this turn of the event loop is queued. */
  #sealSoon = false;
  /** When output was last made into a line (`performance.now()`). */
  #sealedAt = -Infinity;
  // Whole lines waiting for the disk.
  #queue: Uint8Array[] = [];
  /** Timestamp of each queued line. */
  #stamps: string[] = [];
  /** Timestamp of the last line written (a new file's `part` line gets it). */
  #writtenStamp: string;
  /** Raw pending bytes plus queued line bytes. */
  #buffered = 0;
  #wake: (() => void) | null = null;
  #sleeping: (() => void) | null = null;
  #drained: (() => void)[] = [];
  #ended = false;
  #closing = false;
  #aborted = false;
  #loop: Promise<void>;
  // The open file.
  #file: Deno.FsFile | null = null;
  #size = 0;
  #hasEntries = false;
  #part = 0;
  #reopen = false;
  #compressing: Promise<void> = Promise.resolve();
  #release: (() => void) | null = null;
  #heldSince = 0;
  /** Held for the daemon's total rather than this session's own limit. */
  #heldForTotal = false;
  #failing: string | null = null;

  /** Starts the writer; the file is opened (and repaired) in the background. */
  constructor(host: LogWriterHost) {
    this.#host = host;
    this.#writtenStamp = now();
    this.#loop = this.#run();
  }

  /** Path of the current file. */
  get path(): string {
    return `${this.#host.dir}/${logFileName(this.#host.id, 0)}`;
  }

  /** Log bytes waiting for the disk. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Why writing fails at the moment (it is being retried), or null. */
  get failing(): string | null {
    return this.#failing;
  }

  /** Records bytes the program wrote. */
  output(chunk: Uint8Array): void {
    this.#data("output", chunk);
  }

  /** Records bytes sent to the program. */
  input(chunk: Uint8Array): void {
    this.#data("input", chunk);
  }

  /** Records a terminal size change. */
  resize(cols: number, rows: number): void {
    this.#line({ timestamp: now(), session_id: this.#host.id, direction: "resize", cols, rows });
  }

  /** Records an event line. */
  event(event: string, fields: Record<string, unknown> = {}): void {
    const line: EventLine = {
      timestamp: now(),
      session_id: this.#host.id,
      direction: "event",
      event,
      ...fields,
    };
    this.#line(line);
  }

  /** Resolves once nothing recorded is waiting for the disk any more. */
  async flush(): Promise<void> {
    this.#seal();
    while (this.#buffered > 0 && !this.#ended) {
      await new Promise<void>((r) => this.#drained.push(r));
    }
  }

  /** Closes and reopens the file before the next write (after an outside rotation). */
  reopen(): void {
    this.#reopen = true;
  }

  /**
   * Writes everything buffered and closes the file. After `timeoutMs` (e.g.
   * a dead disk at shutdown) gives up, reporting how much was not written.
   */
  async close(timeoutMs = Infinity): Promise<void> {
    if (!this.#closing) {
      this.#seal();
      this.#closing = true;
      this.#kick();
    }
    if (timeoutMs !== Infinity) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)));
      const timedOut = await Promise.race([this.#loop.then(() => false), expired]);
      clearTimeout(timer);
      if (timedOut && this.#buffered > 0) {
        this.#host.log(
          `log ${this.path}: gave up writing ${this.#buffered} bytes at shutdown (${this.#failing})`,
        );
        this.#abortNow();
      }
    }
    await this.#loop;
  }

  /** Stops at once, discarding what is buffered (the logs are being deleted). */
  async abort(): Promise<void> {
    this.#closing = true;
    this.#abortNow();
    await this.#loop;
  }

  #abortNow(): void {
    this.#aborted = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#pending = [];
    this.#pendingSize = 0;
    this.#queue = [];
    this.#stamps = [];
    this.#count(-this.#buffered);
    this.#unhold();
    this.#kick();
    const s = this.#sleeping;
    this.#sleeping = null;
    s?.();
  }

  #data(direction: "output" | "input", chunk: Uint8Array): void {
    if (this.#closing) return;
    for (let at = 0; at < chunk.length; at += MAX_ENTRY_BYTES) {
      const piece = chunk.length <= MAX_ENTRY_BYTES
        ? chunk
        : chunk.subarray(at, at + MAX_ENTRY_BYTES);
      if (
        this.#pendingSize > 0 &&
        (this.#pendingDir !== direction || this.#pendingSize + piece.length > MAX_ENTRY_BYTES)
      ) {
        this.#seal();
      }
      if (this.#pendingSize === 0) {
        this.#pendingDir = direction;
        this.#pendingAt = now();
        if (performance.now() - this.#sealedAt >= COALESCE_MS) {
          // Output after a quiet spell (a line now and then): nothing to
          // coalesce it with but what arrives in the same turn of the event
          // loop, so it is written at the end of this turn, without a timer
          // (and the wakeup it costs).
          if (!this.#sealSoon) {
            this.#sealSoon = true;
            queueMicrotask(() => {
              this.#sealSoon = false;
              this.#seal();
            });
          }
        } else {
          this.#timer ??= setTimeout(() => {
            this.#timer = null;
            this.#seal();
          }, COALESCE_MS);
        }
      }
      this.#pending.push(piece);
      this.#pendingSize += piece.length;
      this.#count(piece.length);
      if (this.#pendingSize >= MAX_ENTRY_BYTES) this.#seal();
    }
    this.#checkBound();
  }

  #line(line: LogLine): void {
    if (this.#closing) return;
    this.#seal();
    this.#enqueue(this.#enc.encode(formatLine(line) + "\n"), line.timestamp);
    this.#checkBound();
  }

  /** Turns the line being coalesced into a queued line. */
  #seal(): void {
    if (this.#pendingSize === 0) return;
    this.#sealedAt = performance.now();
    const parts = this.#pending;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#pendingSize);
    const size = this.#pendingSize;
    this.#pending = [];
    this.#pendingSize = 0;
    this.#count(-size);
    const text = formatLine({
      timestamp: this.#pendingAt,
      session_id: this.#host.id,
      direction: this.#pendingDir,
      data: encodeData(bytes),
      size,
    });
    this.#enqueue(this.#enc.encode(text + "\n"), this.#pendingAt);
  }

  #enqueue(bytes: Uint8Array, stamp: string): void {
    this.#queue.push(bytes);
    this.#stamps.push(stamp);
    this.#count(bytes.length);
    this.#kick();
  }

  #kick(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Counts bytes in (or, negative, out of) the buffer, here and in the shared budget. */
  #count(delta: number): void {
    this.#buffered += delta;
    if (this.#host.budget) this.#host.budget.total += delta;
  }

  /** Whether the daemon's total is over its limit and this writer holds a share of it. */
  #overTotal(limit: number): boolean {
    const b = this.#host.budget;
    return b !== undefined && b.total > limit && this.#buffered >= LOG_BUFFER_SHARE_MIN;
  }

  #checkBound(): void {
    if (this.#release !== null) return;
    const max = this.#host.settings().maxBufferBytes;
    const own = this.#buffered > max;
    const budget = this.#host.budget;
    if (!own && !(budget && this.#overTotal(budget.limit))) return;
    this.#release = this.#host.hold();
    this.#heldSince = Date.now();
    this.#heldForTotal = !own;
    if (own) {
      this.#host.log(
        `log ${this.path}: ${this.#buffered} bytes waiting for the disk ` +
          `(log.maxBufferBytes ${max}); holding back the session's output until it catches up`,
      );
    } else if (budget && budget.shouldReport()) {
      this.#host.log(
        `logs: ${budget.total} bytes waiting for the disk across sessions (over ` +
          `${budget.limit}); holding back the busiest sessions' output until they catch up`,
      );
    }
  }

  #maybeUnhold(): void {
    if (this.#release === null) return;
    if (this.#buffered > this.#host.settings().maxBufferBytes / 2) return;
    const budget = this.#host.budget;
    if (budget && this.#overTotal(budget.limit / 2)) return;
    if (!this.#heldForTotal) {
      this.#host.log(
        `log ${this.path}: caught up; output resumed after ${Date.now() - this.#heldSince} ms`,
      );
    }
    this.#unhold();
  }

  #unhold(): void {
    const r = this.#release;
    this.#release = null;
    r?.();
  }

  /** Sleeps before a retry; only an abort ends it early. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeping = null;
        resolve();
      }, ms);
      this.#sleeping = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    let backoff = 0;
    /** The batch being written and how much of it is on disk. */
    let batch: { bytes: Uint8Array; lines: number; done: number } | null = null;
    while (!this.#aborted) {
      if (batch === null && this.#queue.length === 0) {
        if (this.#closing && this.#pendingSize === 0) break;
        await new Promise<void>((r) => (this.#wake = r));
        continue;
      }
      try {
        if (batch === null) {
          if (this.#file === null || this.#reopen) await this.#open();
          const maxBytes = this.#host.settings().maxBytes;
          const first = this.#queue[0]!;
          if (this.#hasEntries && this.#size + first.length > maxBytes) {
            await this.#rotate();
            continue;
          }
          let n = 0;
          let bytes = 0;
          while (n < this.#queue.length && bytes < BATCH_BYTES) {
            const len = this.#queue[n]!.length;
            if (n > 0 && this.#size + bytes + len > maxBytes) break;
            bytes += len;
            n++;
          }
          const lines = this.#queue.splice(0, n);
          this.#writtenStamp = this.#stamps.splice(0, n).at(-1)!;
          batch = {
            bytes: n === 1 ? lines[0]! : Buffer.concat(lines, bytes),
            lines: n,
            done: 0,
          };
        }
        const file = this.#file!;
        while (batch.done < batch.bytes.length) {
          const rest = batch.bytes.subarray(batch.done);
          // A small batch goes to the page cache at once: an asynchronous
          // write costs a round trip through a blocking thread (a dup of the
          // descriptor, two thread wakeups) that is most of the cost of a
          // line. Big batches (a flood) stay off the event loop.
          batch.done += rest.length <= SYNC_WRITE_BYTES
            ? file.writeSync(rest)
            : await file.write(rest);
        }
        this.#size += batch.bytes.length;
        this.#hasEntries = true;
        this.#count(-batch.bytes.length);
        batch = null;
        if (this.#failing !== null) {
          this.#host.log(`log ${this.path}: writing again`);
          this.#failing = null;
        }
        backoff = 0;
        this.#maybeUnhold();
        if (this.#buffered === 0) { for (const fn of this.#drained.splice(0)) fn(); }
      } catch (e) {
        const msg = (e as Error).message;
        if (this.#failing === null) {
          this.#host.log(`log ${this.path}: ${msg}; retrying (nothing is dropped)`);
        }
        this.#failing = msg;
        backoff = Math.min(Math.max(backoff * 2, 100), MAX_BACKOFF_MS);
        await this.#sleep(backoff);
      }
    }
    this.#unhold();
    if (this.#file) {
      await this.#file.syncData().catch(() => {});
      this.#file.close();
      this.#file = null;
    }
    await this.#compressing;
    this.#ended = true;
    for (const fn of this.#drained.splice(0)) fn();
  }

  /** Opens (or reopens) the current file, repairing a torn last line first. */
  async #open(): Promise<void> {
    if (this.#file) {
      const f = this.#file;
      this.#file = null;
      f.close();
    }
    this.#reopen = false;
    const { dir, id } = this.#host;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const path = this.path;
    await repairLog(dir, id, this.#host.log);
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    try {
      await Deno.chmod(path, 0o600);
      this.#size = (await file.stat()).size;
      if (this.#size === 0) {
        if (this.#part === 0) {
          const prev = await Promise.all(
            [true, false].map((gz) => partOf(`${dir}/${logFileName(id, 1, gz)}`, gz)),
          );
          this.#part = Math.max(0, ...prev.map((p) => p ?? 0));
        }
        this.#part++;
        this.#hasEntries = false;
        const header = this.#headerLine(this.#part);
        await writeAll(file, header);
        this.#size = header.length;
      } else {
        if (this.#part === 0) this.#part = (await partOf(path, false)) ?? 1;
        this.#hasEntries = true;
      }
    } catch (e) {
      file.close();
      throw e;
    }
    this.#file = file;
  }

  #headerLine(part: number): Uint8Array {
    return this.#enc.encode(
      formatLine({
        timestamp: this.#writtenStamp,
        session_id: this.#host.id,
        direction: "event",
        event: "part",
        part,
      }) + "\n",
    );
  }

  /** Rotates: shift archives, current becomes `.1`, compress `.2` in the background. */
  async #rotate(): Promise<void> {
    await this.#compressing;
    const { dir, id } = this.#host;
    const keep = this.#host.settings().keep;
    // Renumbering never interleaves with a compression of the same
    // session's archives (e.g. the one the daemon runs at start).
    await withArchiveLock(id, async () => {
      const archives = await listArchives(dir, id);
      archives.sort((a, b) => b.n - a.n);
      for (const a of archives) {
        const from = `${dir}/${a.name}`;
        if (a.n >= keep) await removeIfThere(from);
        else await Deno.rename(from, `${dir}/${logFileName(id, a.n + 1, a.gz)}`);
      }
      if (this.#file) {
        const f = this.#file;
        this.#file = null;
        f.close();
      }
      if (keep >= 1) await Deno.rename(this.path, `${dir}/${logFileName(id, 1)}`);
      else await removeIfThere(this.path);
    });
    this.#compressing = compressArchives(dir, id).catch((e) =>
      this.#host.log(`log ${this.path}: cannot compress an archive: ${(e as Error).message}`)
    );
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

async function removeIfThere(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

const archiveLocks = new Map<string, Promise<void>>();

/**
 * Runs `fn` alone among the archive operations of session `id` (renumbering
 * at rotation, compression): each names files by number, so two at once
 * could remove or overwrite the wrong file.
 */
export function withArchiveLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
  const previous = archiveLocks.get(id) ?? Promise.resolve();
  const run = previous.then(fn);
  const tail = run.then(() => {}, () => {});
  archiveLocks.set(id, tail);
  void tail.then(() => {
    if (archiveLocks.get(id) === tail) archiveLocks.delete(id);
  });
  return run;
}

/** Every archive of a session, plain and compressed alike. */
async function listArchives(
  dir: string,
  id: string,
): Promise<{ name: string; n: number; gz: boolean }[]> {
  const out: { name: string; n: number; gz: boolean }[] = [];
  for await (const e of Deno.readDir(dir)) {
    const f = parseLogFileName(e.name);
    if (f && f.id === id && f.n > 0) out.push(f);
  }
  return out;
}

/**
 * Compresses every plain archive numbered 2 or more: `.N.jsonl` to
 * `.N.jsonl.gz` (through a temp file and a rename, so a compressed archive is
 * always complete), then removes the plain one.
 */
export function compressArchives(dir: string, id: string): Promise<void> {
  return withArchiveLock(id, () => compressUnlocked(dir, id));
}

async function compressUnlocked(dir: string, id: string): Promise<void> {
  const all = await listArchives(dir, id);
  const gz = new Set(all.filter((a) => a.gz).map((a) => a.n));
  for (const a of all) {
    if (a.gz || a.n < 2) continue;
    const plain = `${dir}/${a.name}`;
    const target = `${dir}/${logFileName(id, a.n, true)}`;
    if (!gz.has(a.n)) {
      const tmp = `${target}.tmp`;
      await gzipFile(plain, tmp);
      await Deno.rename(tmp, target);
    }
    await removeIfThere(plain);
  }
}

/**
 * Repairs a session's current log file after a daemon died while writing
 * it: cuts a torn last line and appends a `repaired` event line saying how
 * many bytes were cut. Resolves with that count (0: nothing to do).
 */
export async function repairLog(
  dir: string,
  id: string,
  log: (msg: string) => void,
): Promise<number> {
  const path = `${dir}/${logFileName(id, 0)}`;
  const dropped = await repairTail(path);
  if (dropped > 0) {
    const note = formatLine({
      timestamp: now(),
      session_id: id,
      direction: "event",
      event: "repaired",
      dropped,
    });
    await Deno.writeTextFile(path, note + "\n", { append: true });
    log(`log ${path}: cut a torn last line (${dropped} bytes)`);
  }
  return dropped;
}

/**
 * Cuts a torn last line (bytes after the last newline) off a log file.
 * Returns how many bytes were cut (0 when the file is whole or missing).
 */
export async function repairTail(path: string): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
  try {
    const size = (await file.stat()).size;
    if (size === 0) return 0;
    const buf = new Uint8Array(64 * 1024);
    let end = size;
    let lastNl = -1;
    while (end > 0 && lastNl === -1) {
      const start = Math.max(0, end - buf.length);
      await file.seek(start, Deno.SeekMode.Start);
      const want = end - start;
      let got = 0;
      while (got < want) {
        const n = await file.read(buf.subarray(got, want));
        if (n === null) break;
        got += n;
      }
      const i = buf.subarray(0, got).lastIndexOf(10);
      if (i !== -1) lastNl = start + i;
      end = start;
    }
    const keep = lastNl + 1;
    if (keep === size) return 0;
    await file.truncate(keep);
    return size - keep;
  } finally {
    file.close();
  }
}
