/**
 * A pseudo-terminal pair driven through libc by FFI.
 *
 * The master is opened non-blocking and close-on-exec. Reading and writing
 * never block the event loop: a reader waits in poll(2) on a worker thread
 * (FFI `nonblocking`), then drains with non-blocking reads; writes are queued
 * and flushed with non-blocking writes, waiting in poll(2) for POLLOUT when
 * the PTY is full. A wake pipe ends both waits on close.
 *
 * The daemon also holds the slave open (O_NOCTTY) while the program runs, so
 * the PTY cannot hang up before the program has opened it; {@linkcode Pty.releaseSlave}
 * drops it once the program has exited, after which the master reports EOF
 * when the last slave descriptor closes.
 *
 * @module
 */

import * as fs from "node:fs";
import { C, errno, libc, POLL, setWindowSize, wakePipe } from "./_platform.ts";

const READ_CHUNK = 64 * 1024;
/** At most this many bytes are read per wake-up before yielding to the event loop. */
const READ_BURST = 1024 * 1024;

/** Callbacks of a running reader. */
export interface PtyReader {
  /** Called with each chunk read from the master (the buffer is owned by the callee). */
  onData(chunk: Uint8Array): void;
  /** Called once when the master reports EOF/hang-up or the PTY is closed. */
  onEnd(): void;
}

/** One PTY pair. */
export class Pty {
  /** Master file descriptor (non-blocking, close-on-exec). */
  readonly fd: number;
  /** Path of the slave, e.g. `/dev/pts/3`. */
  readonly path: string;
  #slaveFd: number | null;
  #wake: [number, number];
  #closed = false;
  #readLoop: Promise<void> | null = null;
  #paused: { resume: () => void; promise: Promise<void> } | null = null;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #writeLoop: Promise<void> | null = null;
  #cols: number;
  #rows: number;

  private constructor(fd: number, path: string, slaveFd: number, cols: number, rows: number) {
    this.fd = fd;
    this.path = path;
    this.#slaveFd = slaveFd;
    this.#wake = wakePipe();
    this.#cols = cols;
    this.#rows = rows;
  }

  /** Opens a new PTY pair of the given size. */
  static open(cols: number, rows: number): Pty {
    const c = fs.constants;
    const fd = fs.openSync("/dev/ptmx", c.O_RDWR | c.O_NOCTTY | c.O_NONBLOCK);
    try {
      const s = libc();
      if (s.grantpt(fd) !== 0) throw new Error(`grantpt failed (errno ${errno()})`);
      if (s.unlockpt(fd) !== 0) throw new Error(`unlockpt failed (errno ${errno()})`);
      const namePtr = s.ptsname(fd);
      if (!namePtr) throw new Error(`ptsname failed (errno ${errno()})`);
      const path = Deno.UnsafePointerView.getCString(namePtr);
      const slaveFd = fs.openSync(path, c.O_RDWR | c.O_NOCTTY);
      setWindowSize(fd, path, cols, rows);
      return new Pty(fd, path, slaveFd, cols, rows);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Current size. */
  get size(): { cols: number; rows: number } {
    return { cols: this.#cols, rows: this.#rows };
  }

  /** Resizes the terminal; the kernel sends SIGWINCH to its foreground process group. */
  resize(cols: number, rows: number): void {
    if (this.#closed) return;
    setWindowSize(this.fd, this.path, cols, rows);
    this.#cols = cols;
    this.#rows = rows;
  }

  /** Starts the read loop. Call once. */
  startReading(reader: PtyReader): void {
    if (this.#readLoop) throw new Error("already reading");
    this.#readLoop = this.#read(reader);
  }

  /**
   * Stops reading until {@linkcode Pty.resume} (back-pressure: the program
   * blocks once the kernel buffer fills).
   */
  pause(): void {
    if (this.#paused) return;
    let resume!: () => void;
    const promise = new Promise<void>((r) => (resume = r));
    this.#paused = { resume, promise };
  }

  /** Resumes reading after {@linkcode Pty.pause}. */
  resume(): void {
    const p = this.#paused;
    this.#paused = null;
    p?.resume();
  }

  /** Bytes queued for writing to the program and not yet accepted by the kernel. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Queues bytes for the program. Never blocks. */
  write(data: Uint8Array): void {
    if (this.#closed || data.length === 0) return;
    this.#queue.push(data);
    this.#queued += data.length;
    if (!this.#writing) {
      this.#writing = true;
      this.#writeLoop = this.#flush();
    }
  }

  /** Closes the daemon's slave descriptor (after the program has exited). */
  releaseSlave(): void {
    if (this.#slaveFd === null) return;
    const fd = this.#slaveFd;
    this.#slaveFd = null;
    try {
      fs.closeSync(fd);
    } catch { /* already closed */ }
  }

  /** Stops reading and writing and closes every descriptor. Pending writes are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    const s = libc();
    s.write(this.#wake[1], new Uint8Array([1]), 1n);
    await Promise.allSettled([this.#readLoop, this.#writeLoop]);
    this.releaseSlave();
    this.#queue = [];
    this.#queued = 0;
    for (const fd of [this.fd, this.#wake[0], this.#wake[1]]) {
      try {
        fs.closeSync(fd);
      } catch { /* ignore */ }
    }
  }

  /** Waits until `events` are ready on the master or the PTY is being closed. */
  async #poll(events: number): Promise<number> {
    const fds = new Uint8Array(16);
    const view = new DataView(fds.buffer);
    view.setInt32(0, this.fd, true);
    view.setInt16(4, events, true);
    view.setInt32(8, this.#wake[0], true);
    view.setInt16(12, POLL.IN, true);
    while (true) {
      const n = await libc().poll(fds, 2n, -1);
      if (this.#closed) return 0;
      if (n < 0) continue; // EINTR
      return view.getInt16(6, true);
    }
  }

  async #read(reader: PtyReader): Promise<void> {
    const s = libc();
    const buf = new Uint8Array(READ_CHUNK);
    try {
      outer: while (!this.#closed) {
        if (this.#paused) await this.#paused.promise;
        if (this.#closed) break;
        const revents = await this.#poll(POLL.IN);
        if (this.#closed) break;
        let burst = 0;
        // A pause (back-pressure) takes effect at once, not after the burst.
        while (burst < READ_BURST && !this.#paused) {
          const n = Number(s.read(this.fd, buf, BigInt(buf.length)));
          if (n > 0) {
            burst += n;
            reader.onData(buf.slice(0, n));
            continue;
          }
          const err = n < 0 ? errno() : 0;
          if (n < 0 && (err === C.EAGAIN || err === C.EINTR)) {
            // Nothing more now. A hang-up with nothing left to read means EOF.
            if (burst === 0 && (revents & (POLL.HUP | POLL.ERR | POLL.NVAL)) !== 0) break outer;
            break;
          }
          // 0 (EOF) or EIO (Linux: every slave descriptor closed).
          break outer;
        }
      }
    } finally {
      reader.onEnd();
    }
  }

  async #flush(): Promise<void> {
    const s = libc();
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const head = this.#queue[0]!;
        const n = Number(s.write(this.fd, head, BigInt(head.length)));
        if (n > 0) {
          this.#queued -= n;
          if (n === head.length) this.#queue.shift();
          else this.#queue[0] = head.subarray(n);
          continue;
        }
        const err = errno();
        if (n < 0 && (err === C.EAGAIN || err === C.EINTR)) {
          await this.#poll(POLL.OUT);
          continue;
        }
        // The PTY is gone; drop what is left.
        this.#queue = [];
        this.#queued = 0;
      }
    } finally {
      this.#writing = false;
    }
  }
}
