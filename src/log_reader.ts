/**
 * Reading a session's I/O log: every file (archives first, oldest first,
 * gzip-compressed ones transparently), skipping lines that do not parse (a
 * torn last line), and optionally following the current file as it grows,
 * across rotations, until aborted.
 *
 * The reader never takes a lock: it opens every file of a consistent
 * snapshot (listing again until nothing moved in between), so a rotation
 * while reading neither repeats nor skips a file. When following, it tells a
 * rotation by the current path naming another file, finishes the old one
 * (the daemon renames a file only after writing its last line), and uses the
 * `part` numbers heading each file to pick up any file it would otherwise
 * have missed.
 *
 * @module
 */

import { listLogFiles, type LogFile, logFileName, type LogLine, parseLine } from "./log_format.ts";

/** One file of a snapshot, opened. */
export interface OpenLog {
  file: LogFile;
  path: string;
  handle: Deno.FsFile;
  ino: number | null;
  /** Size when opened. */
  size: number;
}

/** A line read from a log: its text and what it parses to. */
export interface ReadLine {
  text: string;
  line: LogLine;
}

/** Options of {@linkcode readLog}. */
export interface ReadOptions {
  /** Keep reading as the log grows, until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Told about problems that do not stop reading (an unreadable archive, missed files). */
  onNotice?: (msg: string) => void;
}

const READ_SIZE = 1024 * 1024;
/** How long a follower keeps looking for a rotated part it missed that should be there. */
const MISSED_PART_WAIT_MS = 10_000;
/** How often a follower looks at the file when no change notification came. */
const FOLLOW_TICK_MS = 500;

/**
 * Splits bytes into lines (without their newline). A line is decoded once
 * it is complete; the unfinished rest is carried to the next push.
 */
export class LineSplitter {
  #carry: Uint8Array[] = [];
  #carrySize = 0;
  #decoder = new TextDecoder();

  /** Feeds bytes; returns the lines they complete. */
  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) {
        this.#carry.push(chunk.slice(start));
        this.#carrySize += chunk.length - start;
        break;
      }
      const piece = chunk.subarray(start, nl);
      if (this.#carry.length === 0) {
        out.push(this.#decoder.decode(piece));
      } else {
        const all = new Uint8Array(this.#carrySize + piece.length);
        let at = 0;
        for (const c of this.#carry) {
          all.set(c, at);
          at += c.length;
        }
        all.set(piece, at);
        this.#carry = [];
        this.#carrySize = 0;
        out.push(this.#decoder.decode(all));
      }
      start = nl + 1;
    }
    return out;
  }

  /** Bytes of an unfinished line held. */
  get pending(): number {
    return this.#carrySize;
  }

  /** The unfinished rest (a line without newline), and forgets it. */
  rest(): string | null {
    if (this.#carrySize === 0) return null;
    const text = this.push(new Uint8Array([10]))[0] ?? null;
    return text;
  }
}

/**
 * Opens every log file of a session, oldest first, as one consistent
 * snapshot: when a rotation moved files while they were being opened, it
 * starts over (a few times, then settles for the last attempt).
 */
export async function openLogFiles(dir: string, id: string): Promise<OpenLog[]> {
  for (let attempt = 0;; attempt++) {
    const last = attempt >= 9;
    const list = await listLogFiles(dir, id);
    const opened: OpenLog[] = [];
    let moved = false;
    for (const file of list) {
      const path = `${dir}/${file.name}`;
      try {
        const handle = await Deno.open(path, { read: true });
        const st = await handle.stat();
        opened.push({ file, path, handle, ino: st.ino, size: st.size });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) {
          closeAll(opened);
          throw e;
        }
        moved = true;
        if (!last) break;
      }
    }
    if (!moved) {
      const again = await listLogFiles(dir, id);
      moved = again.length !== list.length || again.some((f, i) => f.name !== list[i]!.name);
      if (!moved) {
        for (const o of opened) {
          const ino = await Deno.stat(o.path).then((s) => s.ino, () => -1);
          if (ino !== o.ino) moved = true;
        }
      }
    }
    if (!moved || last) return opened;
    closeAll(opened);
  }
}

function closeAll(list: OpenLog[]): void {
  for (const o of list) {
    try {
      o.handle.close();
    } catch { /* closed by a finished stream */ }
  }
}

/** The decompressed content of an opened file (closes the handle when done). */
function contentStream(o: OpenLog): ReadableStream<Uint8Array> {
  const raw = o.handle.readable;
  return o.file.gz ? raw.pipeThrough(new DecompressionStream("gzip")) : raw;
}

/** Parsed lines of a stream; lines that do not parse are skipped. */
async function* parsedLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<ReadLine> {
  const splitter = new LineSplitter();
  for await (const chunk of stream) {
    for (const text of splitter.push(chunk)) {
      const line = parseLine(text);
      if (line) yield { text, line };
    }
  }
  const rest = splitter.rest();
  const line = rest === null ? null : parseLine(rest);
  if (rest !== null && line) yield { text: rest, line };
}

/** The first line of a log file (plain or gzip), or null. */
export async function firstLine(path: string, gz: boolean): Promise<string | null> {
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(path, { read: true });
  } catch {
    return null;
  }
  const stream = gz
    ? handle.readable.pipeThrough(new DecompressionStream("gzip"))
    : handle.readable;
  const reader = stream.getReader();
  const splitter = new LineSplitter();
  let seen = 0;
  try {
    while (seen < 1024 * 1024) {
      const r = await reader.read();
      if (r.done) return splitter.rest();
      seen += r.value.length;
      const lines = splitter.push(r.value);
      if (lines.length > 0) return lines[0]!;
    }
    return null;
  } catch {
    return null;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The `part` number heading a log file, or null. */
export async function partOf(path: string, gz: boolean): Promise<number | null> {
  const text = await firstLine(path, gz);
  const line = text === null ? null : parseLine(text);
  if (line?.direction === "event" && line.event === "part" && typeof line.part === "number") {
    return line.part;
  }
  return null;
}

/**
 * Every line of a session's log, oldest first. With `follow`, keeps
 * yielding lines as they are written, across rotations, until `signal`
 * aborts.
 */
export async function* readLog(
  dir: string,
  id: string,
  opts: ReadOptions = {},
): AsyncGenerator<ReadLine> {
  const files = await openLogFiles(dir, id);
  let lastPart = 0;
  let current: OpenLog | null = null;
  try {
    for (let i = 0; i < files.length; i++) {
      const o = files[i]!;
      if (opts.signal?.aborted) return;
      if (opts.follow && o.file.n === 0) {
        current = o;
        break;
      }
      try {
        for await (const r of parsedLines(contentStream(o))) {
          if (r.line.direction === "event" && r.line.event === "part") {
            lastPart = Number(r.line.part) || lastPart;
          }
          yield r;
        }
      } catch (e) {
        opts.onNotice?.(`cannot read ${o.path}: ${(e as Error).message}`);
      }
    }
    if (!opts.follow) return;
    yield* follow(dir, id, current, lastPart, opts);
  } finally {
    closeAll(files);
  }
}

async function* follow(
  dir: string,
  id: string,
  start: OpenLog | null,
  lastPartBefore: number,
  opts: ReadOptions,
): AsyncGenerator<ReadLine> {
  const path = `${dir}/${logFileName(id, 0)}`;
  const signal = opts.signal ?? new AbortController().signal;
  const waker = new Waker(dir, signal);
  const buf = new Uint8Array(READ_SIZE);
  let cur = start;
  let splitter = new LineSplitter();
  let lastPart = lastPartBefore;
  let fresh = true;
  /** Where a read-again after a cut began (so it is done once per place). */
  let resyncedAt = -1;

  /**
   * Goes back to where the unfinished line began. A new daemon that finds a
   * torn last line cuts it off in place and appends after the cut: the
   * unfinished line is gone and the file goes on from where it began.
   */
  async function resync(handle: Deno.FsFile, at: number): Promise<void> {
    resyncedAt = at;
    await handle.seek(at, Deno.SeekMode.Start);
    splitter = new LineSplitter();
  }

  /** Lines of `cur` available now; the first line of a file may reveal missed files. */
  async function* drain(): AsyncGenerator<ReadLine> {
    reading: while (cur) {
      const lineStart = (await cur.handle.seek(0, Deno.SeekMode.Current)) - splitter.pending;
      const spanned = splitter.pending > 0;
      const n = await cur.handle.read(buf);
      if (n === null || n === 0) return;
      const lines = splitter.push(buf.subarray(0, n));
      // A line begun in an earlier read must still be in the file as read: a
      // torn last line cut off under us and written over would otherwise be
      // glued to the middle of what replaced it (and might even parse).
      if (spanned && lines.length > 0 && resyncedAt !== lineStart) {
        if (!(await stillThere(cur.handle, lineStart, lines[0]!))) {
          await resync(cur.handle, lineStart);
          continue reading;
        }
      }
      for (let i = 0; i < lines.length; i++) {
        const text = lines[i]!;
        const line = parseLine(text);
        if (!line) {
          // A line begun in an earlier read that does not parse: the file was
          // cut under us and written on, gluing two lines. Read it again.
          if (i === 0 && spanned && resyncedAt !== lineStart) {
            await resync(cur.handle, lineStart);
            continue reading;
          }
          continue;
        }
        if (line.direction === "event" && line.event === "part" && typeof line.part === "number") {
          if (fresh && lastPart > 0 && line.part > lastPart + 1) {
            yield* missed(dir, id, lastPart, line.part, opts);
          }
          lastPart = line.part;
        }
        fresh = false;
        yield { text, line };
      }
    }
  }

  try {
    while (!signal.aborted) {
      if (!cur) {
        try {
          const handle = await Deno.open(path, { read: true });
          const st = await handle.stat();
          cur = {
            file: { name: logFileName(id, 0), n: 0, gz: false },
            path,
            handle,
            ino: st.ino,
            size: 0,
          };
          splitter = new LineSplitter();
          fresh = true;
        } catch {
          await waker.wait();
          continue;
        }
      }
      let got = false;
      for await (const r of drain()) {
        got = true;
        yield r;
        if (signal.aborted) return;
      }
      if (got) continue;
      const st = await Deno.stat(path).then((s) => s, () => null);
      const ino = st?.ino ?? null;
      if (ino === cur.ino && st) {
        // Cut below what was read (a torn last line repaired): go back to
        // where the unfinished line began.
        const pos = await cur.handle.seek(0, Deno.SeekMode.Current);
        if (st.size < pos) {
          await resync(cur.handle, Math.min(st.size, pos - splitter.pending));
          continue;
        }
      }
      if (ino !== null && ino !== cur.ino) {
        // Rotated: a new file is in place, so the daemon has finished the old
        // one. (While no file is at the path — moved away by an outside tool,
        // and the daemon not yet told to reopen — it still writes the old one:
        // keep following that.) Finish it, then move on.
        for await (const r of drain()) yield r;
        cur.handle.close();
        cur = null;
        continue;
      }
      await waker.wait();
    }
  } finally {
    waker.close();
    if (cur) {
      try {
        cur.handle.close();
      } catch { /* closed */ }
    }
  }
}

/** Whether the file holds `text` (and its newline) at `at`; the read position is kept. */
async function stillThere(handle: Deno.FsFile, at: number, text: string): Promise<boolean> {
  const want = new TextEncoder().encode(text + "\n");
  const here = await handle.seek(0, Deno.SeekMode.Current);
  try {
    await handle.seek(at, Deno.SeekMode.Start);
    const got = new Uint8Array(want.length);
    let off = 0;
    while (off < got.length) {
      const n = await handle.read(got.subarray(off));
      if (n === null || n === 0) return false;
      off += n;
    }
    return got.every((b, i) => b === want[i]);
  } finally {
    await handle.seek(here, Deno.SeekMode.Start);
  }
}

/**
 * Lines of the files numbered `after` < part < `before`, found among the
 * archives by the part number each one starts with (not by archive number:
 * rotations renumber archives, and compression replaces them, while we
 * look). Every archive is opened before any is chosen — an open file keeps
 * its content through renames and deletion — and the directory is listed
 * again while a wanted part is missing.
 */
async function* missed(
  dir: string,
  id: string,
  after: number,
  before: number,
  opts: ReadOptions,
): AsyncGenerator<ReadLine> {
  const wanted = before - after - 1;
  const found = new Map<number, Opened>();
  try {
    // Listing a directory while files are renamed in it can miss one (it
    // moved from a name not yet listed to one already listed): list again
    // until every wanted part is found, or it is clear that some are gone.
    // A part older than the oldest archive was deleted (log.keep); any other
    // is there, maybe under a name the listing missed: keep looking (a busy
    // machine can take a while over a rotation's renames and compression).
    const deadline = Date.now() + MISSED_PART_WAIT_MS;
    for (let attempt = 0; found.size < wanted; attempt++) {
      if (attempt > 0) {
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, Math.min(50, 5 * attempt)));
      }
      let oldest = Infinity;
      for (const f of await listLogFiles(dir, id)) {
        if (f.n === 0) continue;
        const path = `${dir}/${f.name}`;
        let handle: Deno.FsFile;
        try {
          handle = await Deno.open(path, { read: true });
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
          continue;
        }
        const o = await openedWithPart({ file: f, path, handle, ino: null, size: 0 });
        if (o.part !== null) oldest = Math.min(oldest, o.part);
        if (o.part !== null && o.part > after && o.part < before && !found.has(o.part)) {
          found.set(o.part, o);
        } else {
          await o.reader.cancel().catch(() => {});
        }
      }
      let waitFor = 0;
      for (let p = after + 1; p < before; p++) if (!found.has(p) && p >= oldest) waitFor++;
      // Concluded only after a few listings: one can miss even the oldest.
      if (waitFor === 0 && attempt >= 2) break;
    }
    let lost = 0;
    for (let p = after + 1; p < before; p++) {
      const o = found.get(p);
      if (!o) {
        lost++;
        continue;
      }
      found.delete(p);
      yield* linesOf(o);
    }
    if (lost > 0) {
      opts.onNotice?.(`${lost} rotated log file(s) were deleted before they could be read`);
    }
  } finally {
    for (const o of found.values()) await o.reader.cancel().catch(() => {});
  }
}

/** An opened log file whose first line (its part number) has been read. */
interface Opened {
  part: number | null;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  splitter: LineSplitter;
  /** Lines read ahead while looking for the first one. */
  ahead: string[];
}

async function openedWithPart(o: OpenLog): Promise<Opened> {
  const reader = contentStream(o).getReader();
  const splitter = new LineSplitter();
  const ahead: string[] = [];
  let seen = 0;
  try {
    while (ahead.length === 0 && seen < 1024 * 1024) {
      const r = await reader.read();
      if (r.done) break;
      seen += r.value.length;
      ahead.push(...splitter.push(r.value));
    }
  } catch { /* unreadable: no part */ }
  const first = ahead[0] === undefined ? null : parseLine(ahead[0]);
  const part = first?.direction === "event" && first.event === "part" &&
      typeof first.part === "number"
    ? first.part
    : null;
  return { part, reader, splitter, ahead };
}

async function* linesOf(o: Opened): AsyncGenerator<ReadLine> {
  const emit = function* (texts: string[]): Generator<ReadLine> {
    for (const text of texts) {
      const line = parseLine(text);
      if (line) yield { text, line };
    }
  };
  yield* emit(o.ahead);
  try {
    while (true) {
      const r = await o.reader.read();
      if (r.done) break;
      yield* emit(o.splitter.push(r.value));
    }
  } finally {
    await o.reader.cancel().catch(() => {});
  }
}

/** Wakes a follower on a change in the logs directory, on abort, or after a tick. */
class Waker {
  #watcher: Deno.FsWatcher | null = null;
  #waiters: (() => void)[] = [];
  #onAbort = () => this.#wake();
  #signal: AbortSignal;

  constructor(dir: string, signal: AbortSignal) {
    this.#signal = signal;
    signal.addEventListener("abort", this.#onAbort);
    try {
      this.#watcher = Deno.watchFs(dir, { recursive: false });
      void this.#pump(this.#watcher);
    } catch { /* no notifications: the tick still works */ }
  }

  async #pump(w: Deno.FsWatcher): Promise<void> {
    try {
      for await (const _ of w) this.#wake();
    } catch { /* closed */ }
  }

  #wake(): void {
    for (const fn of this.#waiters.splice(0)) fn();
  }

  wait(): Promise<void> {
    if (this.#signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, FOLLOW_TICK_MS);
      const waiters = this.#waiters;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      waiters.push(done);
    });
  }

  close(): void {
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#wake();
    try {
      this.#watcher?.close();
    } catch { /* closed */ }
  }
}
