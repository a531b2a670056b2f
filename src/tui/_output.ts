/**
 * Writes to the terminal for an attached client, in order. A small write
 * (a keystroke's echo) goes out at once, synchronously, when nothing is
 * pending and the terminal can take it now; anything else goes through
 * Deno's asynchronous write (a blocking-pool thread: ~40 µs more a write
 * here), behind what is pending. A terminal that stops reading therefore
 * never blocks this process: the synchronous path is only taken when poll(2)
 * says the terminal has room.
 *
 * @module
 */

import { libc, POLL } from "../daemon/_platform.ts";

/** Writes up to this size may go synchronously. */
export const SYNC_MAX_BYTES = 1024;

/** Where the bytes go (the process's stdout by default). */
export interface OutputSink {
  write(bytes: Uint8Array): Promise<number>;
  writeSync(bytes: Uint8Array): number;
  /** Whether a write of a few bytes would not block now. */
  ready(): boolean;
}

/** stdout, with poll(2) saying whether it has room (never, when libc cannot be loaded). */
export function stdoutSink(): OutputSink {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  let poll: ((buf: Uint8Array, n: bigint, ms: number) => number) | null;
  try {
    const s = libc();
    poll = (buf, n, ms) => s.pollSync(buf, n, ms);
  } catch {
    // Only the synchronous path is lost: every write then goes asynchronously.
    poll = null;
  }
  return {
    write: (b) => Deno.stdout.write(b),
    writeSync: (b) => Deno.stdout.writeSync(b),
    ready: () => {
      if (!poll) return false;
      view.setInt32(0, 1, true);
      view.setInt16(4, POLL.OUT, true);
      view.setInt16(6, 0, true);
      return poll(pollfd, 1n, 0) === 1 && (view.getInt16(6, true) & POLL.OUT) !== 0;
    },
  };
}

/** Serialized writes to the terminal (a failed write means it is gone: later ones are skipped). */
export class TerminalOutput {
  #sink: OutputSink;
  #chain: Promise<void> = Promise.resolve();
  /** Asynchronous writes queued and not finished. */
  #pending = 0;
  #failed = false;

  constructor(sink: OutputSink = stdoutSink()) {
    this.#sink = sink;
  }

  /** Writes `bytes` after everything written before; resolves once they are written. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#failed) return this.#chain;
    if (this.#pending === 0 && bytes.length <= SYNC_MAX_BYTES && this.#sink.ready()) {
      try {
        let off = 0;
        while (off < bytes.length) off += this.#sink.writeSync(bytes.subarray(off));
      } catch {
        this.#failed = true;
      }
      return this.#chain;
    }
    this.#pending++;
    this.#chain = this.#chain.then(async () => {
      try {
        if (this.#failed) return;
        let off = 0;
        while (off < bytes.length) off += await this.#sink.write(bytes.subarray(off));
      } catch {
        this.#failed = true;
      } finally {
        this.#pending--;
      }
    });
    return this.#chain;
  }
}
