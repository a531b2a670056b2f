/**
 * Clients attached to sessions: each gets a consistent redraw of the screen
 * followed by the live output stream, and (unless read-only) may type into
 * the session and resize it.
 *
 * Size policy, like tmux's default `latest`: the most recently active writing
 * client (attached, typed or resized last) sets the PTY size. Read-only
 * clients never do.
 *
 * A client that falls behind never stalls the session, the log or the other
 * clients. Like tmux, once {@linkcode LAG_BYTES} of output wait for it, it
 * stops getting the live stream; when it has caught up it gets a fresh
 * redraw and follows live again (skipping what it could not keep up with);
 * if the program exits meanwhile, it gets the final screen once it has
 * caught up, then the exit.
 * A client that makes no progress at all for {@linkcode STALL_MS} (stopped,
 * hung) is disconnected with a message.
 *
 * Output goes as `output` pushes (JSON, base64), or to a client that asked
 * for it (`binary`, feature `attach.binary`) as binary frames.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  type AttachPush,
  BINARY_INPUT,
  BINARY_OUTPUT,
  type BinaryFrame,
  encodeBinaryFrame,
  ProtocolError,
  type RequestId,
} from "../protocol.ts";
import type { Connection } from "./server.ts";
import { notRunning, type Session } from "./session.ts";
import { TIMED_OUT, within } from "../async.ts";
import { ATTACH_LAG_BYTES } from "./limits.ts";

/** Output waiting for a client beyond which it skips ahead (gets a redraw later). */
export const LAG_BYTES = ATTACH_LAG_BYTES;
/** How long a lagging client may go without reading anything before it is dropped. */
export const STALL_MS = 10_000;
/** How long a client that lagged waits for the final screen before it is told the exit. */
export const FINAL_SCREEN_MS = 5_000;

/** One client attached to one session. */
export class Attachment {
  readonly session: Session;
  readonly conn: Connection;
  readonly sub: RequestId;
  readonly readOnly: boolean;
  /** Output goes as binary frames tagged with `sub` (a number then), not `output` pushes. */
  readonly binary: boolean;
  cols: number;
  rows: number;
  /** Monotonic activity stamp for the size policy. */
  active = 0;
  /** Whether live output is being forwarded (after the initial snapshot). */
  live = false;
  #subPrefix: string;

  constructor(
    session: Session,
    conn: Connection,
    sub: RequestId,
    opts: AttachOptions,
  ) {
    this.session = session;
    this.conn = conn;
    this.sub = sub;
    this.readOnly = opts.readOnly;
    this.binary = opts.binary ?? false;
    this.cols = opts.cols;
    this.rows = opts.rows;
    this.#subPrefix = `{"type":"output","sub":${JSON.stringify(sub)},"data":"`;
  }

  /** Whether the client fell behind and live output is suspended until it catches up. */
  lagging = false;

  /**
   * Sends a chunk of output: as a binary frame, or as an `output` push with
   * the chunk as base64 (`b64`, computed once for every client that needs it).
   */
  sendOutput(chunk: Uint8Array, b64: () => string): void {
    this.conn.sendRaw(
      this.binary
        ? encodeBinaryFrame(BINARY_OUTPUT, this.sub as number, chunk)
        : new TextEncoder().encode(this.#subPrefix + b64() + '"}\n'),
    );
    if (this.live && this.conn.backlog > LAG_BYTES) this.#lag();
  }

  /** Set once detached: a lagging client is then not redrawn (the session's end is told instead). */
  over = false;

  /** Suspends live output until the client has read its backlog, then redraws. */
  #lag(): void {
    this.live = false;
    this.lagging = true;
    void (async () => {
      if (!await this.caughtUp()) return;
      if (this.over || !this.session.live) return;
      this.lagging = false;
      await this.redraw(true);
    })();
  }

  /**
   * Resolves true once the client has read its backlog; false when it is
   * gone, or was dropped for making no progress for {@linkcode STALL_MS}.
   */
  async caughtUp(): Promise<boolean> {
    while (!this.conn.closed) {
      const before = this.conn.written;
      if (await within(this.conn.drained(), STALL_MS) !== TIMED_OUT) break;
      if (this.conn.written === before) {
        this.conn.drop(`client not reading: no progress for ${STALL_MS / 1000}s`);
        return false;
      }
    }
    return !this.conn.closed;
  }

  /**
   * Sends a redraw consistent with the live stream: the screen as parsed so
   * far, then the output not yet in it. With `goLive`, forwarding of live
   * output starts at exactly that point.
   */
  redraw(goLive: boolean): Promise<void> {
    const screen = this.session.screen;
    return new Promise((resolve) => {
      if (!screen) {
        resolve();
        return;
      }
      screen.atConsistentPoint((snap) => {
        const rec = this.session.record;
        const push: AttachPush = {
          type: "screen",
          sub: this.sub,
          data: snap.data,
          cols: rec.cols,
          rows: rec.rows,
        };
        this.conn.send(push);
        for (const chunk of snap.pending) {
          this.sendOutput(chunk, () => Buffer.from(chunk).toString("base64"));
        }
        if (goLive) this.live = true;
        resolve();
      });
    });
  }
}

/** How a client attaches. */
export interface AttachOptions {
  readOnly: boolean;
  cols: number;
  rows: number;
  /** Output as binary frames (`sub` must then be a frame sub: see `isFrameSub`). */
  binary?: boolean;
}

/** Every attachment, by session. */
export class Attachments {
  #bySession = new Map<string, Set<Attachment>>();
  #listeners = new Map<string, () => void>();
  #clock = 0;

  /**
   * Attaches a client: sends it the screen, starts the live stream, applies
   * the size policy and nudges the program to repaint.
   */
  async attach(
    session: Session,
    conn: Connection,
    sub: RequestId,
    opts: AttachOptions,
  ): Promise<Attachment> {
    if (!session.live || !session.screen) {
      throw new ProtocolError("invalid_state", notRunning(session.record));
    }
    const att = new Attachment(session, conn, sub, opts);
    let set = this.#bySession.get(session.id);
    if (!set) {
      set = new Set();
      this.#bySession.set(session.id, set);
      this.#listen(session, set);
    }
    set.add(att);
    this.#announce(session, "attached", set.size);
    conn.onClose(() => this.detach(att));
    await att.redraw(true);
    if (!att.readOnly) {
      const resized = this.#activate(att);
      // A size change makes the program repaint (SIGWINCH); otherwise nudge it.
      if (!resized) void session.nudgeRepaint();
    }
    return att;
  }

  /** The attachment of `conn` to `session`, if any. */
  find(conn: Connection, sessionId: string): Attachment | undefined {
    for (const a of this.#bySession.get(sessionId) ?? []) if (a.conn === conn) return a;
    return undefined;
  }

  /** The attachment of `conn` made by its attach request `sub`, if still attached. */
  bySub(conn: Connection, sub: number): Attachment | undefined {
    for (const set of this.#bySession.values()) {
      for (const a of set) if (a.conn === conn && a.sub === sub) return a;
    }
    return undefined;
  }

  /** Number of clients attached to a session. */
  count(sessionId: string): number {
    return this.#bySession.get(sessionId)?.size ?? 0;
  }

  /**
   * Input from an attached client: refused for read-only ones; otherwise it
   * makes the client the most recent active one (applying its size).
   */
  input(att: Attachment, data: Uint8Array): void {
    if (att.readOnly) {
      throw new ProtocolError("invalid_state", "this client is attached read-only");
    }
    this.#activate(att);
    att.session.write(data);
  }

  /**
   * A binary frame from a client: input for the attachment its `sub` names.
   * Frames get no reply: returns why one was ignored (for the daemon's log),
   * or null.
   */
  frame(frame: BinaryFrame, conn: Connection): string | null {
    if (frame.type !== BINARY_INPUT) return `ignored a binary frame of unknown kind ${frame.type}`;
    const att = this.bySub(conn, frame.sub);
    if (!att) return `ignored input for attachment ${frame.sub}: not attached`;
    try {
      this.input(att, frame.data);
    } catch (e) {
      return `ignored input for attachment ${frame.sub}: ${(e as Error).message}`;
    }
    return null;
  }

  /** A client's terminal changed size. */
  resize(att: Attachment, cols: number, rows: number): void {
    att.cols = cols;
    att.rows = rows;
    if (att.readOnly) return;
    this.#activate(att);
  }

  /** Removes an attachment (client detached or disconnected). */
  detach(att: Attachment): void {
    const set = this.#bySession.get(att.session.id);
    if (!set?.delete(att)) return;
    att.live = false;
    att.over = true;
    if (set.size === 0) {
      this.#bySession.delete(att.session.id);
      this.#listeners.get(att.session.id)?.();
      this.#listeners.delete(att.session.id);
    }
    this.#announce(att.session, "detached", set.size);
  }

  /** Keeps the record's client count, and tells (`attached`, `detached`). */
  #announce(session: Session, kind: "attached" | "detached", clients: number): void {
    session.record.clients = clients;
    session.announce(kind, { clients });
  }

  /**
   * Tells a session's clients it exited, and lets them go. A client that
   * was skipped ahead (lagging) first reads its backlog, then gets the
   * final screen, so it ends on what the program last showed.
   */
  sessionExited(session: Session): void {
    const set = this.#bySession.get(session.id);
    if (!set) return;
    for (const att of [...set]) {
      const lagging = att.lagging;
      this.detach(att);
      const exit: AttachPush = { type: "exit", sub: att.sub, session: session.record };
      if (!lagging) {
        att.conn.send(exit);
        continue;
      }
      void (async () => {
        if (!await att.caughtUp()) return;
        // The screen answers once it has parsed the run's output; the exit is
        // told all the same should it not (a screen that failed).
        const data = await within(session.finalRedraw ?? Promise.resolve(null), FINAL_SCREEN_MS);
        if (data === TIMED_OUT) {
          console.error(
            `${new Date().toISOString()} session ${session.id}: no final screen within ` +
              `${FINAL_SCREEN_MS} ms for a client that lagged; told the exit without it`,
          );
        } else if (data) {
          const rec = session.record;
          att.conn.send({ type: "screen", sub: att.sub, data, cols: rec.cols, rows: rec.rows });
        }
        att.conn.send(exit);
      })();
    }
  }

  /** Marks `att` the most recent active writer and applies its size; true if the size changed. */
  #activate(att: Attachment): boolean {
    att.active = ++this.#clock;
    const rec = att.session.record;
    if (att.cols === rec.cols && att.rows === rec.rows) return false;
    att.session.resize(att.cols, att.rows);
    return true;
  }

  /** One output listener per session, encoding each chunk once for all clients. */
  #listen(session: Session, set: Set<Attachment>): void {
    const off = session.onOutput((chunk) => {
      let b64: string | null = null;
      const encoded = () => (b64 ??= Buffer.from(chunk).toString("base64"));
      for (const att of set) {
        if (att.live) att.sendOutput(chunk, encoded);
      }
    }, true);
    // Watched: its output is read as it comes, not once a quiet tick.
    const unwatch = session.watch();
    this.#listeners.set(session.id, () => {
      off();
      unwatch();
    });
  }
}
