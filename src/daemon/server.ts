/**
 * The daemon's socket server: accepts clients on a unix socket (its own, or
 * one inherited through systemd socket activation), greets them, decodes
 * newline-delimited JSON requests and dispatches them to the API handlers.
 *
 * Only the daemon's own user is served: every connection's peer credentials
 * (which the kernel records at connect time) are checked before anything is
 * sent or read, and another user's connection gets one `forbidden` reply and
 * is closed. This does not rely on the socket's or the home's file modes.
 *
 * Every request gets exactly one reply. A bad line (invalid JSON, too long,
 * unknown type) gets an error reply and the connection stays usable. A client
 * that does not read what it is sent is disconnected once its backlog passes
 * {@linkcode MAX_CLIENT_BACKLOG}, so it can never stall the daemon.
 *
 * @module
 */

import * as net from "node:net";
import {
  type BinaryFrame,
  encodeMessage,
  errorReply,
  FEATURES,
  type Hello,
  leadingId,
  MAX_MESSAGE_BYTES,
  okReply,
  PROTOCOL_VERSION,
  ProtocolError,
  type Reply,
  type RequestId,
  StreamDecoder,
} from "../protocol.ts";
import { VERSION } from "../version.ts";
import { within } from "../async.ts";
import { type Link, NodeLink, socketFd } from "./_link.ts";
import { listenUnix, peerUid } from "./_platform.ts";
import { userLabel } from "../ownership.ts";

/** What this daemon can do (see {@linkcode FEATURES}), told in every greeting. */
export const DAEMON_FEATURES: string[] = [
  FEATURES.sendConfirm,
  FEATURES.waitNext,
  FEATURES.eventsSnapshot,
  FEATURES.eventsActivity,
  FEATURES.tags,
  FEATURES.filesStream,
  FEATURES.notify,
  FEATURES.resources,
  FEATURES.attachBinary,
];

/** Unread bytes a client may accumulate before it is dropped. */
export { MAX_CLIENT_BACKLOG } from "./limits.ts";
import { MAX_CLIENT_BACKLOG } from "./limits.ts";

/** One connected client, as handlers see it. */
export class Connection {
  /** Sequence number, for the daemon's log. */
  readonly serial: number;
  #link: Link;
  #onClose: (() => void)[] = [];
  #closed = false;
  #log: (msg: string) => void;

  constructor(link: Link, serial: number, log: (msg: string) => void) {
    this.#link = link;
    this.serial = serial;
    this.#log = log;
  }

  /** True once the client is gone. */
  get closed(): boolean {
    return this.#closed || this.#link.isClosed;
  }

  /** Unsent bytes queued for this client. */
  get backlog(): number {
    return this.#link.buffered;
  }

  /** Bytes the client has been able to take so far. */
  get written(): number {
    return this.#link.written;
  }

  /**
   * Queues a message. A client whose backlog passes the limit is told why
   * and disconnected.
   */
  send(message: unknown): void {
    if (this.closed) return;
    this.#link.send(encodeMessage(message));
    if (this.#link.buffered > MAX_CLIENT_BACKLOG) {
      this.drop(`client not reading: over ${MAX_CLIENT_BACKLOG} bytes unread`);
    }
  }

  /** Sends bytes already encoded as one message line. */
  sendRaw(line: Uint8Array): void {
    if (this.closed) return;
    this.#link.send(line);
    if (this.#link.buffered > MAX_CLIENT_BACKLOG) {
      this.drop(`client not reading: over ${MAX_CLIENT_BACKLOG} bytes unread`);
    }
  }

  /** Disconnects the client, telling it why (best effort). */
  drop(reason: string): void {
    if (this.closed) return;
    this.#log(`client #${this.serial} dropped: ${reason}`);
    // The leading newline ends any line cut short by the dropped backlog.
    const notice = new TextEncoder().encode(
      "\n" + JSON.stringify({ type: "dropped", reason }) + "\n",
    );
    this.#link.abortWith(notice, 2000);
    this.#finish();
  }

  /** Resolves once queued bytes reached the kernel. */
  drained(): Promise<void> {
    return this.#link.drained();
  }

  /** Runs `fn` when the client disconnects (immediately if it already has). */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  /** Closes the connection. */
  close(): void {
    this.#link.close();
    this.#finish();
  }

  /** @internal called when the connection ends */
  finish(): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    const fns = this.#onClose;
    this.#onClose = [];
    for (const fn of fns) {
      try {
        fn();
      } catch { /* ignore */ }
    }
  }
}

/** A request handler: validated message in, result out (or a thrown ProtocolError). */
export type Handler = (
  msg: Record<string, unknown>,
  conn: Connection,
  id: RequestId,
) => unknown | Promise<unknown>;

/** Receives a binary frame (see `encodeBinaryFrame`) a client sent; it gets no reply. */
export type BinaryHandler = (frame: BinaryFrame, conn: Connection) => void;

/** Where the server listens. */
export type Listen =
  | { kind: "path"; path: string }
  | { kind: "fd"; fd: number };

/** Accepts clients and dispatches their requests. */
export class Server {
  #handlers: Map<string, Handler>;
  #log: (msg: string) => void;
  #connections = new Set<Connection>();
  #nodeServer: net.Server | null = null;
  #serial = 0;
  #closing = false;
  #done!: () => void;
  #opened!: () => void;
  #open: Promise<void>;
  /** Resolves once the server has stopped accepting. */
  readonly stopped: Promise<void>;

  /** The only user id served. */
  readonly #ownerUid: number;
  #onBinary: BinaryHandler = () => {};

  /** @param ownerUid the user served (default: the daemon's own) */
  constructor(
    handlers: Map<string, Handler>,
    log: (msg: string) => void,
    ownerUid: number = Deno.uid() ?? -1,
  ) {
    this.#handlers = handlers;
    this.#log = log;
    this.#ownerUid = ownerUid;
    this.stopped = new Promise((r) => (this.#done = r));
    this.#open = new Promise((r) => (this.#opened = r));
  }

  /**
   * Starts serving. Until then, accepted clients wait (the daemon listens
   * early, so nobody concludes it is not running, but answers only once it
   * is ready).
   */
  open(): void {
    this.#opened();
  }

  /** Sets who receives the binary frames clients send (attached input). */
  onBinary(fn: BinaryHandler): void {
    this.#onBinary = fn;
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.#connections.size;
  }

  /**
   * Starts accepting.
   * @throws when the socket cannot be bound or the inherited fd cannot be used
   */
  async listen(where: Listen): Promise<void> {
    // Both kinds accept through node:net, whose sockets expose the OS fd
    // that the peer check needs (a Deno.Conn does not).
    const fd = where.kind === "path" ? listenUnix(where.path) : where.fd;
    const server = net.createServer((socket) => this.#accept(socket));
    this.#nodeServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ fd }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (e) => this.#log(`listener error: ${e.message}`));
  }

  /** Stops accepting new clients. Existing ones stay until {@linkcode Server.closeClients}. */
  stopAccepting(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#nodeServer?.close();
    this.#done();
  }

  /** Disconnects every client (after letting queued replies drain briefly). */
  async closeClients(timeoutMs = 500): Promise<void> {
    const all = [...this.#connections];
    await within(Promise.allSettled(all.map((c) => c.drained())), timeoutMs);
    for (const c of all) c.close();
  }

  /** Serves a new connection if its peer is the owner; else refuses it. */
  #accept(socket: net.Socket): void {
    const link = new NodeLink(socket);
    let uid: number;
    try {
      uid = peerUid(socketFd(socket));
    } catch (e) {
      this.#refuse(
        link,
        "its peer's credentials cannot be read",
        `refused a connection: its peer's credentials cannot be read (${(e as Error).message})`,
      );
      return;
    }
    if (uid !== this.#ownerUid) {
      this.#refuse(
        link,
        `it is from uid ${uid}`,
        `refused a connection from ${userLabel(uid)}: ` +
          `this daemon serves only its own user, ${userLabel(this.#ownerUid)}`,
      );
      return;
    }
    void this.#serve(link);
  }

  /** Tells a client why it is not served (one error reply, id null), then closes. */
  #refuse(link: Link, why: string, logLine: string): void {
    this.#log(logLine);
    const message = `this daemon refused the connection: ${why}; ` +
      `it serves only its own user (uid ${this.#ownerUid})`;
    link.abortWith(encodeMessage(errorReply(null, "forbidden", message)), 2000);
  }

  async #serve(link: Link): Promise<void> {
    await this.#open;
    const conn = new Connection(link, ++this.#serial, this.#log);
    this.#connections.add(conn);
    const hello: Hello = {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      version: VERSION,
      pid: Deno.pid,
      features: DAEMON_FEATURES,
    };
    conn.send(hello);
    const decoder = new StreamDecoder(MAX_MESSAGE_BYTES);
    let over = false;
    const finish = () => {
      if (over) return;
      over = true;
      this.#connections.delete(conn);
      conn.close();
    };
    link.read((chunk) => {
      if (over) return;
      try {
        this.#take(conn, decoder, chunk);
      } catch (e) {
        this.#log(`client #${conn.serial}: closed: ${(e as Error)?.stack ?? e}`);
        finish();
        return;
      }
      if (conn.closed) finish();
    }, finish);
  }

  /** Handles what a client sent: every whole request and frame in it. */
  #take(conn: Connection, decoder: StreamDecoder, chunk: Uint8Array): void {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch (e) {
      // A frame too large to skip: the stream cannot be read further.
      conn.drop(`unreadable stream: ${(e as Error).message}`);
      return;
    }
    for (const frame of frames) {
      if (frame.kind === "binary") {
        this.#onBinary(frame, conn);
      } else if (frame.kind === "oversized") {
        // Answered under the request's id when the line starts with it.
        conn.send(errorReply(
          leadingId(frame.head),
          "too_large",
          `message too large (over ${MAX_MESSAGE_BYTES} bytes); discarded up to the next newline`,
        ));
      } else {
        this.#dispatch(conn, frame.text);
      }
    }
  }

  #dispatch(conn: Connection, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      conn.send(errorReply(null, "bad_json", `invalid JSON: ${(e as Error).message}`));
      return;
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      conn.send(errorReply(null, "bad_json", "a message must be a JSON object"));
      return;
    }
    const m = msg as Record<string, unknown>;
    const rawId = m.id;
    const id: RequestId | null = typeof rawId === "number" || typeof rawId === "string"
      ? rawId
      : null;
    if (id === null) {
      conn.send(errorReply(null, "bad_request", 'missing "id" (a number or string)'));
      return;
    }
    if (typeof m.type !== "string") {
      conn.send(errorReply(id, "bad_request", 'missing "type" (a string)'));
      return;
    }
    const handler = this.#handlers.get(m.type);
    if (!handler) {
      conn.send(errorReply(id, "unknown_type", `unknown request type "${m.type.slice(0, 64)}"`));
      return;
    }
    let result: unknown;
    try {
      result = handler(m, conn, id);
    } catch (e) {
      conn.send(this.#failure(id, m.type, e));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r) => conn.send(okReply(id, r)),
        (e) => conn.send(this.#failure(id, m.type as string, e)),
      );
    } else {
      conn.send(okReply(id, result));
    }
  }

  #failure(id: RequestId, type: string, e: unknown): Reply {
    if (e instanceof ProtocolError) return errorReply(id, e.code, e.message);
    this.#log(`request "${type}" failed: ${(e as Error)?.stack ?? e}`);
    return errorReply(id, "internal", `internal error: ${(e as Error)?.message ?? e}`);
  }
}
