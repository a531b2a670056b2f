/**
 * A connection to the daemon: the greeting and its features, typed requests
 * matched to their replies, event subscriptions read through their own
 * bounded queue, and the attach stream.
 *
 * It knows nothing of the CLI or of how a daemon is started (see
 * `connectOrStart` in the CLI for that).
 *
 * @module
 */

import {
  type Api,
  type AttachPush,
  BINARY_INPUT,
  BINARY_OUTPUT,
  type BinaryFrame,
  encodeBinaryFrame,
  type EventPush,
  FEATURES,
  type Hello,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  type Push,
  type RequestType,
  type SessionRecord,
  StreamDecoder,
  type UsagePush,
} from "../protocol.ts";
import { formatBytes } from "../bytes.ts";
import { BoundedQueue } from "./queue.ts";
import {
  ClientError,
  ConnectionLostError,
  DaemonError,
  EventsOverflowError,
  MissingFeaturesError,
  NoDaemonError,
  ProtocolMismatchError,
} from "./errors.ts";

/** The close reason of {@linkcode Client.close}. */
const CLOSED_BY_CLIENT = "closed by client";

/** Largest message accepted from the daemon (screens and record lists can be big). */
const MAX_INCOMING = 256 * 1024 * 1024;

/** Events a subscription holds unread before it fails (see {@linkcode EventSubscription}). */
export const DEFAULT_EVENT_QUEUE = 10_000;

/**
 * Receives the pushes of one streaming request. A returned promise is
 * awaited before the next message is read, so a slow handler slows the
 * socket (the daemon skips an attached client ahead, or drops one that reads
 * nothing); event subscriptions never do this (they queue).
 */
export type PushHandler<P extends Push = Push> = (push: P) => void | Promise<void>;

/** Options of {@linkcode Client.connect}. */
export interface ConnectOptions {
  /**
   * Features (see `FEATURES`) the caller will use: connecting fails with
   * {@linkcode MissingFeaturesError}, naming those the daemon lacks.
   */
  require?: readonly string[];
  /**
   * A request that changes nothing, sent at once with the connection,
   * before the daemon's greeting has come (it saves a round trip); its reply
   * is {@linkcode Client.first}. Should the greeting end the negotiation
   * (another protocol version, a required feature missing, a refusal), the
   * connection is closed without its reply being used.
   */
  first?: FirstRequest;
}

/**
 * The requests that change nothing, and so may be sent before the greeting
 * has told the daemon's protocol version and features.
 */
export type ReadOnlyRequest = "ls" | "get" | "status";

/** A request sent with the connection (see {@linkcode ConnectOptions.first}). */
export type FirstRequest = {
  [K in ReadOnlyRequest]: { type: K; params: Api[K]["params"] };
}[ReadOnlyRequest];

/** The id of the request sent with the connection. */
const FIRST_ID = 1;

/** Parameters of an `events` subscription. */
export interface SubscribeParams {
  /** Only this session's events (a reference: id, prefix or name). */
  session?: string;
  /**
   * Start with every session as of a numbered event, and number every
   * event after it (needs the `events.snapshot` feature).
   */
  snapshot?: boolean;
  /** Events held unread before the subscription fails; default {@linkcode DEFAULT_EVENT_QUEUE}. */
  maxQueue?: number;
  /**
   * Also receive every live session's usage, every few seconds, as the
   * daemon pushes it (needs the `resources` feature): called as each comes.
   */
  onUsage?: (push: UsagePush) => void;
}

/** The sessions an `events` subscription started from (with `snapshot`). */
export interface Snapshot {
  /** Number of the last event before it; the first pushed event is `seq + 1`. */
  seq: number;
  sessions: SessionRecord[];
  /** Id prefix length that tells every session apart. */
  shortLength: number;
  /** When the daemon started: another value means its numbering started over. */
  daemonStarted: string;
}

/**
 * A live `events` subscription: an async iterable of the daemon's event
 * pushes, in order, with their own bounded queue (reading them slowly never
 * holds up replies to other requests on the connection). Iteration ends
 * after {@linkcode EventSubscription.close} or {@linkcode Client.close};
 * it fails with {@linkcode ConnectionLostError} when the connection is lost,
 * and with {@linkcode EventsOverflowError} when the reader fell too far
 * behind. Events of kinds the caller does not know come through as they
 * are: skip them.
 */
export class EventSubscription implements AsyncIterable<EventPush> {
  /** With `snapshot`: where the events start from. */
  readonly snapshot: Snapshot | null;
  readonly #queue: BoundedQueue<EventPush>;
  readonly #stop: () => void;

  /** @internal made by {@linkcode Client.subscribe} */
  constructor(snapshot: Snapshot | null, queue: BoundedQueue<EventPush>, stop: () => void) {
    this.snapshot = snapshot;
    this.#queue = queue;
    this.#stop = stop;
  }

  /** Events received and not yet read. */
  get backlog(): number {
    return this.#queue.size;
  }

  /** The next event; `null` once the subscription ended. */
  async next(): Promise<EventPush | null> {
    const r = await this.#queue.next();
    return r.done ? null : r.value;
  }

  /**
   * Stops delivering (the daemon keeps sending until the connection closes;
   * what it sends is dropped on arrival).
   */
  close(): void {
    this.#stop();
    this.#queue.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<EventPush, undefined> {
    return this.#queue[Symbol.asyncIterator]();
  }
}

/** How an attachment ended. */
export type AttachEnd =
  /** This client detached ({@linkcode AttachStream.detach}). */
  | { kind: "detached" }
  /** The session's program exited (its final record). */
  | { kind: "exited"; session: SessionRecord }
  /** The connection ended. */
  | { kind: "lost"; reason: string };

/** Options of {@linkcode Client.attach}. */
export interface AttachOptions {
  /** Watch only: input and resizes from this client are refused. */
  readOnly?: boolean;
  /** This client's terminal size (the session's size is kept when absent). */
  cols?: number;
  rows?: number;
  /**
   * Receives the program's output as bytes. Given, and the daemon has the
   * `attach.binary` feature, output comes as binary frames (no JSON, no
   * base64) and input goes as binary frames too; otherwise output comes as
   * `output` pushes to the push handler.
   */
  onBytes?: (bytes: Uint8Array) => void | Promise<void>;
}

/**
 * One attachment of a connection to a session: the daemon pushes a `screen`
 * redraw, then `output`, and `exit` when the program ends (to the handler
 * given to {@linkcode Client.attach}).
 */
export interface AttachStream {
  /** The session as it was attached. */
  readonly session: SessionRecord;
  /** The detach key as configured (e.g. `C-b d`). */
  readonly detachKey: string;
  /** Resolves once the attachment is over, saying how. */
  readonly ended: Promise<AttachEnd>;
  /** Whether output comes as binary frames (see {@linkcode AttachOptions.onBytes}). */
  readonly binary: boolean;
  /**
   * Types bytes into the session (as this client). Over a binary attachment
   * the input is not answered: it resolves once written to the connection.
   */
  input(bytes: Uint8Array): Promise<void>;
  /** This client's terminal changed size. */
  resize(cols: number, rows: number): Promise<void>;
  /** Asks for a fresh `screen` push. */
  redraw(): Promise<void>;
  /** Ends the attachment; the connection stays usable. */
  detach(): Promise<void>;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * A byte stream to a daemon: its unix socket, or a command that bridges to
 * one (`ssh HOST claude-sessions dial-stdio`, see `src/client/ssh.ts`).
 */
export interface Transport {
  /** The next bytes from the daemon; null once the stream has ended. */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`, after every earlier write (calls need not wait for each other). */
  write(bytes: Uint8Array): Promise<void>;
  /** Where it leads, for messages: a socket path, `ssh://host`. */
  readonly label: string;
  /** Ends it. */
  close(): void;
  /**
   * Why it ended before the daemon's greeting, when it can tell (e.g. what
   * ssh printed); null when it cannot.
   */
  failure?(): Promise<string | null>;
}

/** Bytes read from a socket at most at a time. */
const READ_CHUNK = 64 * 1024;

/**
 * The transport of a unix socket. It reads and writes the connection
 * directly: a Deno connection's web streams cost a few milliseconds to set
 * up on first use, a good part of a short command's run.
 */
export async function unixTransport(socket: string): Promise<Transport> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no socket"
      : e instanceof Deno.errors.ConnectionRefused
      ? "connection refused"
      : (e as Error).message;
    throw new NoDaemonError(socket, why);
  }
  const buf = new Uint8Array(READ_CHUNK);
  let tail: Promise<void> = Promise.resolve();
  return {
    // One read at a time (the client's read loop): the buffer is reused,
    // what was read is copied out.
    read: async () => {
      const n = await conn.read(buf);
      return n === null ? null : buf.slice(0, n);
    },
    write: (bytes) => {
      const done = tail.then(async () => {
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      });
      tail = done.catch(() => {});
      return done;
    },
    label: socket,
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
  };
}

/**
 * The transport of a pair of web streams (e.g. a child process's stdout and
 * stdin); `close` ends whatever is behind them.
 */
export function streamTransport(
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
  rest: Pick<Transport, "label" | "close" | "failure">,
): Transport {
  const reader = readable.getReader();
  const writer = writable.getWriter();
  return {
    ...rest,
    read: async () => {
      const r = await reader.read();
      return r.done ? null : r.value;
    },
    write: (bytes) => writer.write(bytes),
  };
}

/** A connection to the daemon. */
export class Client {
  /** The daemon's greeting. */
  readonly hello: Hello;
  /** Where it is connected: the socket, or `ssh://host` (see {@linkcode Transport.label}). */
  readonly socket: string;
  readonly #features: ReadonlySet<string>;
  #conn: Transport;
  #pending = new Map<number, Pending>();
  #subs = new Map<number, PushHandler>();
  /** Receivers of binary output frames, by attach request id. */
  #byteSubs = new Map<number, (bytes: Uint8Array) => void | Promise<void>>();
  #nextId = 1;
  #closed = false;
  #closeReason: string | null = null;
  #onClose = new Set<(reason: string) => void>();
  #encoder = new TextEncoder();
  /** The request sent with the connection, and its reply. */
  #first: { type: ReadOnlyRequest; reply: Promise<unknown> } | null = null;

  private constructor(
    conn: Transport,
    hello: Hello,
    rest: AsyncIterator<Record<string, unknown> | BinaryFrame>,
  ) {
    this.socket = conn.label;
    this.#conn = conn;
    this.hello = hello;
    this.#features = new Set(Array.isArray(hello.features) ? hello.features : []);
    void this.#readLoop(rest);
  }

  /**
   * Connects and reads the greeting.
   * @throws {NoDaemonError} when nothing answers
   * @throws {ProtocolMismatchError} when the daemon speaks another protocol version
   * @throws {MissingFeaturesError} when it lacks a feature in `opts.require`
   * @throws {DaemonError} when it refuses the connection (`forbidden`)
   */
  static async connect(socket: string, opts: ConnectOptions = {}): Promise<Client> {
    return await Client.over(await unixTransport(socket), opts);
  }

  /**
   * Reads the greeting on `conn` (a socket, or a bridge such as ssh) and
   * returns the client speaking over it. Errors as {@linkcode Client.connect}.
   */
  static async over(conn: Transport, opts: ConnectOptions = {}): Promise<Client> {
    const socket = conn.label;
    let sent: Promise<void> | null = null;
    if (opts.first) {
      let line;
      try {
        line = requestLine(
          FIRST_ID,
          opts.first.type,
          opts.first.params as Record<string, unknown>,
        );
      } catch (e) {
        conn.close();
        throw e;
      }
      sent = conn.write(line);
      // Its failure is the reply's (or the greeting's, should it not come).
      sent.catch(() => {});
    }
    const messages = readMessages(conn)[Symbol.asyncIterator]();
    let first: IteratorResult<Record<string, unknown> | BinaryFrame>;
    try {
      first = await messages.next();
    } catch (e) {
      conn.close();
      throw new NoDaemonError(socket, `no greeting: ${(e as Error).message}`);
    }
    const greeting = first.done || isBinary(first.value) ? null : first.value;
    if (first.done) {
      // The bridge ended (ssh failed, the remote command is missing…): say why.
      const why = await conn.failure?.();
      if (why) {
        conn.close();
        throw new NoDaemonError(socket, why);
      }
    }
    if (greeting?.type === "reply" && greeting.ok === false) {
      // Refused before the greeting (`forbidden`: we are not the daemon's user).
      conn.close();
      const err = greeting.error as { code?: string; message?: string } | undefined;
      throw new DaemonError(
        err?.code ?? "internal",
        `${socket}: ${err?.message ?? "the daemon refused the connection"}`,
      );
    }
    if (greeting?.type !== "hello") {
      conn.close();
      throw new NoDaemonError(socket, "no greeting; is this a claude-sessions socket?");
    }
    const hello = greeting as unknown as Hello;
    if (hello.protocol !== PROTOCOL_VERSION) {
      conn.close();
      throw new ProtocolMismatchError(String(hello.version), hello.protocol, PROTOCOL_VERSION);
    }
    const client = new Client(conn, hello, messages);
    try {
      client.require(...(opts.require ?? []));
    } catch (e) {
      client.close();
      throw e;
    }
    if (opts.first && sent) client.#awaitFirst(opts.first.type, sent);
    return client;
  }

  /** Takes the reply to the request sent with the connection (before any other is sent). */
  #awaitFirst(type: ReadOnlyRequest, sent: Promise<void>): void {
    this.#nextId = FIRST_ID + 1;
    const reply = new Promise<unknown>((resolve, reject) =>
      this.#pending.set(FIRST_ID, { resolve, reject })
    );
    sent.catch((e) => {
      const p = this.#pending.get(FIRST_ID);
      this.#pending.delete(FIRST_ID);
      p?.reject(new ConnectionLostError(`cannot send to the daemon: ${(e as Error).message}`));
    });
    // Rejected replies nobody asks for are not unhandled.
    reply.catch(() => {});
    this.#first = { type, reply };
  }

  /**
   * The result of the request sent with the connection
   * ({@linkcode ConnectOptions.first}), which must have been of `type`.
   * @throws {ClientError} when no such request was sent
   * @throws {DaemonError}, {@linkcode ConnectionLostError} as {@linkcode Client.request}
   */
  first<K extends ReadOnlyRequest>(type: K): Promise<Api[K]["result"]> {
    if (this.#first?.type !== type) {
      return Promise.reject(
        new ClientError(`no ${type} request was sent with the connection`),
      );
    }
    return this.#first.reply as Promise<Api[K]["result"]>;
  }

  /** The features the daemon advertised (none for a daemon older than features). */
  get features(): readonly string[] {
    return [...this.#features];
  }

  /** Whether the daemon has `feature`. */
  has(feature: string): boolean {
    return this.#features.has(feature);
  }

  /**
   * Checks that the daemon has every one of `features`.
   * @throws {MissingFeaturesError} naming those it lacks
   */
  require(...features: string[]): void {
    const missing = features.filter((f) => !this.#features.has(f));
    if (missing.length > 0) {
      throw new MissingFeaturesError(missing, String(this.hello.version), this.hello.pid);
    }
  }

  /**
   * Sends a request and resolves with its result. `onPush` receives what
   * the daemon pushes for it meanwhile (e.g. `send`'s progress).
   * @throws {DaemonError} carrying the daemon's error code and message
   * @throws {ConnectionLostError} when the connection ends first
   */
  request<K extends RequestType>(
    type: K,
    params: Api[K]["params"],
    onPush?: PushHandler,
  ): Promise<Api[K]["result"]> {
    return this.#send(type, params as Record<string, unknown>, onPush).reply as Promise<
      Api[K]["result"]
    >;
  }

  /**
   * Subscribes to events (all sessions', or one's). With `snapshot`,
   * resolves with the sessions as of a numbered event, and every event
   * after it carries the next number (needs `events.snapshot`).
   */
  async subscribe(params: SubscribeParams = {}): Promise<EventSubscription> {
    if (params.snapshot) this.require("events.snapshot");
    if (params.onUsage) this.require("resources");
    const onUsage = params.onUsage;
    const limit = params.maxQueue ?? DEFAULT_EVENT_QUEUE;
    const queue = new BoundedQueue<EventPush>(limit, () => new EventsOverflowError(limit));
    const wire: Record<string, unknown> = {};
    if (params.session !== undefined) wire.session = params.session;
    if (params.snapshot) wire.snapshot = true;
    if (onUsage) wire.usage = true;
    // Queued at once: reading them never waits for the consumer.
    const { id, reply } = this.#send("events", wire, (push) => {
      if (push.type === "event") queue.push(push);
      else if (push.type === "usage" && onUsage && !queue.ended) onUsage(push);
    });
    const stop = () => this.#subs.delete(id);
    this.onClose((reason) => {
      if (reason === CLOSED_BY_CLIENT) queue.end();
      else queue.fail(new ConnectionLostError(reason));
    });
    let result: Api["events"]["result"];
    try {
      result = await reply as Api["events"]["result"];
    } catch (e) {
      stop();
      throw e;
    }
    let snapshot: Snapshot | null = null;
    if (params.snapshot) {
      if (typeof result.seq !== "number" || !Array.isArray(result.sessions)) {
        stop();
        throw new ClientError("the daemon answered events without the snapshot it was asked for");
      }
      snapshot = {
        seq: result.seq,
        sessions: result.sessions,
        shortLength: result.shortLength ?? 8,
        daemonStarted: result.daemonStarted ?? "",
      };
    }
    return new EventSubscription(snapshot, queue, stop);
  }

  /**
   * Attaches this connection to a session: `onPush` gets the `screen`
   * redraw, then `output`, then `exit`. Resolves once attached.
   */
  async attach(
    ref: string,
    opts: AttachOptions,
    onPush: PushHandler<AttachPush>,
  ): Promise<AttachStream> {
    if (this.#closed) {
      throw new ConnectionLostError(`connection to the daemon lost: ${this.#closeReason}`);
    }
    let settle!: (end: AttachEnd) => void;
    let over = false;
    let offClose = () => {};
    const ended = new Promise<AttachEnd>((r) => (settle = r));
    const end = (e: AttachEnd) => {
      if (over) return;
      over = true;
      this.#subs.delete(id);
      this.#byteSubs.delete(id);
      offClose();
      settle(e);
    };
    const params: Record<string, unknown> = { session: ref };
    if (opts.readOnly) params.readOnly = true;
    if (opts.cols !== undefined) params.cols = opts.cols;
    if (opts.rows !== undefined) params.rows = opts.rows;
    const onBytes = opts.onBytes;
    const binary = onBytes !== undefined && this.has(FEATURES.attachBinary);
    if (binary) params.binary = true;
    const { id, reply } = this.#send("attach", params, async (push) => {
      if (over) return;
      if (push.type !== "screen" && push.type !== "output" && push.type !== "exit") return;
      await onPush(push);
      if (push.type === "exit") end({ kind: "exited", session: push.session });
    });
    if (binary) {
      this.#byteSubs.set(id, async (bytes) => {
        if (!over) await onBytes(bytes);
      });
    }
    offClose = this.onClose((reason) => end({ kind: "lost", reason }));
    let attached: Api["attach"]["result"];
    try {
      attached = await reply as Api["attach"]["result"];
    } catch (e) {
      over = true;
      this.#subs.delete(id);
      this.#byteSubs.delete(id);
      offClose();
      throw e;
    }
    const sessionId = attached.session.id;
    const b64 = (bytes: Uint8Array) => {
      let bin = "";
      for (let i = 0; i < bytes.length; i += 0x8000) {
        bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(bin);
    };
    return {
      session: attached.session,
      detachKey: attached.detachKey,
      ended,
      binary,
      input: async (bytes) => {
        if (over) return;
        if (binary) await this.#writeFrame(encodeBinaryFrame(BINARY_INPUT, id, bytes));
        else await this.request("input", { session: sessionId, data: b64(bytes) });
      },
      resize: async (cols, rows) => {
        if (over) return;
        await this.request("resize", { session: sessionId, cols, rows });
      },
      redraw: async () => {
        if (over) return;
        await this.request("redraw", { session: sessionId });
      },
      detach: async () => {
        if (over) return;
        end({ kind: "detached" });
        if (this.#closed) return;
        await this.request("detach", { session: sessionId }).catch((e) => {
          // Already over on the daemon's side (the session just ended).
          if (!(e instanceof DaemonError) || e.code !== "invalid_state") throw e;
        });
      },
    };
  }

  /**
   * The lines a `log` or `transcript` request streams (needs
   * `files.stream`), as they arrive, until the last batch (a followed log:
   * until {@linkcode Client.close}). `onNotice` hears what the daemon tells
   * of on the way (an unreadable archive).
   */
  async *lines<K extends "log" | "transcript">(
    type: K,
    params: Api[K]["params"],
    onNotice?: (msg: string) => void,
  ): AsyncGenerator<string> {
    this.require("files.stream");
    const queue: (string[] | null)[] = [];
    let wake: (() => void) | null = null;
    const put = (lines: string[] | null) => {
      queue.push(lines);
      wake?.();
    };
    const off = this.onClose(() => put(null));
    try {
      await this.request(type, params, (push) => {
        if (push.type !== "lines") return;
        if (push.notice) onNotice?.(push.notice);
        put(push.lines);
        if (push.end) put(null);
      });
      while (true) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        const lines = queue.shift()!;
        if (lines === null) return;
        yield* lines;
      }
    } finally {
      off();
    }
  }

  /**
   * Runs `fn` with the reason when the connection ends (at once if it has);
   * returns a function that cancels it.
   */
  onClose(fn: (reason: string) => void): () => void {
    if (this.#closed) {
      fn(this.#closeReason ?? "closed");
      return () => {};
    }
    this.#onClose.add(fn);
    return () => this.#onClose.delete(fn);
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why the connection ended (null while open). */
  get closeReason(): string | null {
    return this.#closeReason;
  }

  /** Closes the connection. */
  close(): void {
    this.#finish(CLOSED_BY_CLIENT);
    this.#conn.close();
  }

  /**
   * Writes a binary frame.
   * @throws {ConnectionLostError} when the connection is gone
   */
  async #writeFrame(frame: Uint8Array): Promise<void> {
    if (this.#closed) {
      throw new ConnectionLostError(`connection to the daemon lost: ${this.#closeReason}`);
    }
    try {
      await this.#conn.write(frame);
    } catch (e) {
      throw new ConnectionLostError(`cannot send to the daemon: ${(e as Error).message}`);
    }
  }

  #send(
    type: string,
    params: Record<string, unknown>,
    onPush: PushHandler | undefined,
  ): { id: number; reply: Promise<unknown> } {
    const id = this.#nextId++;
    if (this.#closed) {
      return {
        id,
        reply: Promise.reject(
          new ConnectionLostError(`connection to the daemon lost: ${this.#closeReason}`),
        ),
      };
    }
    let line: Uint8Array;
    try {
      line = requestLine(id, type, params, this.#encoder);
    } catch (e) {
      return { id, reply: Promise.reject(e) };
    }
    const reply = new Promise<unknown>((resolve, reject) =>
      this.#pending.set(id, { resolve, reject })
    );
    if (onPush) this.#subs.set(id, onPush);
    this.#conn.write(line).catch((e) => {
      const p = this.#pending.get(id);
      this.#pending.delete(id);
      this.#subs.delete(id);
      p?.reject(new ConnectionLostError(`cannot send to the daemon: ${(e as Error).message}`));
    });
    return { id, reply };
  }

  async #readLoop(messages: AsyncIterator<Record<string, unknown> | BinaryFrame>): Promise<void> {
    let reason = "the daemon closed the connection";
    try {
      while (true) {
        const next = await messages.next();
        if (next.done) break;
        const msg = next.value;
        if (isBinary(msg)) {
          // Frames of a kind this client does not know are of a newer daemon: ignored.
          const handler = msg.type === BINARY_OUTPUT ? this.#byteSubs.get(msg.sub) : undefined;
          if (handler) await handler(msg.data);
        } else if (msg.type === "reply") {
          this.#onReply(msg);
        } else if (msg.type === "dropped") {
          reason = `the daemon dropped this client: ${String(msg.reason)}`;
        } else if (typeof msg.sub === "number") {
          const handler = this.#subs.get(msg.sub);
          if (handler) await handler(msg as unknown as Push);
        }
        // Anything else is of a newer daemon: ignored.
      }
    } catch (e) {
      reason = `connection to the daemon failed: ${(e as Error).message}`;
    }
    this.#finish(reason);
  }

  #onReply(msg: Record<string, unknown>): void {
    const err = msg.error as { code?: string; message?: string } | undefined;
    if (msg.id === null && msg.ok === false) {
      // A line the daemon could not read (it names no request): every
      // request still waiting may be the one, and none will get a reply.
      const e = new DaemonError(
        err?.code ?? "internal",
        `the daemon could not read a request: ${err?.message ?? "unknown error"}`,
      );
      for (const [pid, p] of this.#pending) {
        this.#subs.delete(pid);
        p.reject(e);
      }
      this.#pending.clear();
      return;
    }
    if (typeof msg.id !== "number") return;
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.ok === true) {
      p.resolve(msg.result);
    } else {
      this.#subs.delete(msg.id);
      p.reject(new DaemonError(err?.code ?? "internal", err?.message ?? "request failed"));
    }
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    for (const p of this.#pending.values()) p.reject(new ConnectionLostError(reason));
    this.#pending.clear();
    this.#subs.clear();
    this.#byteSubs.clear();
    const fns = [...this.#onClose];
    this.#onClose.clear();
    for (const fn of fns) fn(reason);
  }
}

/** Whether a message read is a binary frame (no JSON message holds bytes). */
function isBinary(msg: Record<string, unknown> | BinaryFrame): msg is BinaryFrame {
  return msg.data instanceof Uint8Array;
}

/**
 * A request as its line on the wire.
 * @throws {ClientError} when it is too large for the daemon
 */
function requestLine(
  id: number,
  type: string,
  params: Record<string, unknown>,
  encoder: TextEncoder = new TextEncoder(),
): Uint8Array {
  // The id first: a daemon that cannot read a too-long line still answers under it.
  const msg: Record<string, unknown> = { id, type, ...params };
  msg.id = id;
  msg.type = type;
  const line = encoder.encode(JSON.stringify(msg) + "\n");
  if (line.length - 1 > MAX_MESSAGE_BYTES) {
    throw new ClientError(
      `the ${type} request is too large to send: ${formatBytes(line.length - 1)} as JSON; ` +
        `the daemon takes at most ${formatBytes(MAX_MESSAGE_BYTES)} per message`,
    );
  }
  return line;
}

async function* readMessages(
  conn: Transport,
): AsyncGenerator<Record<string, unknown> | BinaryFrame> {
  const decoder = new StreamDecoder(MAX_INCOMING);
  for (let chunk = await conn.read(); chunk !== null; chunk = await conn.read()) {
    for (const frame of decoder.push(chunk)) {
      if (frame.kind === "binary") {
        yield frame;
        continue;
      }
      if (frame.kind !== "line") continue;
      let msg: unknown;
      try {
        msg = JSON.parse(frame.text);
      } catch {
        continue; // e.g. a line cut short when the daemon dropped a slow client
      }
      if (typeof msg === "object" && msg !== null) yield msg as Record<string, unknown>;
    }
  }
}
