/**
 * Full garbage collections after bursts. A JavaScript heap that has stopped
 * allocating is not collected: what a burst of output left behind (parsed
 * chunks, log lines, the lines the screen model moved out of its emulator)
 * would stay in memory while the daemon idles. Each of the daemon's
 * isolates (the main thread, the screen worker) checks every
 * {@linkcode COLLECT_EVERY_MS} whether its heap has grown by
 * {@linkcode COLLECT_AFTER_BYTES} since it last collected (or it was asked
 * to), and once it is also quiet — the heap not growing since the check
 * before, so that no flood is paused — collects, thoroughly.
 *
 * `gc` is there only where V8 exposes it (`--expose-gc`, one of the
 * daemon's `V8_FLAGS`); elsewhere nothing is done.
 *
 * @module
 */

/** How often the heap is checked. */
export const COLLECT_EVERY_MS = 1000;

/** Growth of the heap (and the memory its objects hold outside it) that warrants a collection. */
export const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;

/** Growth between two checks below which the isolate counts as quiet. */
export const QUIET_BYTES = 512 * 1024;

/**
 * V8's most thorough collection (what it does before giving up on memory):
 * a plain one frees typed arrays' memory only once a concurrent sweep is
 * finished, by a later collection, and keeps the heap's emptied pages.
 */
const THOROUGH = { type: "major", execution: "sync", flavor: "last-resort" } as const;

type Gc = (options: typeof THOROUGH) => void;

/** Collects this isolate's garbage once it has grown (or was asked to) and is quiet. */
export class Collector {
  #after = 0;
  #last = 0;
  #requested = false;
  readonly #gc: Gc | undefined;
  readonly #used: () => number;

  /**
   * @param gc the collector (default: V8's, when exposed)
   * @param used the isolate's memory in use (default: heap and external)
   */
  constructor(gc = (globalThis as { gc?: Gc }).gc, used = heapAndExternal) {
    this.#gc = gc;
    this.#used = used;
  }

  /** Asks for a collection once quiet: garbage was made without the heap growing. */
  request(): void {
    this.#requested = true;
  }

  /** Collects if it is due and the isolate is quiet; says whether it did. */
  check(): boolean {
    if (!this.#gc) return false;
    const now = this.#used();
    // Growing since the last check: a burst goes on (shrinking is no burst).
    const quiet = now - this.#last < QUIET_BYTES;
    this.#last = now;
    if (!quiet || (!this.#requested && now - this.#after < COLLECT_AFTER_BYTES)) return false;
    this.#requested = false;
    this.#gc(THOROUGH);
    this.#after = this.#last = this.#used();
    return true;
  }
}

function heapAndExternal(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}
