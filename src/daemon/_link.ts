/**
 * A client connection as the server sees it: a `node:net` socket accepted on
 * the daemon's own listening socket or on one inherited through socket
 * activation. Outgoing bytes are queued, never awaited by
 * the sender, and the queue's size is visible so a slow client can be dropped
 * instead of stalling anyone.
 *
 * @module
 */

import type { Socket } from "node:net";

/** A byte stream to one client. */
export interface Link {
  /** Incoming bytes until the client closes. */
  readonly readable: AsyncIterable<Uint8Array>;
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

  /** @param socket an accepted socket */
  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("error", () => this.close());
    socket.on("close", () => {
      this.#closed = true;
    });
  }

  get readable(): AsyncIterable<Uint8Array> {
    const socket = this.#socket;
    return (async function* () {
      for await (const chunk of socket) yield chunk as Uint8Array;
    })();
  }

  get buffered(): number {
    return this.#closed ? 0 : this.#socket.writableLength;
  }

  get written(): number {
    return this.#socket.bytesWritten;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(bytes: Uint8Array): void {
    if (this.#closed) return;
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
    this.#socket.end(last);
    const timer = setTimeout(() => this.close(), timeoutMs);
    this.#socket.once("close", () => clearTimeout(timer));
  }
}
