/**
 * Finding and stopping every process of a session.
 *
 * A process belongs to a session when any of these holds (Linux, from
 * `/proc`):
 *
 * - its session id or process group is the session leader's pid (the
 *   program and everything still on its terminal);
 * - its environment carries the session's `CLAUDE_SESSIONS_ID` (what left
 *   the terminal: a `setsid` grandchild, a detached background command,
 *   an orphan whose leader died with a killed daemon);
 * - it sits in the session's own cgroup, when the session runs in one (see
 *   {@linkcode sessionCgroup});
 * - its parent belongs to the session (a child that cleared its
 *   environment, while its parent lives).
 *
 * What none of these finds — a process that cleared its environment, left
 * the terminal's session and outlived its parent, outside a cgroup of the
 * session's own — cannot be told from any other process of the user.
 *
 * One scan of `/proc` serves every session being stopped at that moment
 * ({@linkcode nextScan}): stopping a hundred sessions costs one scan every
 * {@linkcode SCAN_MS} ms, not one per session — and less often while the
 * processes hold on ({@linkcode SCAN_MAX_MS}). Environments are read once
 * per process (keyed by pid and start time).
 *
 * On macOS (no `/proc`) only the process group is signalled.
 *
 * @module
 */

import { groupAlive, IS_MAC, pageSize, processEnv, procStat } from "./_platform.ts";

/** The variable naming a process's session. */
export const SESSION_ENV = "CLAUDE_SESSIONS_ID";
/** How often the shared scan runs while something is being stopped. */
export const SCAN_MS = 25;
/**
 * While a session's processes hold on after a signal, its scans back off:
 * {@linkcode SCAN_MS}, doubling up to this; in between, the processes it
 * knows of are checked every {@linkcode SCAN_MS} (one `/proc` file each), and
 * one of them going (or the leader exiting) brings the next scan at once.
 */
export const SCAN_MAX_MS = 200;

/** One process, from `/proc/<pid>/stat`. */
export interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** Start time (clock ticks since boot): with the pid, names one process for good. */
  start: string;
  /** CPU time in clock ticks (its own and its waited-for children's); 0 when unknown. */
  ticks: number;
  /** Resident memory in bytes; 0 when unknown. */
  rss: number;
}

/** Every live (non-zombie) process at one moment. */
export interface Scan {
  at: number;
  procs: Map<number, Proc>;
  /** Children by parent pid. */
  children: Map<number, number[]>;
}

/** What identifies a session's processes. */
export interface Target {
  /** The session id (`CLAUDE_SESSIONS_ID`); null: only the terminal's session counts. */
  id: string | null;
  /** The leader's pid (= its session and process group), when known to be ours. */
  sid: number | null;
  /** The session's own cgroup (v2, absolute path under the cgroup mount), if any. */
  cgroup: string | null;
}

/** A live process from `/proc/<pid>/stat`, or null when gone or a zombie. */
export function readProc(pid: number): Proc | null {
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return null;
  return {
    pid,
    ppid: st.ppid,
    pgrp: st.pgrp,
    session: st.session,
    start: st.start,
    ticks: st.ticks,
    rss: st.rss * pageSize(),
  };
}

/** Scans `/proc` now (synchronously). */
export function scanNow(): Scan {
  const procs = new Map<number, Proc>();
  const children = new Map<number, number[]>();
  let entries: Iterable<Deno.DirEntry> = [];
  try {
    entries = Deno.readDirSync("/proc");
  } catch { /* no /proc: nothing to find */ }
  for (const e of entries) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const p = readProc(pid);
    if (!p) continue;
    procs.set(pid, p);
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  for (const pid of envCache.keys()) {
    if (!procs.has(pid)) envCache.delete(pid);
  }
  scans++;
  return { at: Date.now(), procs, children };
}

let scans = 0;

/** How many scans of `/proc` this process has made (for tests of the cost). */
export function scanCount(): number {
  return scans;
}

let waiting: ((s: Scan) => void)[] = [];
let timer: ReturnType<typeof setTimeout> | null = null;

/**
 * Resolves with the next shared scan, taken at most {@linkcode SCAN_MS} ms
 * from now; every caller waiting at that moment gets the same one.
 */
export function nextScan(): Promise<Scan> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    timer ??= setTimeout(() => {
      timer = null;
      const w = waiting;
      waiting = [];
      const s = scanNow();
      for (const fn of w) fn(s);
    }, SCAN_MS);
  });
}

const envCache = new Map<number, { start: string; id: string | null }>();

/** The process's `CLAUDE_SESSIONS_ID`, read once per process. */
export function sessionIdOf(p: Proc): string | null {
  const c = envCache.get(p.pid);
  if (c && c.start === p.start) return c.id;
  const id = processEnv(p.pid, SESSION_ENV) ?? null;
  envCache.set(p.pid, { start: p.start, id });
  return id;
}

/** Path of the unified (v2) cgroup hierarchy's mount, or null. */
let cgroupRoot: string | null | undefined;

function cgroupMount(): string | null {
  if (cgroupRoot !== undefined) return cgroupRoot;
  cgroupRoot = null;
  try {
    for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
      const [pre, post] = line.split(" - ");
      if (post?.startsWith("cgroup2 ")) {
        cgroupRoot = pre!.split(" ")[4] ?? null;
        break;
      }
    }
  } catch { /* no /proc */ }
  return cgroupRoot;
}

/** The daemon's own cgroup, read again once a second at most (`ls` asks it per session). */
let own: { path: string | null; at: number } | null = null;

function ownCgroup(): string | null {
  const now = Date.now();
  if (!own || now - own.at >= 1000) own = { path: cgroupPath(Deno.pid), at: now };
  return own.path;
}

/** A process's v2 cgroup (path relative to the hierarchy), or null. */
function cgroupPath(pid: number): string | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/cgroup`);
    const line = text.split("\n").find((l) => l.startsWith("0::"));
    return line ? line.slice(3) : null;
  } catch {
    return null;
  }
}

/**
 * The session's own cgroup: the leader's v2 cgroup when it differs from the
 * daemon's (someone put the session in one, e.g. `systemd-run --scope` as
 * `claude.command`), as an absolute path; null when it shares the daemon's.
 */
export function sessionCgroup(leader: number): string | null {
  if (IS_MAC) return null;
  const mount = cgroupMount();
  const theirs = cgroupPath(leader);
  if (!mount || theirs === null || theirs === "/" || theirs === ownCgroup()) return null;
  return `${mount}${theirs}`;
}

function cgroupPids(dir: string): number[] {
  try {
    return Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n").filter((l) => l !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Every process of the session in `scan` (see the module doc). Never the
 * daemon itself, its ancestors, or init.
 */
export function members(scan: Scan, t: Target): number[] {
  const found = new Set<number>();
  const add = (pid: number) => {
    if (found.has(pid) || !scan.procs.has(pid)) return;
    found.add(pid);
    for (const c of scan.children.get(pid) ?? []) add(c);
  };
  const index = indexOf(scan);
  if (t.sid !== null) { for (const pid of index.bySid.get(t.sid) ?? []) add(pid); }
  if (t.id !== null) { for (const pid of index.byId.get(t.id) ?? []) add(pid); }
  if (t.cgroup !== null) {
    const pids = cgroupPids(t.cgroup);
    // Only a cgroup of this session alone: never one shared with another's processes.
    const shared = pids.some((pid) => {
      const p = scan.procs.get(pid);
      const id = p ? sessionIdOf(p) : null;
      return id !== null && id !== t.id;
    });
    if (!shared) { for (const pid of pids) add(pid); }
  }
  for (const pid of protectedPids(scan)) found.delete(pid);
  return [...found];
}

/** A scan's processes by terminal session or process group, and by session id. */
interface ScanIndex {
  bySid: Map<number, number[]>;
  byId: Map<string, number[]>;
}

const indexes = new WeakMap<Scan, ScanIndex>();

/**
 * The index of `scan`, built on first use: one pass over its processes
 * serves every session asked about (usage of 100 sessions, a shutdown).
 */
function indexOf(scan: Scan): ScanIndex {
  let index = indexes.get(scan);
  if (index) return index;
  index = { bySid: new Map(), byId: new Map() };
  const push = <K>(map: Map<K, number[]>, key: K, pid: number) => {
    const list = map.get(key);
    if (list) list.push(pid);
    else map.set(key, [pid]);
  };
  for (const p of scan.procs.values()) {
    push(index.bySid, p.session, p.pid);
    if (p.pgrp !== p.session) push(index.bySid, p.pgrp, p.pid);
    const id = sessionIdOf(p);
    if (id !== null) push(index.byId, id, p.pid);
  }
  indexes.set(scan, index);
  return index;
}

/** The daemon, its ancestors and init: never signalled. */
function protectedPids(scan: Scan): Set<number> {
  const out = new Set<number>([1]);
  let pid = Deno.pid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    pid = scan.procs.get(pid)?.ppid ?? 0;
  }
  return out;
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch { /* gone */ }
}

/** Sends `sig` once to every process of the session (a fresh scan). */
export function signalAll(t: Target, sig: Deno.Signal, leaderLive: boolean): void {
  if (leaderLive && t.sid !== null) signal(-t.sid, sig);
  if (IS_MAC) return;
  for (const pid of members(scanNow(), t)) signal(pid, sig);
}

/**
 * SIGHUP, then SIGTERM, then SIGKILL to every process of the session,
 * `graceMs` apart, until none is left. Processes that appear meanwhile get
 * the signal of the moment. `leaderExited` (the leader is our child) must
 * also have resolved; until then its process group is signalled too (its
 * pid cannot have been reused). Resolves with how many processes were
 * signalled.
 */
export async function terminate(
  t: Target,
  graceMs: number,
  leaderExited: Promise<void> | null,
): Promise<number> {
  let leaderDone = leaderExited === null;
  void leaderExited?.then(() => (leaderDone = true));
  const signalled = new Set<number>();
  for (const sig of ["SIGHUP", "SIGTERM", "SIGKILL"] as const) {
    const deadline = Date.now() + (sig === "SIGKILL" ? Math.max(graceMs, 2000) : graceMs);
    if (!leaderDone && t.sid !== null) signal(-t.sid, sig);
    const sent = new Set<number>();
    let every = SCAN_MS;
    while (true) {
      if (IS_MAC) {
        if (leaderDone && (t.sid === null || !groupAlive(t.sid))) return signalled.size;
        await new Promise((r) => setTimeout(r, SCAN_MS));
      } else {
        const scan = await nextScan();
        const now = members(scan, t);
        if (leaderDone && now.length === 0) return signalled.size;
        let fresh = false;
        for (const pid of now) {
          if (sent.has(pid)) continue;
          sent.add(pid);
          signalled.add(pid);
          signal(pid, sig);
          fresh = true;
        }
        if (Date.now() >= deadline) break;
        // Newly signalled processes are likely to go soon: look again soon.
        every = fresh ? SCAN_MS : Math.min(every * 2, SCAN_MAX_MS);
        const wasDone = leaderDone;
        await watchUntil(
          now.map((pid) => scan.procs.get(pid)!),
          Math.min(Date.now() + every - SCAN_MS, deadline),
          () => leaderDone !== wasDone,
        );
      }
      if (Date.now() >= deadline) break;
    }
  }
  return signalled.size;
}

/**
 * Waits until `until` (ms since the epoch), checking every
 * {@linkcode SCAN_MS} whether one of `known` is gone (or its pid reused) or
 * `changed()`; returns as soon as one is.
 */
async function watchUntil(known: Proc[], until: number, changed: () => boolean): Promise<void> {
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(SCAN_MS, until - Date.now())));
    if (changed()) return;
    for (const p of known) {
      if (readProc(p.pid)?.start !== p.start) return;
    }
  }
}
