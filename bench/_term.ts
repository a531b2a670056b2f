/**
 * A terminal for benchmarks, read synchronously in a tight loop: a program
 * (a client such as `claude-sessions attach`, `tmux attach`, or the measured
 * program itself for the bare-PTY floor) runs on a PTY whose master this
 * process reads with poll(2) and read(2) directly — no reactor thread, no
 * messages between threads — so the reading side costs as little as a
 * terminal can and the timings are the measured system's.
 *
 * Reading blocks this thread: nothing else of the benchmark runs meanwhile.
 *
 * @module
 */

import { Pty } from "../src/daemon/pty.ts";
import { C, errno, libc, POLL } from "../src/daemon/_platform.ts";
import { spawnOnTerminal } from "../test/_term.ts";

/** A program on a terminal this process reads synchronously. */
export class SyncTerm {
  readonly pty: Pty;
  readonly child: Deno.ChildProcess;
  /** Bytes read so far. */
  bytes = 0;
  /** The master reported end-of-file (every process closed the terminal). */
  ended = false;
  #buf = new Uint8Array(256 * 1024);
  #pollfd = new Uint8Array(8);
  #tail = new Uint8Array(0);

  private constructor(pty: Pty, child: Deno.ChildProcess) {
    this.pty = pty;
    this.child = child;
    new DataView(this.#pollfd.buffer).setInt32(0, pty.fd, true);
  }

  /** Runs `argv` on a new terminal of the given size. */
  static spawn(
    argv: string[],
    env: Record<string, string>,
    size = { cols: 100, rows: 30 },
  ): SyncTerm {
    const pty = Pty.open(size.cols, size.rows);
    const child = spawnOnTerminal(pty, argv, env);
    // This process holds the terminal open too (until `drain`): the program
    // may open it after the first read, which would otherwise see no one
    // there and end.
    return new SyncTerm(pty, child);
  }

  /**
   * Waits up to `ms` for output and reads what is there (one read). Returns
   * the chunk (a view valid until the next read), or null on timeout or end.
   */
  read(ms: number): Uint8Array | null {
    if (this.ended) return null;
    const s = libc();
    const view = new DataView(this.#pollfd.buffer);
    view.setInt16(4, POLL.IN, true);
    view.setInt16(6, 0, true);
    while (true) {
      const r = s.pollSync(this.#pollfd, 1n, Math.max(0, Math.round(ms)));
      if (r < 0 && errno() === C.EINTR) continue;
      if (r <= 0) return null;
      const n = Number(s.read(this.pty.fd, this.#buf, BigInt(this.#buf.length)));
      if (n > 0) {
        this.bytes += n;
        return this.#buf.subarray(0, n);
      }
      const e = errno();
      if (n < 0 && (e === C.EINTR || e === C.EAGAIN)) continue;
      this.ended = true;
      return null;
    }
  }

  /**
   * Reads until `needle` has been written (found across chunk boundaries);
   * returns `performance.now()` when it arrived.
   * @throws when it does not come within `ms`, or the terminal ends first
   */
  until(needle: string, ms: number): number {
    const want = new TextEncoder().encode(needle);
    const deadline = performance.now() + ms;
    while (true) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no "${printable(needle)}" within ${ms} ms`);
      const chunk = this.read(left);
      if (!chunk) {
        if (this.ended) throw new Error(`the terminal ended without "${printable(needle)}"`);
        continue;
      }
      const at = performance.now();
      // The tail of the previous chunk, so a needle split across reads is found.
      const hay = this.#tail.length ? concat(this.#tail, chunk) : chunk;
      if (find(hay, want)) {
        this.#tail = new Uint8Array(0);
        return at;
      }
      this.#tail = hay.slice(Math.max(0, hay.length - want.length + 1));
    }
  }

  /**
   * Reads until end-of-file (once the program and its children have closed
   * the terminal, after their first output); returns when it came.
   */
  drain(ms: number): number {
    const deadline = performance.now() + ms;
    while (!this.ended) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the terminal did not end within ${ms} ms`);
      if (this.read(left)) this.pty.releaseSlave();
    }
    return performance.now();
  }

  /** Reads whatever arrives within `ms` and discards it. */
  skip(ms: number): void {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline && this.read(deadline - performance.now())) {
      // discarded
    }
    this.#tail = new Uint8Array(0);
  }

  /** Types `data` (written whole, synchronously). */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const s = libc();
    let off = 0;
    while (off < bytes.length) {
      const n = Number(s.write(this.pty.fd, bytes.subarray(off), BigInt(bytes.length - off)));
      if (n > 0) off += n;
      else if (errno() !== C.EAGAIN && errno() !== C.EINTR) {
        throw new Error("terminal write failed");
      }
    }
  }

  /** Kills the program (if it still runs) and closes the terminal. */
  async close(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.child.status;
    await this.pty.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function find(hay: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0]!;
  for (let i = hay.indexOf(first); i >= 0; i = hay.indexOf(first, i + 1)) {
    if (i + needle.length > hay.length) return false;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
  }
  return false;
}

function printable(s: string): string {
  return s.replace(
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
