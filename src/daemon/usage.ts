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
 * A caller that can do with figures a few seconds old (`ls`, `status`: see
 * {@linkcode MeasureOptions.maxAgeMs}) is answered at once from the last
 * measurement when it is recent enough, and one newer than
 * {@linkcode REFRESH_MS} is then taken in the background (one per answer at
 * most, so the next caller has fresh figures): the scan is never waited for
 * while a recent one serves.
 *
 * CPU needs two points in time: the daemon keeps each session's CPU time at
 * its last measurement and reports the average since then. Without one (the
 * session's first measurement, or one of an earlier run), the average is
 * since the session's process started, when its tree had used no CPU time
 * yet. Either way `cpuSince` says since when. A process's CPU time includes
 * its children's once it has waited for them, so short-lived commands count.
 *
 * @module
 */

import type { SessionUsage } from "../protocol.ts";
import { clockTicks, IS_MAC, procRss } from "./_platform.ts";
import { members, type Scan, scanNow, type Target } from "./reaper.ts";
import { psScan } from "./resources.ts";

/** A measurement younger than this is reused (callers arriving together share it). */
export const CACHE_MS = 100;
/** Figures older than this answer a caller that allows it, and bring a new measurement. */
export const REFRESH_MS = 1000;
/** The oldest figures `ls` and `status` are answered with (see {@linkcode MeasureOptions}). */
export const RECENT_MS = 5000;
/** A session not measured for this long is forgotten (its next CPU figure is since its start). */
export const FORGET_MS = 60 * 60_000;

/** One session to measure. */
export interface UsageTarget {
  id: string;
  target: Target;
  /**
   * When the session's current process started (ms since the epoch): its
   * tree had used no CPU time then. Unknown: no CPU figure without a
   * previous measurement.
   */
  since?: number;
}

/** Options of {@linkcode UsageSampler.measure}. */
export interface MeasureOptions {
  /**
   * Figures up to this old (ms) will do: answered from the last measurement
   * when every session asked about has one that recent (of its current
   * run), without a scan (see the module documentation).
   */
  maxAgeMs?: number;
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

/** Options (for tests, but `log`). */
export interface SamplerOptions {
  scan?: () => Scan;
  ticksPerSecond?: number;
  /** The clock the ages of measurements are read on (default `Date.now`). */
  now?: () => number;
  /** Where a failed background measurement is said (the next caller measures again). */
  log?: (msg: string) => void;
}

/** A session's figures at its last measurement. */
interface Last {
  usage: SessionUsage;
  /** When (ms). */
  at: number;
}

/** Measures sessions' usage on demand (see the module documentation). */
export class UsageSampler {
  readonly #scan: () => Scan;
  readonly #tps: number;
  readonly #now: () => number;
  readonly #log: (msg: string) => void;
  /** Read each member's resident memory exactly (`/proc`; not with a made-up scan). */
  readonly #exact: boolean;
  /** Each session's totals at its last measurement. */
  readonly #prev = new Map<string, Totals>();
  /** Each session's figures at its last measurement. */
  readonly #last = new Map<string, Last>();
  #inflight: Promise<unknown> = Promise.resolve();
  /** The background measurement under way, if any. */
  #refreshing: Promise<void> | null = null;
  #scans = 0;

  constructor(opts: SamplerOptions = {}) {
    this.#scan = opts.scan ?? (IS_MAC ? psScan : scanNow);
    // psScan reports hundredths of a second.
    this.#tps = opts.ticksPerSecond ?? (IS_MAC ? 100 : clockTicks());
    this.#now = opts.now ?? Date.now;
    this.#log = opts.log ?? (() => {});
    this.#exact = opts.scan === undefined && !IS_MAC;
  }

  /** How many scans it made (for tests of the cost). */
  get scans(): number {
    return this.#scans;
  }

  /** Resolves once the background measurement under way (if any) is done (for tests). */
  async settled(): Promise<void> {
    await this.#refreshing;
  }

  /**
   * Measures `targets` (one scan for all of them), by session id; with
   * `maxAgeMs`, answers from a recent enough measurement instead (see the
   * module documentation).
   */
  measure(
    targets: UsageTarget[],
    opts: MeasureOptions = {},
  ): Promise<Map<string, SessionUsage>> {
    if (opts.maxAgeMs !== undefined) {
      const recent = this.#recent(targets, opts.maxAgeMs);
      if (recent) {
        if (this.#now() - recent.oldest >= REFRESH_MS) this.#refresh(targets);
        return Promise.resolve(recent.results);
      }
    }
    // One at a time: a caller arriving meanwhile gets the fresh measurement.
    const run = this.#inflight.then(() => this.#measure(targets));
    this.#inflight = run.catch(() => {});
    return run;
  }

  /**
   * Every target's last figures, if each has some of its current run no
   * older than `maxAgeMs`; with the time of the oldest.
   */
  #recent(
    targets: UsageTarget[],
    maxAgeMs: number,
  ): { results: Map<string, SessionUsage>; oldest: number } | null {
    const now = this.#now();
    const results = new Map<string, SessionUsage>();
    let oldest = now;
    for (const t of targets) {
      const last = this.#last.get(t.id);
      if (!last || now - last.at > maxAgeMs || (t.since !== undefined && last.at < t.since)) {
        return null;
      }
      results.set(t.id, last.usage);
      oldest = Math.min(oldest, last.at);
    }
    return { results, oldest };
  }

  /** Measures `targets` in the background, once the caller has been answered. */
  #refresh(targets: UsageTarget[]): void {
    if (this.#refreshing) return;
    this.#refreshing = new Promise<void>((resolve) => {
      setTimeout(() => {
        this.measure(targets)
          .catch((e) =>
            this.#log(`usage: a background measurement failed: ${(e as Error).message}`)
          )
          .finally(() => {
            this.#refreshing = null;
            resolve();
          });
      }, 0);
    });
  }

  #measure(targets: UsageTarget[]): Map<string, SessionUsage> {
    // Callers arriving together share one measurement.
    const shared = this.#recent(targets, CACHE_MS);
    if (shared) return shared.results;
    const scan = this.#take();
    const results = new Map<string, SessionUsage>();
    const at = new Date(scan.at).toISOString();
    for (const t of targets) {
      const now = totals(scan, t.target, this.#exact);
      let prev = this.#prev.get(t.id);
      // An earlier run's processes are not this one's.
      if (prev && t.since !== undefined && prev.at < t.since) prev = undefined;
      // Its process had used no CPU time when it started.
      if (!prev && t.since !== undefined && t.since <= scan.at) {
        prev = { ticks: 0, rss: 0, processes: 0, at: t.since };
      }
      const cpu = prev ? cpuPercent(prev, now, this.#tps) : null;
      this.#prev.set(t.id, now);
      const usage: SessionUsage = { rss: now.rss, cpu, processes: now.processes, at };
      if (cpu !== null) usage.cpuSince = new Date(prev!.at).toISOString();
      this.#last.set(t.id, { usage, at: scan.at });
      results.set(t.id, usage);
    }
    for (const [id, p] of this.#prev) {
      if (scan.at - p.at > FORGET_MS) {
        this.#prev.delete(id);
        this.#last.delete(id);
      }
    }
    return results;
  }

  #take(): Scan {
    this.#scans++;
    return this.#scan();
  }
}
