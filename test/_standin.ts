/**
 * A stand-in daemon for clients that follow sessions (`watch`): it greets
 * with every feature (or those given), answers `events` with a snapshot of
 * the sessions it holds, and pushes the numbered events the test (or a
 * benchmark) makes — status changes with the session's record — to every
 * subscriber, and usage to those that asked for it. Other
 * requests are recorded and answered by `answer` (default: an empty
 * result). No sessions run: what it says is what the test decides.
 *
 * @module
 */

import {
  type EventPush,
  FEATURES,
  LineDecoder,
  PROTOCOL_VERSION,
  type SessionEvent,
  type SessionRecord,
  type SessionStatus,
  type SessionUsage,
  type UsagePush,
} from "../src/protocol.ts";
import { within } from "../src/async.ts";
import { closeUnixServer } from "./_harness.ts";
import { testRecord } from "../src/_test_record.ts";

/** A request the stand-in received. */
export interface SeenRequest {
  type: string;
  params: Record<string, unknown>;
}

/** What a request is answered with: a result, or an error. */
export type Answer = { result: unknown } | { error: { code: string; message: string } };

/** A session record with the defaults of a running Claude session. */
export function standInRecord(
  id: string,
  status: string,
  extra: Partial<SessionRecord> = {},
): SessionRecord {
  const at = new Date().toISOString();
  return testRecord({
    id,
    cwd: "/tmp",
    status: status as SessionStatus,
    statusSince: at,
    created: at,
    updated: at,
    runs: [],
    ...extra,
  });
}

/** The stand-in daemon. */
export class StandInDaemon {
  readonly socket: string;
  readonly records = new Map<string, SessionRecord>();
  /** Every request but `events`, in order. */
  readonly requests: SeenRequest[] = [];
  /** Answers requests other than `events` (default: an empty result). */
  answer: (req: SeenRequest) => Answer | Promise<Answer> = () => ({ result: {} });
  #seq = 0;
  #started = new Date().toISOString();
  #listener: Deno.UnixListener;
  /** The accept loop; over once the listener is closed. */
  #accepting: Promise<void>;
  #conns = new Set<Deno.UnixConn>();
  /** Subscribers: connection, request id, and whether they asked for usage. */
  #subs: { conn: Deno.UnixConn; id: unknown; usage: boolean }[] = [];
  readonly #features: string[];
  #enc = new TextEncoder();
  #waiters: (() => void)[] = [];

  private constructor(socket: string, records: SessionRecord[], features: string[]) {
    this.socket = socket;
    this.#features = features;
    for (const r of records) this.records.set(r.id, r);
    this.#listener = Deno.listen({ transport: "unix", path: socket });
    this.#accepting = this.#accept();
  }

  /** Listens on `socket`, holding `records`, greeting with `features` (default: all). */
  static start(
    socket: string,
    records: SessionRecord[] = [],
    features: string[] = Object.values(FEATURES),
  ): StandInDaemon {
    return new StandInDaemon(socket, records, features);
  }

  /** Subscribers now. */
  get subscribers(): number {
    return this.#subs.length;
  }

  /** Subscribers that asked for usage. */
  get usageSubscribers(): number {
    return this.#subs.filter((s) => s.usage).length;
  }

  /** Pushes usage to the subscribers that asked for it. */
  pushUsage(sessions: Record<string, SessionUsage>): void {
    for (const s of this.#subs.filter((x) => x.usage)) {
      const push: UsagePush = { type: "usage", sub: s.id as number, sessions };
      void this.#send(s.conn, push);
    }
  }

  /** Waits until `pred` holds (checked as requests and subscriptions come). */
  async until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`the stand-in daemon never saw ${what}`);
      await within(new Promise<void>((r) => this.#waiters.push(r)), deadline - Date.now());
    }
  }

  /** Changes a session's status (and record) and tells every subscriber. */
  setStatus(id: string, status: string, extra: Partial<SessionRecord> = {}): void {
    const before = this.records.get(id)!;
    const at = new Date().toISOString();
    const rec: SessionRecord = {
      ...before,
      ...extra,
      status: status as SessionStatus,
      statusSince: at,
      updated: at,
    };
    this.records.set(id, rec);
    this.emit({
      event: status === "exited" ? "exited" : "status",
      at,
      id,
      name: rec.name,
      status: rec.status,
      previous: before.status,
      source: "hook",
    }, rec);
  }

  /** Sends an event (with the next number, and `rec` as the session's record). */
  emit(event: SessionEvent, rec?: SessionRecord): void {
    const seq = ++this.#seq;
    for (const s of this.#subs) {
      const push: EventPush = { type: "event", sub: s.id as number, event, seq };
      if (rec) push.session = rec;
      void this.#send(s.conn, push);
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    await closeUnixServer(this.#listener, this.#conns, this.#accepting, this.socket);
  }

  async #send(conn: Deno.UnixConn, msg: unknown): Promise<void> {
    const bytes = this.#enc.encode(JSON.stringify(msg) + "\n");
    try {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    } catch { /* the client went */ }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        void this.#serve(conn);
      }
    } catch { /* closed */ }
  }

  #wake(): void {
    for (const fn of this.#waiters.splice(0)) fn();
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    const decoder = new LineDecoder(1024 * 1024);
    await this.#send(conn, {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      version: "stand-in",
      pid: Deno.pid,
      features: this.#features,
    });
    try {
      for await (const chunk of conn.readable) {
        for (const f of decoder.push(chunk)) {
          if (f.kind !== "line") continue;
          const { id, type, ...params } = JSON.parse(f.text);
          if (type === "events") {
            const sessions = [...this.records.values()];
            this.#subs.push({ conn, id, usage: params.usage === true });
            await this.#send(conn, {
              type: "reply",
              id,
              ok: true,
              result: {
                subscribed: true,
                seq: this.#seq,
                sessions,
                shortLength: 8,
                daemonStarted: this.#started,
              },
            });
            this.#wake();
            continue;
          }
          const req = { type, params };
          this.requests.push(req);
          this.#wake();
          void Promise.resolve(this.answer(req)).then((a) =>
            this.#send(
              conn,
              "error" in a
                ? { type: "reply", id, ok: false, error: a.error }
                : { type: "reply", id, ok: true, result: a.result },
            )
          );
        }
      }
    } catch { /* the client went */ }
    this.#subs = this.#subs.filter((s) => s.conn !== conn);
    this.#conns.delete(conn);
    this.#wake();
  }
}
