/**
 * A session's screen model: its output fed into a headless terminal emulator
 * (`@xterm/headless`, in a worker thread — see `_screen_worker.ts`), sized
 * like the PTY, with scrollback. It answers "what is on the screen now" for
 * attach (a serialized redraw), peek, and send (which modes are on).
 *
 * Parsing is slower than a PTY can produce, so output in flight to the worker
 * is bounded: above {@linkcode Screen.HIGH_WATER} bytes the owner is told to
 * stop reading the PTY (back-pressure on the program, as in tmux), and below
 * {@linkcode Screen.LOW_WATER} to resume. Nothing is ever dropped.
 *
 * @module
 */

import { ModeTracker } from "./_modes.ts";
import { WORKER_BUNDLES, workerUrl } from "../worker_url.ts";
import type { ToMain, ToWorker } from "./_screen_protocol.ts";
import { SCREEN_HIGH_WATER, SCREEN_LOW_WATER } from "./limits.ts";

/** A consistent view for a client that will then follow the live stream. */
export interface Snapshot {
  /** Escape sequences that redraw the screen and restore terminal modes. */
  data: string;
  /** Output fed before the snapshot was taken but not part of `data`: replay after it. */
  pending: Uint8Array[];
}

/** Plain or coloured text of the screen. */
export interface PeekOptions {
  /** Coloured (SGR) output instead of plain text. */
  ansi?: boolean;
  /** The last N lines (scrollback included) instead of the visible screen. */
  lines?: number;
  /**
   * The screen the program last showed, for a program that has ended: the
   * alternate screen as it left it when it did so shortly before the end.
   */
  final?: boolean;
}

type Waiter = (msg: ToMain) => void;

/** The worker shared by every screen of this process, started on first use. */
class ScreenWorker {
  static #shared: ScreenWorker | null = null;
  #worker: Worker;
  #screens = new Map<number, Screen>();
  #waiters = new Map<number, Waiter>();
  #nextReq = 1;
  #nextSid = 1;
  #dead: string | null = null;

  private constructor() {
    this.#worker = new Worker(
      workerUrl(import.meta.url, "./_screen_worker.ts", WORKER_BUNDLES.screen),
      { type: "module" },
    );
    this.#worker.onmessage = (e: MessageEvent<ToMain>) => this.#receive(e.data);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#fail(`screen worker failed: ${e.message}`);
    };
  }

  static acquire(screen: Screen): { worker: ScreenWorker; sid: number } {
    ScreenWorker.#shared ??= new ScreenWorker();
    const w = ScreenWorker.#shared;
    const sid = w.#nextSid++;
    w.#screens.set(sid, screen);
    return { worker: w, sid };
  }

  release(sid: number): void {
    this.post({ op: "close", sid });
    this.#screens.delete(sid);
    if (this.#screens.size === 0 && this.#waiters.size === 0) {
      // Nothing left: let the process exit.
      this.#worker.terminate();
      if (ScreenWorker.#shared === this) ScreenWorker.#shared = null;
    }
  }

  post(msg: ToWorker, transfer: Transferable[] = []): void {
    if (this.#dead) return;
    this.#worker.postMessage(msg, transfer);
  }

  /** Sends a request and resolves with the worker's answer. */
  request(make: (req: number) => ToWorker): Promise<ToMain> {
    const req = this.#nextReq++;
    return new Promise((resolve) => {
      if (this.#dead) {
        resolve({ op: "error", message: this.#dead });
        return;
      }
      this.#waiters.set(req, resolve);
      this.post(make(req));
    });
  }

  #receive(msg: ToMain): void {
    if (msg.op === "ack") {
      this.#screens.get(msg.sid)?.acked(msg.seq);
    } else if (msg.op === "error") {
      console.error(`${new Date().toISOString()} screen worker: ${msg.message}`);
    } else {
      const w = this.#waiters.get(msg.req);
      this.#waiters.delete(msg.req);
      w?.(msg);
    }
  }

  #fail(why: string): void {
    this.#dead = why;
    console.error(`${new Date().toISOString()} ${why}`);
    for (const w of this.#waiters.values()) w({ op: "error", message: why });
    this.#waiters.clear();
    for (const s of this.#screens.values()) s.acked(Infinity);
  }
}

/** The emulated screen of one session. */
export class Screen {
  /** Bytes in flight to the emulator above which the owner should pause the PTY. */
  static readonly HIGH_WATER = SCREEN_HIGH_WATER;
  /** Bytes in flight below which a paused PTY may resume. */
  static readonly LOW_WATER = SCREEN_LOW_WATER;

  #worker: ScreenWorker;
  #sid: number;
  #modes = new ModeTracker();
  #seq = 0;
  /** Fed chunks the worker has not parsed yet, oldest first. */
  #unacked: { seq: number; chunk: Uint8Array }[] = [];
  #pendingBytes = 0;
  #throttled = false;
  #onThrottle: (paused: boolean) => void;
  #disposed = false;

  /**
   * @param onThrottle called with true when the owner should pause reading
   *   the PTY, false when it may resume
   */
  constructor(
    cols: number,
    rows: number,
    scrollback: number,
    onThrottle: (paused: boolean) => void = () => {},
  ) {
    const { worker, sid } = ScreenWorker.acquire(this);
    this.#worker = worker;
    this.#sid = sid;
    this.#onThrottle = onThrottle;
    worker.post({ op: "open", sid, cols, rows, scrollback });
  }

  /** Bytes fed and not yet parsed. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Whether the program enabled bracketed paste. */
  get bracketedPaste(): boolean {
    return this.#modes.bracketedPaste;
  }

  /** Whether the program enabled application cursor keys (DECCKM). */
  get applicationCursorKeys(): boolean {
    return this.#modes.applicationCursor;
  }

  /** Feeds program output (the chunk is copied; the caller keeps it). */
  feed(chunk: Uint8Array): void {
    if (this.#disposed || chunk.length === 0) return;
    this.#modes.feed(chunk);
    const seq = ++this.#seq;
    this.#unacked.push({ seq, chunk });
    this.#pendingBytes += chunk.length;
    const copy = chunk.slice();
    this.#worker.post({ op: "feed", sid: this.#sid, seq, chunk: copy }, [copy.buffer]);
    if (!this.#throttled && this.#pendingBytes > Screen.HIGH_WATER) {
      this.#throttled = true;
      this.#onThrottle(true);
    }
  }

  /** @internal the worker parsed every chunk up to `seq` */
  acked(seq: number): void {
    while (this.#unacked.length > 0 && this.#unacked[0]!.seq <= seq) {
      this.#pendingBytes -= this.#unacked.shift()!.chunk.length;
    }
    if (this.#throttled && this.#pendingBytes <= Screen.LOW_WATER) {
      this.#throttled = false;
      this.#onThrottle(false);
    }
  }

  /**
   * Never asks the owner to pause again (the program has exited: what is
   * left to feed is bounded); a pause in force is lifted.
   */
  stopThrottling(): void {
    const was = this.#throttled;
    this.#throttled = false;
    const fn = this.#onThrottle;
    this.#onThrottle = () => {};
    if (was) fn(false);
  }

  /** Resizes the emulator (reflowing as a terminal would). */
  resize(cols: number, rows: number): void {
    if (this.#disposed) return;
    this.#worker.post({ op: "resize", sid: this.#sid, cols, rows });
  }

  /**
   * Calls `fn` with a snapshot: the screen after every chunk fed before this
   * call, plus the chunks fed since (`pending`). `fn` runs synchronously with
   * the computation of `pending`, so a caller that starts following the live
   * stream inside `fn` misses nothing and sees nothing twice.
   */
  atConsistentPoint(fn: (snap: Snapshot) => void): void {
    if (this.#disposed) {
      fn({ data: "", pending: [] });
      return;
    }
    const after = this.#seq;
    void this.#worker.request((req) => ({ op: "snapshot", sid: this.#sid, req })).then((msg) => {
      // Acks for chunks after the snapshot arrive after it (the worker's
      // messages are ordered), so those chunks are all still unacked here.
      const pending = this.#unacked.filter((u) => u.seq > after).map((u) => u.chunk);
      fn({ data: msg.op === "snapshot" ? msg.data : "", pending });
    });
  }

  /** Text of the screen (see {@linkcode PeekOptions}) once everything fed so far is parsed. */
  async peek(opts: PeekOptions = {}): Promise<string> {
    if (this.#disposed) return "";
    const msg = await this.#worker.request((req) => ({
      op: "peek",
      sid: this.#sid,
      req,
      ansi: opts.ansi ?? false,
      lines: opts.lines ?? null,
      final: opts.final ?? false,
    }));
    return msg.op === "peek" ? msg.text : "";
  }

  /** Resolves once everything fed so far is parsed. */
  async settled(): Promise<void> {
    await this.peek({ lines: 1 });
  }

  /** Frees the emulator. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#unacked = [];
    this.#pendingBytes = 0;
    this.#worker.release(this.#sid);
  }
}
