/**
 * Helpers of the stress suite (`deno task stress`): the size knob and RSS
 * sampling. Stress runs print what they measure and assert only correctness
 * and the documented bounds (with margin).
 *
 * `STRESS_SCALE` (default 1) scales every count: `STRESS_SCALE=0.2` is the
 * small run CI does.
 *
 * @module
 */

/** The size knob: every count is multiplied by it. */
export const SCALE: number = (() => {
  const raw = Deno.env.get("STRESS_SCALE");
  const n = raw === undefined ? 1 : Number(raw);
  if (!(n > 0)) throw new Error(`STRESS_SCALE must be a positive number, got "${raw}"`);
  return n;
})();

/** `n` scaled, at least `min`. */
export function scaled(n: number, min = 1): number {
  return Math.max(min, Math.round(n * SCALE));
}

/** Options for stress tests (they start daemons and processes). */
export const stressOpts = { sanitizeOps: false, sanitizeResources: false };

/** Resident memory of a process in MiB, or null once it is gone. */
export function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; keeps the peak. */
export class RssSampler {
  peak = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly pid: number, everyMs = 50) {
    this.#timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  /** Takes one sample now and returns it (null once the process is gone). */
  sample(): number | null {
    const v = rssMiB(this.pid);
    if (v !== null) this.peak = Math.max(this.peak, v);
    return v;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Prints one measured number, tagged so a CI log can be grepped. */
export function report(what: string, value: string): void {
  console.log(`[stress] ${what}: ${value}`);
}
