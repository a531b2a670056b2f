/**
 * The CLI's side of the protocol: connect, check the greeting, send requests
 * and match replies by id, receive pushed messages; and start the daemon in
 * the background when none answers.
 *
 * @module
 */

import {
  type Api,
  type Hello,
  LineDecoder,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  type RequestType,
} from "../protocol.ts";
import type { Paths } from "../paths.ts";
import { selfCommand } from "../self.ts";
import { CliError } from "./_errors.ts";
import { TIMED_OUT, within } from "../async.ts";
import { formatBytes } from "../bytes.ts";
import { checkHomePath, OwnershipError, prepareHome } from "../ownership.ts";

/** Largest message the CLI accepts from the daemon (screens and record lists can be big). */
const MAX_INCOMING = 256 * 1024 * 1024;

/** No daemon answers on the socket. */
export class NoDaemonError extends CliError {
  constructor(socket: string, why: string) {
    super(
      `no daemon is answering on ${socket} (${why})`,
      1,
      "start one with: claude-sessions daemon",
    );
    this.name = "NoDaemonError";
  }
}

/**
 * A message pushed by the daemon for a streaming request. A returned promise
 * is awaited before the next message is read, so a slow consumer slows the
 * socket (and the daemon drops a client that falls too far behind).
 */
export type PushHandler = (msg: Record<string, unknown>) => void | Promise<void>;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** A connection to the daemon. */
export class Client {
  /** The daemon's greeting. */
  readonly hello: Hello;
  #conn: Deno.UnixConn;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending = new Map<number, Pending>();
  #subs = new Map<number, PushHandler>();
  #nextId = 1;
  #closed = false;
  #closeReason: string | null = null;
  #onClose: ((reason: string) => void)[] = [];
  #encoder = new TextEncoder();

  private constructor(
    conn: Deno.UnixConn,
    hello: Hello,
    rest: AsyncIterator<Record<string, unknown>>,
  ) {
    this.#conn = conn;
    this.hello = hello;
    this.#writer = conn.writable.getWriter();
    void this.#readLoop(rest);
  }

  /**
   * Connects and reads the greeting.
   * @throws {NoDaemonError} when nothing answers
   * @throws {CliError} when the daemon speaks another protocol version
   */
  static async connect(socket: string): Promise<Client> {
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
    const messages = readMessages(conn)[Symbol.asyncIterator]();
    const first = await messages.next();
    if (!first.done && first.value.type === "reply" && first.value.ok === false) {
      // Refused before the greeting (`forbidden`: we are not the daemon's user).
      conn.close();
      const err = first.value.error as { code?: string; message?: string } | undefined;
      throw new DaemonError(
        err?.code ?? "internal",
        `${socket}: ${err?.message ?? "the daemon refused the connection"}`,
      );
    }
    if (first.done || first.value.type !== "hello") {
      conn.close();
      throw new NoDaemonError(socket, "no greeting; is this a claude-sessions socket?");
    }
    const hello = first.value as unknown as Hello;
    if (hello.protocol !== PROTOCOL_VERSION) {
      conn.close();
      throw new CliError(
        `the daemon (version ${hello.version}) speaks protocol ${hello.protocol}; ` +
          `this CLI speaks ${PROTOCOL_VERSION}`,
        1,
        "restart the daemon: claude-sessions stop-daemon, then run your command again",
      );
    }
    return new Client(conn, hello, messages);
  }

  /**
   * Sends a request and resolves with its result.
   * @throws {CliError} carrying the daemon's error message
   */
  request<K extends RequestType>(type: K, params: Api[K]["params"]): Promise<Api[K]["result"]> {
    return this.#send(type, params as Record<string, unknown>, undefined) as Promise<
      Api[K]["result"]
    >;
  }

  /**
   * Sends a streaming request: `onPush` receives every message the daemon
   * pushes for it; the promise resolves with the request's reply.
   */
  stream(
    type: string,
    params: Record<string, unknown>,
    onPush: PushHandler,
  ): { id: number; reply: Promise<unknown> } {
    const id = this.#nextId;
    return { id, reply: this.#send(type, params, onPush) };
  }

  /** Sends a message that expects no reply routing (fire and forget). */
  async notify(message: Record<string, unknown>): Promise<void> {
    if (this.#closed) return;
    await this.#writer.write(this.#encoder.encode(JSON.stringify(message) + "\n"));
  }

  /** Runs `fn` with the reason when the connection ends. */
  onClose(fn: (reason: string) => void): void {
    if (this.#closed) fn(this.#closeReason ?? "closed");
    else this.#onClose.push(fn);
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection. */
  close(): void {
    this.#finish("closed by client");
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }

  async #send(
    type: string,
    params: Record<string, unknown>,
    onPush: PushHandler | undefined,
  ): Promise<unknown> {
    if (this.#closed) throw new CliError(`connection to the daemon lost: ${this.#closeReason}`);
    const id = this.#nextId++;
    const reply = new Promise<unknown>((resolve, reject) =>
      this.#pending.set(id, { resolve, reject })
    );
    // The id first: a daemon that cannot read a too-long line still answers under it.
    const msg: Record<string, unknown> = { id, type, ...params };
    msg.id = id;
    msg.type = type;
    const line = this.#encoder.encode(JSON.stringify(msg) + "\n");
    if (line.length - 1 > MAX_MESSAGE_BYTES) {
      this.#pending.delete(id);
      throw new CliError(
        `the ${type} request is too large to send: ${formatBytes(line.length - 1)} as JSON; ` +
          `the daemon takes at most ${formatBytes(MAX_MESSAGE_BYTES)} per message`,
      );
    }
    if (onPush) this.#subs.set(id, onPush);
    try {
      await this.#writer.write(line);
    } catch (e) {
      this.#pending.delete(id);
      throw new CliError(`cannot send to the daemon: ${(e as Error).message}`);
    }
    return reply;
  }

  async #readLoop(messages: AsyncIterator<Record<string, unknown>>): Promise<void> {
    let reason = "the daemon closed the connection";
    try {
      while (true) {
        const next = await messages.next();
        if (next.done) break;
        const msg = next.value;
        if (msg.type === "reply" && msg.id === null && msg.ok === false) {
          // A line the daemon could not read (it names no request): every
          // request still waiting may be the one, and none will get a reply.
          const err = msg.error as { code?: string; message?: string } | undefined;
          const e = new DaemonError(
            err?.code ?? "internal",
            `the daemon could not read a request: ${err?.message ?? "unknown error"}`,
          );
          for (const [pid, p] of this.#pending) {
            this.#subs.delete(pid);
            p.reject(e);
          }
          this.#pending.clear();
        } else if (msg.type === "reply" && typeof msg.id === "number") {
          const p = this.#pending.get(msg.id);
          if (!p) continue;
          this.#pending.delete(msg.id);
          if (msg.ok === true) {
            p.resolve(msg.result);
          } else {
            this.#subs.delete(msg.id);
            const err = msg.error as { code?: string; message?: string } | undefined;
            p.reject(new DaemonError(err?.code ?? "internal", err?.message ?? "request failed"));
          }
        } else if (msg.type === "dropped") {
          reason = `the daemon dropped this client: ${String(msg.reason)}`;
        } else if (typeof msg.sub === "number") {
          await this.#subs.get(msg.sub)?.(msg);
        }
      }
    } catch (e) {
      reason = `connection to the daemon failed: ${(e as Error).message}`;
    }
    this.#finish(reason);
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    for (const p of this.#pending.values()) p.reject(new CliError(reason));
    this.#pending.clear();
    const fns = this.#onClose;
    this.#onClose = [];
    for (const fn of fns) fn(reason);
  }
}

/** An error reply from the daemon. */
export class DaemonError extends CliError {
  /** The protocol error code. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message, 1);
    this.name = "DaemonError";
    this.code = code;
  }
}

async function* readMessages(conn: Deno.UnixConn): AsyncGenerator<Record<string, unknown>> {
  const decoder = new LineDecoder(MAX_INCOMING);
  for await (const chunk of conn.readable) {
    for (const frame of decoder.push(chunk)) {
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

/**
 * Starts `claude-sessions daemon --foreground` detached in the background,
 * its stderr appended to `daemon.log`, and returns once it is ready (it
 * prints one line on stdout when it serves).
 * @throws {CliError} with the daemon's own error when it fails to start
 */
export async function startDaemonBackground(p: Paths): Promise<{ pid: number }> {
  // Before anything is created or written in it (daemon.log included).
  try {
    await prepareHome(p);
  } catch (e) {
    if (e instanceof OwnershipError) throw new CliError(`cannot start a daemon: ${e.message}`);
    throw e;
  }
  // Keep the daemon's log from growing without bound: one previous generation.
  try {
    if ((await Deno.stat(p.daemonLog)).size > 4 * 1024 * 1024) {
      await Deno.rename(p.daemonLog, `${p.daemonLog}.1`);
    }
  } catch { /* no log yet */ }
  let offset = 0;
  try {
    offset = (await Deno.stat(p.daemonLog)).size;
  } catch { /* no log yet */ }
  const self = selfCommand();
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log=$1; shift; umask 077; exec "$@" daemon --foreground </dev/null 2>>"$log"',
      "sh",
      p.daemonLog,
      ...self,
    ],
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const reader = child.stdout.getReader();
  let got = "";
  const dec = new TextDecoder();
  const deadline = Date.now() + 30_000;
  while (!got.includes("\n")) {
    const r = await within(reader.read(), Math.max(0, deadline - Date.now()));
    if (r === TIMED_OUT) {
      throw new CliError(`the daemon did not become ready within 30s; see ${p.daemonLog}`);
    }
    if (r.done) break;
    got += dec.decode(r.value, { stream: true });
  }
  if (got.startsWith("ready")) {
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    child.unref();
    return { pid: child.pid };
  }
  await child.status;
  let why = "";
  try {
    const f = await Deno.open(p.daemonLog);
    await f.seek(offset, Deno.SeekMode.Start);
    const bytes = new Uint8Array(64 * 1024);
    const n = (await f.read(bytes)) ?? 0;
    f.close();
    why = dec.decode(bytes.subarray(0, n)).trim().split("\n").filter(Boolean).slice(-3).join("; ");
  } catch { /* no log */ }
  // Another daemon may have won a race to start; that is fine.
  throw new CliError(`the daemon failed to start${why ? `: ${why.replace(/^\S+Z /gm, "")}` : ""}`);
}

/**
 * Connects to the daemon, starting it first when none answers: through the
 * service when one is installed for this home, else in the background.
 */
export async function connectOrStart(p: Paths): Promise<Client> {
  try {
    return await Client.connect(p.socket);
  } catch (e) {
    if (!(e instanceof NoDaemonError)) throw e;
  }
  // No daemon will be started, by the service or by us, in a home that is not ours.
  try {
    await checkHomePath(p.home);
  } catch (e) {
    if (e instanceof OwnershipError) throw new CliError(`cannot start a daemon: ${e.message}`);
    throw e;
  }
  try {
    const { Service } = await import("../service/service.ts");
    const service = await Service.forThisMachine();
    if (service.paths.home === p.home && await service.startIfInstalled()) {
      return await Client.connect(p.socket);
    }
  } catch { /* the service did not start it: start it directly */ }
  try {
    await startDaemonBackground(p);
  } catch (e) {
    // A concurrent CLI may have started one meanwhile.
    try {
      return await Client.connect(p.socket);
    } catch {
      throw e;
    }
  }
  return await Client.connect(p.socket);
}
