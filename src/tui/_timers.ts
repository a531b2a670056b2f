/**
 * Time and one-shot timers, as the full-screen programs here use them, so
 * that tests can drive their own.
 *
 * @module
 */

/** A clock (ms) and one-shot timers. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real ones (a monotonic clock). */
export const REAL_TIMERS: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number | undefined),
};
