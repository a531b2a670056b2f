/**
 * A pseudo-terminal pair driven through libc by FFI.
 *
 * The master is opened non-blocking and close-on-exec. Reading never blocks
 * the event loop, nor holds a thread of Deno's blocking pool: every master of
 * the process is watched by one PTY reactor thread (`_pty_reactor.ts`), which
 * reads what is ready and hands it over. Writes are queued and flushed with
 * non-blocking writes; when a master is full the reactor says when it drains.
 *
 * The daemon also holds the slave open (O_NOCTTY) while the program runs, so
 * the PTY cannot hang up before the program has opened it;
 * {@linkcode Pty.releaseSlave} drops it once the program has exited, after
 * which the master reports EOF when the last slave descriptor closes.
 *
 * @module
 */

import * as fs from "node:fs";
import { C, errno, libc, setWindowSize } from "./_platform.ts";
import { PtyReactor } from "./_pty_reactor.ts";
import { PTY_LIVE_MS } from "./limits.ts";

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
  #closed = false;
  #reactor: PtyReactor | null = null;
  #reader: PtyReader | null = null;
  #ended = false;
  #paused = false;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #waitingWritable = false;
  #cols: number;
  #rows: number;
  /** Watched by a client (`watched`), or sent input until `#inputLiveUntil`. */
  #watched = false;
  #inputLiveUntil = 0;
  #liveTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the reactor was last told. */
  #live = false;

  private constructor(fd: number, path: string, slaveFd: number, cols: number, rows: number) {
    this.fd = fd;
    this.path = path;
    this.#slaveFd = slaveFd;
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

  /** Starts reading (and watching for writability). Call once. */
  startReading(reader: PtyReader): void {
    if (this.#reader) throw new Error("already reading");
    this.#reader = reader;
    this.#reactor = PtyReactor.get();
    this.#reactor.add(this.fd, {
      data: (chunk) => {
        if (!this.#ended) reader.onData(chunk);
      },
      end: () => this.#end(),
      writable: () => {
        this.#waitingWritable = false;
        this.#flush();
      },
    });
    if (this.#paused) this.#reactor.pause(this.fd);
    this.#updateLive();
  }

  /**
   * Whether someone watches the output as it comes (an attached client): the
   * reactor then reads it at once instead of once a quiet tick while it
   * trickles. Input written makes it so for `PTY_LIVE_MS` too.
   */
  set watched(on: boolean) {
    this.#watched = on;
    this.#updateLive();
  }

  #updateLive(): void {
    const now = Date.now();
    const live = !this.#closed && (this.#watched || now < this.#inputLiveUntil);
    if (live !== this.#live && this.#reactor) {
      this.#live = live;
      this.#reactor.live(this.fd, live);
    }
    if (live && !this.#watched && this.#liveTimer === undefined) {
      this.#liveTimer = setTimeout(() => {
        this.#liveTimer = undefined;
        this.#updateLive();
      }, Math.max(1, this.#inputLiveUntil - now));
      Deno.unrefTimer(this.#liveTimer);
    }
  }

  /**
   * Stops reading until {@linkcode Pty.resume} (back-pressure: the program
   * blocks once the kernel buffer fills). Output already read still arrives.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    if (!this.#closed) this.#reactor?.pause(this.fd);
  }

  /** Resumes reading after {@linkcode Pty.pause}. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#closed) this.#reactor?.resume(this.fd);
  }

  /** Bytes queued for writing to the program and not yet accepted by the kernel. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Queues bytes for the program. Never blocks. */
  write(data: Uint8Array): void {
    if (this.#closed || data.length === 0) return;
    this.#inputLiveUntil = Date.now() + PTY_LIVE_MS;
    if (!this.#live) this.#updateLive();
    this.#queue.push(data);
    this.#queued += data.length;
    if (!this.#waitingWritable) this.#flush();
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
    clearTimeout(this.#liveTimer);
    this.#liveTimer = undefined;
    // The reactor must let go of the fd before it is closed (its number
    // could be reused at once).
    await this.#reactor?.remove(this.fd);
    this.#end();
    this.releaseSlave();
    this.#queue = [];
    this.#queued = 0;
    try {
      fs.closeSync(this.fd);
    } catch { /* ignore */ }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reader?.onEnd();
  }

  /** Writes what the kernel takes now; when the PTY is full, waits for the reactor's word. */
  #flush(): void {
    const s = libc();
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
      if (n < 0 && err === C.EINTR) continue;
      if ((n < 0 && err === C.EAGAIN) || n === 0) {
        if (this.#reactor && !this.#ended) {
          this.#waitingWritable = true;
          this.#reactor.wantWrite(this.fd);
          return;
        }
      }
      // The PTY is gone (or never read): drop what is left.
      this.#queue = [];
      this.#queued = 0;
    }
  }
}
