/**
 * A clock for tests: it moves only when told, and the timers it passes
 * fire in order, each at its own time.
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/** A {@linkcode Clock} that moves only when told. */
export class FakeClock implements Clock {
  t = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): number {
    this.#timers.set(this.#next, { at: this.t + ms, fn });
    return this.#next++;
  }

  clearTimeout(h: unknown): void {
    this.#timers.delete(h as number);
  }

  /** Moves to `to`, firing the timers due on the way, in order. */
  advanceTo(to: number): void {
    while (true) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= to && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.#timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = to;
  }

  /** Moves on by `ms`. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }
}
