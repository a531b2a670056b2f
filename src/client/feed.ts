/**
 * The daemon's sessions, followed live: a snapshot, then every event, kept
 * in a {@linkcode SessionTable}; when the connection is lost, or an event
 * was missed, it reconnects (with back-off) and starts again from a new
 * snapshot. What a dashboard reads.
 *
 * @module
 */

import type { SessionEvent, SessionUsage } from "../protocol.ts";
import { FEATURES } from "../protocol.ts";
import type { Client } from "./client.ts";
import { DaemonError, MissingFeaturesError, ProtocolMismatchError } from "./errors.ts";
import { type Applied, SessionTable } from "./sessions.ts";

/** What the feed tells its reader. */
export type FeedUpdate =
  /**
   * The table was filled from a new snapshot (show everything again).
   * `reconnected`: after a lost connection or a missed event; `restarted`:
   * the daemon is not the one of the previous snapshot.
   */
  | { kind: "snapshot"; reconnected: boolean; restarted: boolean }
  /** An event, already applied to the table. */
  | { kind: "event"; event: SessionEvent; applied: Applied }
  /** No connection: why, and when the next attempt is (the table keeps what it knew). */
  | { kind: "down"; reason: string; attempt: number; retryInMs: number };

/** Options of {@linkcode SessionFeed}. */
export interface FeedOptions {
  /**
   * Opens a connection (each start and reconnect), e.g.
   * `() => Client.connect(socket)`. It should not start a daemon on a
   * reconnect unless that is wanted.
   */
  connect: () => Promise<Client>;
  /** Follow one session only (a reference: id, prefix or name). */
  session?: string;
  /** First wait before reconnecting (doubles up to `maxBackoffMs`); default 250 ms. */
  initialBackoffMs?: number;
  /** Longest wait between attempts; default 5 s. */
  maxBackoffMs?: number;
  /** Events held unread before a resync; see `Client.subscribe`. */
  maxQueue?: number;
  /**
   * Follow the sessions' usage too, from the daemon's pushes (every 5 s;
   * when it has the `resources` feature): called with
   * {@linkcode SessionFeed.usage} as each push comes.
   */
  onUsage?: (usage: ReadonlyMap<string, SessionUsage>) => void;
}

/**
 * Follows the daemon's sessions. Iterate it (once) for updates; read
 * {@linkcode SessionFeed.table} for the sessions. Iteration ends after
 * {@linkcode SessionFeed.close}; it fails only when retrying cannot help
 * (the daemon speaks another protocol, lacks `events.snapshot`, or refuses
 * this user).
 */
export class SessionFeed implements AsyncIterable<FeedUpdate> {
  /** The sessions as of the last update. */
  readonly table = new SessionTable();
  readonly #opts: FeedOptions;
  #client: Client | null = null;
  #usage: Map<string, SessionUsage> | null = null;
  #closed = false;
  #wake: (() => void) | null = null;

  constructor(opts: FeedOptions) {
    this.#opts = opts;
  }

  /** The connection in use (null while down): it serves other requests too. */
  get client(): Client | null {
    return this.#client;
  }

  /**
   * Each live session's usage as last pushed, by id (with `onUsage`); null
   * when not asked for, or the daemon connected to does not measure it.
   */
  get usage(): ReadonlyMap<string, SessionUsage> | null {
    return this.#usage;
  }

  /** Stops following (ends the iteration and closes the connection). */
  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#wake?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<FeedUpdate> {
    return this.#run();
  }

  async *#run(): AsyncGenerator<FeedUpdate> {
    try {
      yield* this.#follow();
    } finally {
      // Also when the reader stops iterating.
      this.#client?.close();
      this.#client = null;
    }
  }

  async *#follow(): AsyncGenerator<FeedUpdate> {
    const initial = this.#opts.initialBackoffMs ?? 250;
    const max = this.#opts.maxBackoffMs ?? 5000;
    // The first retry is at once (after a missed event, a dropped client), then back-off.
    const backoff = (n: number) => (n <= 1 ? 0 : Math.min(max, initial * 2 ** (n - 2)));
    let attempt = 0;
    let had = false;
    while (!this.#closed) {
      let reason: string;
      let client: Client | null = null;
      try {
        client = await this.#opts.connect();
        if (this.#closed) break;
        this.#client = client;
        client.require(FEATURES.eventsSnapshot);
        const params: Parameters<Client["subscribe"]>[0] = { snapshot: true };
        if (this.#opts.session !== undefined) params.session = this.#opts.session;
        if (this.#opts.maxQueue !== undefined) params.maxQueue = this.#opts.maxQueue;
        const onUsage = this.#opts.onUsage;
        if (onUsage && client.has(FEATURES.resources)) {
          // What was measured before stays until the next push (one every 5 s).
          this.#usage ??= new Map();
          params.onUsage = (push) => {
            if (this.#client !== client) return;
            this.#usage = new Map(Object.entries(push.sessions ?? {}));
            onUsage(this.#usage);
          };
        } else {
          this.#usage = null;
        }
        const sub = await client.subscribe(params);
        const before = this.table.daemonStarted;
        this.table.reset(sub.snapshot!);
        attempt = 0;
        yield {
          kind: "snapshot",
          reconnected: had,
          restarted: had && before !== sub.snapshot!.daemonStarted,
        };
        had = true;
        reason = "the event stream ended";
        for await (const push of sub) {
          const applied = this.table.apply(push);
          if (applied.kind === "gap") {
            reason = `missed event ${applied.expected} (got ${applied.got})`;
            break;
          }
          yield { kind: "event", event: push.event, applied };
        }
      } catch (e) {
        if (fatal(e)) throw e;
        reason = (e as Error).message;
      } finally {
        client?.close();
        this.#client = null;
      }
      if (this.#closed) break;
      attempt++;
      const wait = backoff(attempt);
      yield { kind: "down", reason, attempt, retryInMs: wait };
      if (wait > 0) await this.#sleep(wait);
    }
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#closed) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((r) => {
      this.#wake = r;
      timer = setTimeout(r, ms);
    });
    clearTimeout(timer);
    this.#wake = null;
  }
}

/** Failures that retrying cannot mend. */
function fatal(e: unknown): boolean {
  return e instanceof MissingFeaturesError || e instanceof ProtocolMismatchError ||
    (e instanceof DaemonError && e.code === "forbidden");
}
