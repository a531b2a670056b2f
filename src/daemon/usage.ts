/**
 * What sessions' processes use: resident memory and CPU of each session's
 * whole process tree (every process {@linkcode members} finds: its terminal
 * session, anything carrying its `CLAUDE_SESSIONS_ID`, its cgroup, their
 * descendants).
 *
 * Measured only when asked (`ls`, `status`, a usage subscriber, the daemon's
 * own memory enforcement), never in a loop of its own. One scan of `/proc`
 * (macOS: one `ps`) serves every session asked about at that moment; callers
 * that arrive together (within {@linkcode CACHE_MS}) share one measurement.
 *
 * CPU needs two points in time: the daemon keeps each session's CPU time at
 * its last measurement and reports the average since then. When it has none
 * for a session younger than {@linkcode MAX_AGE_MS} (the first measurement,
 * or one long ago), it measures over a short fixed window instead
 * ({@linkcode WINDOW_MS}: a second scan). A process's CPU time includes its
 * children's once it has waited for them, so short-lived commands count.
 *
 * @module
 */

import type { SessionUsage } from "../protocol.ts";
import { clockTicks, IS_MAC, procRss } from "./_platform.ts";
import { members, type Scan, scanNow, type Target } from "./reaper.ts";
import { psScan } from "./resources.ts";

/** A measurement younger than this is reused (callers arriving together share it). */
export const CACHE_MS = 100;
/** The window of a CPU measurement without a recent previous one. */
export const WINDOW_MS = 250;
/** A previous measurement older than this is not used for CPU. */
export const MAX_AGE_MS = 60_000;

/** One session to measure. */
export interface UsageTarget {
  id: string;
  target: Target;
}

/** What a session's processes add up to in one scan. */
interface Totals {
  ticks: number;
  rss: number;
  processes: number;
  at: number;
}

/**
 * Sum of what the processes of `t` use in `scan` (with `exactRss`, each
 * one's resident memory read again exactly).
 */
export function totals(scan: Scan, t: Target, exactRss = false): Totals {
  const out: Totals = { ticks: 0, rss: 0, processes: 0, at: scan.at };
  for (const pid of members(scan, t)) {
    const p = scan.procs.get(pid);
    if (!p) continue;
    out.ticks += p.ticks;
    out.rss += (exactRss ? procRss(pid) : null) ?? p.rss;
    out.processes++;
  }
  return out;
}

/**
 * CPU in percent of one core between two totals: the CPU time gained over
 * the time passed; null when no time passed. Never negative (a process
 * that left takes its time with it).
 */
export function cpuPercent(prev: Totals, now: Totals, ticksPerSecond: number): number | null {
  const seconds = (now.at - prev.at) / 1000;
  if (seconds <= 0) return null;
  const used = Math.max(0, now.ticks - prev.ticks) / ticksPerSecond;
  return Math.round((used / seconds) * 1000) / 10;
}

/** Options for tests. */
export interface SamplerOptions {
  scan?: () => Scan;
  ticksPerSecond?: number;
  windowMs?: number;
}

/** Measures sessions' usage on demand (see the module documentation). */
export class UsageSampler {
  readonly #scan: () => Scan;
  readonly #tps: number;
  readonly #windowMs: number;
  /** Read each member's resident memory exactly (`/proc`; not with a made-up scan). */
  readonly #exact: boolean;
  /** Each session's totals at its last measurement. */
  readonly #prev = new Map<string, Totals>();
  #cached: { at: number; results: Map<string, SessionUsage> } | null = null;
  #inflight: Promise<unknown> = Promise.resolve();
  #scans = 0;

  constructor(opts: SamplerOptions = {}) {
    this.#scan = opts.scan ?? (IS_MAC ? psScan : scanNow);
    // psScan reports hundredths of a second.
    this.#tps = opts.ticksPerSecond ?? (IS_MAC ? 100 : clockTicks());
    this.#windowMs = opts.windowMs ?? WINDOW_MS;
    this.#exact = opts.scan === undefined && !IS_MAC;
  }

  /** How many scans it made (for tests of the cost). */
  get scans(): number {
    return this.#scans;
  }

  /** Measures `targets` (one or two scans for all of them), by session id. */
  measure(targets: UsageTarget[]): Promise<Map<string, SessionUsage>> {
    // One at a time: a caller arriving meanwhile gets the fresh measurement.
    const run = this.#inflight.then(() => this.#measure(targets));
    this.#inflight = run.catch(() => {});
    return run;
  }

  async #measure(targets: UsageTarget[]): Promise<Map<string, SessionUsage>> {
    const cached = this.#cached;
    if (
      cached && Date.now() - cached.at < CACHE_MS && targets.every((t) => cached.results.has(t.id))
    ) {
      return new Map(targets.map((t) => [t.id, cached.results.get(t.id)!]));
    }
    let scan = this.#take();
    const stale = (id: string) => {
      const p = this.#prev.get(id);
      return !p || scan.at - p.at > MAX_AGE_MS;
    };
    if (targets.some((t) => stale(t.id))) {
      for (const t of targets) this.#prev.set(t.id, totals(scan, t.target));
      await new Promise((r) => setTimeout(r, this.#windowMs));
      scan = this.#take();
    }
    const results = new Map<string, SessionUsage>();
    const at = new Date(scan.at).toISOString();
    for (const t of targets) {
      const now = totals(scan, t.target, this.#exact);
      const prev = this.#prev.get(t.id);
      const cpu = prev && scan.at - prev.at <= MAX_AGE_MS ? cpuPercent(prev, now, this.#tps) : null;
      this.#prev.set(t.id, now);
      results.set(t.id, { rss: now.rss, cpu, processes: now.processes, at });
    }
    for (const [id, p] of this.#prev) {
      if (scan.at - p.at > 2 * MAX_AGE_MS) this.#prev.delete(id);
    }
    this.#cached = { at: scan.at, results };
    return results;
  }

  #take(): Scan {
    this.#scans++;
    return this.#scan();
  }
}
