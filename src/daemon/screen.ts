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

/**
 * Output fed to screens is sent to the worker in batches (all screens
 * together): with the next output once the batch is {@linkcode FEED_DELAY_MS}
 * old, or after {@linkcode FEED_LATEST_MS} if no more comes, or at once when
 * it reaches {@linkcode FEED_BATCH_BYTES}, or before any other message (so a
 * peek or a snapshot sees everything fed before it). Sessions printing a line
 * now and then cost the worker a wakeup per batch, not per line, and the
 * main thread no timer per line; a flood goes out chunk by chunk as before.
 */
export const FEED_DELAY_MS = 250;
/** A batch no more output follows is sent after this long. */
export const FEED_LATEST_MS = 500;
/** A batch of fed output this big is sent at once. */
export const FEED_BATCH_BYTES = 16 * 1024;
/**
 * The worker says what it has parsed only when asked: for a batch that leaves
 * a screen with this much output unacknowledged (or {@linkcode ACK_CHUNKS}
 * chunks), for a throttled screen, and before a request. So what the main
 * thread keeps for a screen stays bounded while a session printing a little
 * costs no answer at all.
 */
export const ACK_BYTES = 16 * 1024;
/** See {@linkcode ACK_BYTES}. */
export const ACK_CHUNKS = 64;

let batchesSent = 0;
/** @internal batches of fed output sent to the worker so far (for tests). */
export function feedBatchesSent(): number {
  return batchesSent;
}

/** The worker shared by every screen of this process, started on first use. */
class ScreenWorker {
  static #shared: ScreenWorker | null = null;
  #worker: Worker;
  #screens = new Map<number, Screen>();
  #waiters = new Map<number, Waiter>();
  #nextReq = 1;
  #nextSid = 1;
  #dead: string | null = null;
  /** Fed output not yet sent (see {@linkcode FEED_DELAY_MS}). */
  #batch: { sids: number[]; seqs: number[]; chunks: Uint8Array<ArrayBuffer>[] } = {
    sids: [],
    seqs: [],
    chunks: [],
  };
  #batchBytes = 0;
  #batchTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the first chunk of the batch was queued (`performance.now()`). */
  #batchSince = 0;

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
    this.#sendBatch(true);
    this.#worker.postMessage(msg, transfer);
  }

  /** Queues output for screen `sid` (the chunk is the worker's from now on). */
  feed(sid: number, seq: number, chunk: Uint8Array<ArrayBuffer>): void {
    if (this.#dead) return;
    const b = this.#batch;
    b.sids.push(sid);
    b.seqs.push(seq);
    b.chunks.push(chunk);
    this.#batchBytes += chunk.length;
    const now = performance.now();
    if (b.sids.length === 1) this.#batchSince = now;
    if (this.#batchBytes >= FEED_BATCH_BYTES || now - this.#batchSince >= FEED_DELAY_MS) {
      this.#sendBatch();
    } else this.#batchTimer ??= setTimeout(() => this.#sendBatch(), FEED_LATEST_MS);
  }

  /** Sends the batch; the worker answers if `ack` or a screen in it needs an answer. */
  #sendBatch(ack = false): void {
    if (this.#batchTimer !== null) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    const b = this.#batch;
    if (b.sids.length === 0) return;
    this.#batch = { sids: [], seqs: [], chunks: [] };
    this.#batchBytes = 0;
    if (this.#dead) return;
    batchesSent++;
    ack ||= b.sids.some((sid) => this.#screens.get(sid)?.wantsAck ?? false);
    const msg: ToWorker = { op: "feeds", ...b, ack };
    this.#worker.postMessage(msg, b.chunks.map((c) => c.buffer as ArrayBuffer));
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
    if (msg.op === "acks") {
      msg.sids.forEach((sid, i) => this.#screens.get(sid)?.acked(msg.seqs[i]!));
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
    this.#sendBatch();
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

  /** Bytes fed and not yet known to be parsed (the worker says so only now and then). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** @internal whether the worker should say what it parsed (see {@linkcode ACK_BYTES}) */
  get wantsAck(): boolean {
    return this.#throttled || this.#pendingBytes >= ACK_BYTES ||
      this.#unacked.length >= ACK_CHUNKS;
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
    this.#worker.feed(this.#sid, seq, chunk.slice());
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
