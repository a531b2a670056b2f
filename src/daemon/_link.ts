/**
 * A client connection as the server sees it: a `node:net` socket accepted on
 * the daemon's own listening socket or on one inherited through socket
 * activation. Outgoing bytes are queued, never awaited by
 * the sender, and the queue's size is visible so a slow client can be dropped
 * instead of stalling anyone.
 *
 * While nothing is queued, bytes are written straight to the socket's
 * (non-blocking) descriptor, in the caller's turn: a keystroke's echo reaches
 * the client without a round through `node:net`'s stream and an async write
 * (~25 µs a write here). What the kernel does not take then is queued behind,
 * in order, as before.
 *
 * @module
 */

import type { Socket } from "node:net";
import { libc } from "./_platform.ts";

const O_NONBLOCK = Deno.build.os === "darwin" ? 0x4 : 0x800;
const F_GETFL = 3;

/**
 * The OS file descriptor under a `node:net` socket.
 * @throws {Error} when it has none
 */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("the socket has no file descriptor");
  return fd;
}

/** The socket's descriptor when it is non-blocking (direct writes can never stall us); else -1. */
function directFd(socket: Socket): number {
  try {
    const fd = socketFd(socket);
    const flags = libc().fcntl(fd, F_GETFL, 0);
    return flags >= 0 && (flags & O_NONBLOCK) !== 0 ? fd : -1;
  } catch {
    return -1; // no descriptor: every write goes through node:net
  }
}

/** A byte stream to one client. */
export interface Link {
  /**
   * Hands incoming bytes to `data` as they come, then calls `end` once when
   * the client is gone (closed, reset, or closed here). Call once.
   */
  read(data: (chunk: Uint8Array) => void, end: () => void): void;
  /** Queues bytes for the client. Never blocks; no-op once closed. */
  send(bytes: Uint8Array): void;
  /** Bytes queued and not yet accepted by the kernel. */
  readonly buffered: number;
  /** Bytes accepted by the kernel so far (a client reading makes it grow). */
  readonly written: number;
  /** Resolves when every queued byte was handed to the kernel (or the link closed). */
  drained(): Promise<void>;
  /** Closes both directions; queued bytes are dropped. */
  close(): void;
  /**
   * Drops what is queued, sends `last` (best effort, within `timeoutMs`),
   * then closes. For telling a client why it is being disconnected.
   */
  abortWith(last: Uint8Array, timeoutMs: number): void;
  readonly isClosed: boolean;
}

/** A {@linkcode Link} over a `node:net` socket. */
export class NodeLink implements Link {
  #socket: Socket;
  #closed = false;
  /** The descriptor written directly while nothing is queued (-1: never). */
  #fd: number;
  /** Bytes written directly (node:net's count does not see them). */
  #direct = 0;

  /** @param socket an accepted socket */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.#fd = directFd(socket);
    socket.on("error", () => this.close());
    socket.on("close", () => {
      this.#closed = true;
    });
  }

  read(data: (chunk: Uint8Array) => void, end: () => void): void {
    const socket = this.#socket;
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      end();
    };
    // Read as the stream's iterator paces it (not in flowing mode, which
    // reads on however fast a client sends: under a fuzzer's gigabytes the
    // daemon's peak memory was a sixth higher, for no measurable echo gain).
    (async () => {
      try {
        for await (const chunk of socket) {
          if (ended) break;
          data(chunk as Uint8Array);
        }
      } catch {
        // Reset by peer and the like: the client is gone (`error` closed the link).
      }
      finish();
    })();
  }

  get buffered(): number {
    return this.#closed ? 0 : this.#socket.writableLength;
  }

  get written(): number {
    return this.#socket.bytesWritten + this.#direct;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(bytes: Uint8Array): void {
    if (this.#closed) return;
    // Straight to the kernel only when node:net holds nothing (no write in
    // flight either): then nothing can overtake what it still has to send.
    if (this.#fd >= 0 && this.#socket.writableLength === 0 && bytes.length > 0) {
      const n = Number(libc().write(this.#fd, bytes, BigInt(bytes.length)));
      if (n === bytes.length) {
        this.#direct += n;
        return;
      }
      if (n > 0) {
        this.#direct += n;
        bytes = bytes.subarray(n);
      }
      // Otherwise (EAGAIN: the client's buffer is full; EPIPE…) node:net's
      // write queues the rest, or meets the same error and reports it
      // (`error`, then `close`) as for any write.
    }
    this.#socket.write(bytes);
  }

  drained(): Promise<void> {
    if (this.#closed || this.#socket.writableLength === 0) return Promise.resolve();
    return new Promise((r) => {
      const done = () => {
        this.#socket.off("drain", done);
        this.#socket.off("close", done);
        r();
      };
      this.#socket.on("drain", done);
      this.#socket.on("close", done);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
  }

  abortWith(last: Uint8Array, timeoutMs: number): void {
    if (this.#closed) return;
    this.#fd = -1; // after `end`, nothing more may be written
    this.#socket.end(last);
    const timer = setTimeout(() => this.close(), timeoutMs);
    this.#socket.once("close", () => clearTimeout(timer));
  }
}
