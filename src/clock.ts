/**
 * Time and one-shot timers, as the programs here use them where tests drive
 * their own (the frame clock of full-screen programs, the settling of
 * waits): see `src/_fake_clock.ts`.
 *
 * @module
 */

/** A clock (ms) and one-shot timers. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real ones (a monotonic clock). */
export const REAL_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number | undefined),
};

/**
 * The delay from `now` to the first multiple of `gridMs` at or after `due`
 * (all in ms on one clock). Timers of many sessions that only need to fire
 * "about then" fire together, in one wakeup of the thread, instead of one
 * each.
 */
export function alignedDelay(now: number, due: number, gridMs: number): number {
  return Math.max(0, Math.ceil(due / gridMs) * gridMs - now);
}
