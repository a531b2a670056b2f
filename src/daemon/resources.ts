/**
 * Everything platform-specific about bounding and measuring what a
 * session's processes use, in one place: which enforcement this machine
 * allows, the cgroup of each run (v2, v1, or a systemd scope), its limits,
 * whether the kernel killed in it for memory, and, on macOS, one `ps` run
 * instead of `/proc`.
 *
 * Enforcement, in the order `auto` tries it:
 *
 * 1. **systemd** — a user systemd manager answers (`$XDG_RUNTIME_DIR/systemd/private`)
 *    and `systemd-run` is there: each run is started as
 *    `systemd-run --user --scope -p MemoryMax=… -p MemorySwapMax=0 -p CPUQuota=…`,
 *    which execs the program in a transient scope (same pid).
 * 2. **cgroup v2** — the daemon's own cgroup has the memory controller and
 *    holds nothing but the daemon (the service unit has `Delegate=yes`): the
 *    daemon moves itself into a `daemon` leaf, enables `memory` and `cpu`
 *    for its subtree, and makes `cs-<session id>.<run>` beside it per run
 *    (`memory.max`, `memory.swap.max` 0, `cpu.max`).
 * 3. **cgroup v1** — the memory hierarchy (and the cpu one, if mounted) is
 *    writable under the daemon's own cgroup: `cs-<session id>.<run>` there
 *    (`memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`,
 *    `cpu.cfs_quota_us`).
 * 4. **daemon** — no cgroup: the daemon measures the sessions that have a
 *    memory limit every second and stops one over it; CPU is not bounded.
 *
 * A run's cgroup is joined by the launcher before it execs the program (it
 * writes its own pid to `cgroup.procs`), so every process the program starts
 * is in it from the first instruction. The kernel's out-of-memory kills are
 * read from `memory.events` (`oom_kill`, v2) or `memory.oom_control`
 * (`oom_kill`, v1; on kernels without that line, `memory.failcnt`).
 *
 * @module
 */

import type { Enforcement } from "../protocol.ts";
import { IS_MAC } from "./_platform.ts";
import type { Proc, Scan } from "./reaper.ts";

/** The cgroup v1/v2 CPU period (µs) that quotas are written against. */
export const CPU_PERIOD_US = 100_000;

/** Limits of one run. */
export interface RunLimits {
  memory: number | null;
  cpu: number | null;
}

/** The cgroup one run of a session is placed in. */
export interface RunCgroup {
  readonly kind: Enforcement;
  /** `cgroup.procs` files the launcher writes its own pid to before it execs the program. */
  readonly join: string[];
  /** Words put before the program (`systemd-run …`); empty for the others. */
  readonly wrap: string[];
  /** The directory whose `cgroup.procs` lists the run's processes, once known. */
  dir(leader: number | null): string | null;
  /**
   * Whether the kernel killed the leader for memory: it died of SIGKILL and
   * the cgroup counts an out-of-memory kill (v1 without the `oom_kill`
   * counter: hit its limit).
   */
  oomKilled(signal: string | null): boolean;
  /** Removes the cgroup once empty; false while a process is left (try again later). */
  remove(): boolean;
}

/** What this machine allows, and how to make a run's cgroup. */
export interface Governance {
  kind: Enforcement;
  /** Where (the cgroup the runs go under), or why not the kernel. */
  detail: string;
  /**
   * Makes the cgroup of run `run` of session `id` with `limits` (null in
   * daemon mode).
   * @throws {Error} when it cannot be made (the caller falls back, saying so)
   */
  create(id: string, run: number, limits: RunLimits): RunCgroup | null;
  /** The cgroup directories left from earlier runs, by session id (to reap and remove). */
  leftovers(): Map<string, string[]>;
}

/** One mounted cgroup hierarchy, and where this process sits in it. */
export interface Hierarchy {
  version: 1 | 2;
  mount: string;
  /** This process's cgroup in it ("/" at the top). */
  own: string;
  /** v1: the controllers mounted there. */
  controllers: string[];
}

/**
 * The cgroup hierarchies from `/proc/self/mountinfo` and `/proc/self/cgroup`
 * (`own` from the latter: a v2 `0::` line, a v1 `N:controllers:` line).
 */
export function parseHierarchies(
  mountinfo: string,
  selfCgroup: string,
): { v2: Hierarchy | null; v1: Map<string, Hierarchy> } {
  const own = new Map<string, string>();
  for (const line of selfCgroup.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "") own.set("", m[2]!);
    for (const c of m[1]!.split(",")) if (c) own.set(c, m[2]!);
  }
  let v2: Hierarchy | null = null;
  const v1 = new Map<string, Hierarchy>();
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const mount = pre.split(" ")[4];
    const [fstype, , opts] = post.split(" ");
    if (!mount) continue;
    if (fstype === "cgroup2" && v2 === null && own.has("")) {
      v2 = { version: 2, mount, own: own.get("")!, controllers: [] };
    } else if (fstype === "cgroup") {
      const controllers = (opts ?? "").split(",").filter((o) =>
        ["memory", "cpu", "cpuacct", "pids", "cpuset", "blkio", "devices", "freezer"].includes(o)
      );
      for (const c of controllers) {
        if (!v1.has(c) && own.has(c)) {
          v1.set(c, { version: 1, mount, own: own.get(c)!, controllers });
        }
      }
    }
  }
  return { v2, v1 };
}

/** A path in a hierarchy: its mount plus a cgroup path. */
function at(h: Hierarchy, path = h.own): string {
  return path === "/" ? h.mount : `${h.mount}${path}`;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** `key N` from a flat-keyed cgroup file (`memory.events`, `memory.oom_control`), or null. */
export function counter(text: string | null, key: string): number | null {
  if (text === null) return null;
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
}

function write(path: string, value: string): void {
  Deno.writeTextFileSync(path, value);
}

/** Tries to remove cgroup directories; false when one is still busy. */
function rmdirAll(dirs: string[]): boolean {
  let ok = true;
  for (const d of dirs) {
    try {
      Deno.removeSync(d);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) ok = false;
    }
  }
  return ok;
}

const RUN_NAME = (id: string, run: number) => `cs-${id}.${run}`;
const RUN_RE = /^cs-([0-9A-Z]{26})\.\d+$/;

/** Adds the run directories under `base` to `into`, by session id. */
function runDirs(base: string, into = new Map<string, string[]>()): Map<string, string[]> {
  try {
    for (const e of Deno.readDirSync(base)) {
      const id = e.isDirectory ? RUN_RE.exec(e.name)?.[1] : undefined;
      if (id) into.set(id, [...(into.get(id) ?? []), `${base}/${e.name}`]);
    }
  } catch { /* gone */ }
  return into;
}

/** A cgroup v2 run: one directory with everything. */
class V2Run implements RunCgroup {
  readonly kind = "cgroup_v2" as const;
  readonly join: string[];
  readonly wrap: string[] = [];
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.join = [`${dir}/cgroup.procs`];
  }

  dir(): string {
    return this.#dir;
  }

  oomKilled(signal: string | null): boolean {
    return signal === "SIGKILL" &&
      (counter(readText(`${this.#dir}/memory.events`), "oom_kill") ?? 0) > 0;
  }

  remove(): boolean {
    return rmdirAll([this.#dir]);
  }
}

/** A cgroup v1 run: a directory in the memory hierarchy, and one in cpu's. */
class V1Run implements RunCgroup {
  readonly kind = "cgroup_v1" as const;
  readonly join: string[];
  readonly wrap: string[] = [];
  readonly #dirs: string[];

  /** @param dirs the memory hierarchy's directory first */
  constructor(dirs: string[]) {
    this.#dirs = dirs;
    this.join = dirs.map((d) => `${d}/cgroup.procs`);
  }

  dir(): string {
    return this.#dirs[0]!;
  }

  oomKilled(signal: string | null): boolean {
    if (signal !== "SIGKILL") return false;
    const mem = this.#dirs[0]!;
    const kills = counter(readText(`${mem}/memory.oom_control`), "oom_kill");
    if (kills !== null) return kills > 0;
    // Older kernels count no kills: SIGKILL after hitting the limit.
    return Number(readText(`${mem}/memory.failcnt`) ?? 0) > 0;
  }

  remove(): boolean {
    return rmdirAll(this.#dirs);
  }
}

/** A run in a transient systemd scope: systemd makes, bounds and collects its cgroup. */
class ScopeRun implements RunCgroup {
  readonly kind = "systemd" as const;
  readonly join: string[] = [];
  readonly wrap: string[];
  readonly #v2: Hierarchy | null;
  #dir: string | null = null;

  constructor(unit: string, limits: RunLimits, v2: Hierarchy | null) {
    this.#v2 = v2;
    this.wrap = [
      "systemd-run",
      "--user",
      "--scope",
      "--quiet",
      "--collect",
      `--unit=${unit}`,
      ...(limits.memory !== null
        ? ["-p", `MemoryMax=${limits.memory}`, "-p", "MemorySwapMax=0"]
        : []),
      ...(limits.cpu !== null ? ["-p", `CPUQuota=${Math.round(limits.cpu)}%`] : []),
      "--",
    ];
  }

  /** The scope's cgroup, read from the leader once it runs in it (kept for after it exits). */
  dir(leader: number | null): string | null {
    if (this.#dir === null && leader !== null && this.#v2) {
      const line = readText(`/proc/${leader}/cgroup`)?.split("\n").find((l) => l.startsWith("0::"));
      const path = line?.slice(3);
      if (path && path.endsWith(".scope")) this.#dir = at(this.#v2, path);
    }
    return this.#dir;
  }

  oomKilled(signal: string | null): boolean {
    return signal === "SIGKILL" && this.#dir !== null &&
      (counter(readText(`${this.#dir}/memory.events`), "oom_kill") ?? 0) > 0;
  }

  remove(): boolean {
    return true; // --collect: systemd removes it
  }
}

/** Probes that a cgroup can be made and bounded under `base`; throws saying why not. */
function probe(base: string, limitFile: string, value: string): void {
  const dir = `${base}/cs-probe-${Deno.pid}`;
  Deno.mkdirSync(dir);
  try {
    write(`${dir}/${limitFile}`, value);
  } finally {
    rmdirAll([dir]);
  }
}

function reason(e: unknown): string {
  return (e as Error).message.replace(/ \(os error \d+\)/, "").replace(/:.*$/, "");
}

/** The v2 subtree the daemon may use, set up (the daemon moved to a leaf), or why not. */
function setupV2(h: Hierarchy): { base: string; cpu: boolean } | string {
  const own = at(h);
  const available = (readText(`${own}/cgroup.controllers`) ?? "").trim().split(/\s+/);
  if (!available.includes("memory")) {
    return `cgroup v2 at ${own} has no memory controller (it offers: ${
      available.join(" ") || "none"
    })`;
  }
  const wanted = ["memory", ...(available.includes("cpu") ? ["cpu"] : [])];
  try {
    if (h.own !== "/") {
      // No processes may sit in a cgroup whose children get controllers: the
      // daemon moves itself to a leaf, which needs the cgroup to be its alone.
      const others = (readText(`${own}/cgroup.procs`) ?? "").split("\n")
        .filter((l) => l !== "" && Number(l) !== Deno.pid);
      if (others.length > 0) {
        return `the daemon's cgroup v2 ${own} also holds ${others.length} other process(es); ` +
          "run the daemon as the service (Delegate=yes) to give it a subtree of its own";
      }
      Deno.mkdirSync(`${own}/daemon`, { recursive: true });
      write(`${own}/daemon/cgroup.procs`, String(Deno.pid));
    }
    const enabled = (readText(`${own}/cgroup.subtree_control`) ?? "").trim().split(/\s+/);
    const missing = wanted.filter((c) => !enabled.includes(c));
    if (missing.length > 0) {
      write(
        `${own}/cgroup.subtree_control`,
        missing.map((c) => `+${c}`).join(" "),
      );
    }
    probe(own, "memory.max", "max");
  } catch (e) {
    return `cannot use cgroup v2 at ${own}: ${reason(e)}`;
  }
  return { base: own, cpu: wanted.includes("cpu") };
}

/** The v1 memory (and cpu) directories the daemon may use, or why not. */
function setupV1(v1: Map<string, Hierarchy>): { memory: string; cpu: string | null } | string {
  const mem = v1.get("memory");
  if (!mem) return "no memory controller mounted (cgroup v1 or v2)";
  const memory = at(mem);
  try {
    probe(memory, "memory.limit_in_bytes", String(1024 ** 3));
  } catch (e) {
    return `cannot use cgroup v1 at ${memory}: ${reason(e)}`;
  }
  const c = v1.get("cpu");
  let cpu: string | null = null;
  if (c) {
    try {
      probe(at(c), "cpu.cfs_quota_us", "-1");
      cpu = at(c);
    } catch { /* memory only: said in the detail */ }
  }
  return { memory, cpu };
}

/** Whether a user systemd manager answers (its private socket) and systemd-run is on PATH. */
function systemdUser(env: Record<string, string | undefined>): string | null {
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime) return "no user systemd manager (XDG_RUNTIME_DIR is unset)";
  try {
    if (!Deno.statSync(`${runtime}/systemd/private`).isSocket) throw new Error();
  } catch {
    return `no user systemd manager (no ${runtime}/systemd/private)`;
  }
  const found = (env.PATH ?? "").split(":").some((d) => {
    try {
      return d !== "" && Deno.statSync(`${d}/systemd-run`).isFile;
    } catch {
      return false;
    }
  });
  return found ? null : "systemd-run is not on PATH";
}

function writeV2Limits(dir: string, limits: RunLimits, cpu: boolean): void {
  if (limits.memory !== null) {
    write(`${dir}/memory.max`, String(limits.memory));
    try {
      write(`${dir}/memory.swap.max`, "0");
    } catch { /* no swap accounting: nothing to bound */ }
  }
  if (limits.cpu !== null && cpu) {
    write(`${dir}/cpu.max`, `${Math.round(limits.cpu * CPU_PERIOD_US / 100)} ${CPU_PERIOD_US}`);
  }
}

function writeV1Limits(mem: string, cpu: string | null, limits: RunLimits): void {
  if (limits.memory !== null) {
    write(`${mem}/memory.limit_in_bytes`, String(limits.memory));
    try {
      write(`${mem}/memory.memsw.limit_in_bytes`, String(limits.memory));
    } catch { /* no swap accounting: nothing to bound */ }
  }
  if (limits.cpu !== null && cpu !== null) {
    write(`${cpu}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
    write(`${cpu}/cpu.cfs_quota_us`, String(Math.round(limits.cpu * CPU_PERIOD_US / 100)));
  }
}

/** Where the inputs of {@linkcode detectGovernance} come from (tests give their own). */
export interface DetectSource {
  mountinfo: string | null;
  selfCgroup: string | null;
  env: Record<string, string | undefined>;
}

function machineSource(): DetectSource {
  return {
    mountinfo: readText("/proc/self/mountinfo"),
    selfCgroup: readText("/proc/self/cgroup"),
    env: Deno.env.toObject(),
  };
}

/**
 * Finds how limits can be enforced here, as config `limits.enforcement`
 * asks (`auto`: systemd, else a cgroup, else the daemon), and sets it up
 * (v2: the daemon moves itself to a leaf of its cgroup). A mode asked for
 * that is not possible falls back to the daemon, saying why.
 */
export function detectGovernance(
  mode: "auto" | "systemd" | "cgroup" | "daemon",
  source: DetectSource = machineSource(),
): Governance {
  const daemon = (detail: string): Governance => ({
    kind: "daemon",
    detail,
    create: () => null,
    leftovers: () => new Map(),
  });
  if (mode === "daemon") return daemon('config limits.enforcement is "daemon"');
  if (IS_MAC) return daemon("macOS has no cgroups");
  if (source.mountinfo === null || source.selfCgroup === null) return daemon("no /proc");
  const { v2, v1 } = parseHierarchies(source.mountinfo, source.selfCgroup);
  const why: string[] = [];
  if (mode === "auto" || mode === "systemd") {
    const no = systemdUser(source.env);
    if (no === null) {
      return {
        kind: "systemd",
        detail: "a transient scope per run (systemd-run --user --scope)",
        create: (id, run, limits) => new ScopeRun(`claude-sessions-${id}-${run}`, limits, v2),
        leftovers: () => new Map(),
      };
    }
    why.push(no);
    if (mode === "systemd") return daemon(why.join("; "));
  }
  if (v2 && (v2.own === "/" || readText(`${at(v2)}/cgroup.controllers`)?.includes("memory"))) {
    const set = setupV2(v2);
    if (typeof set !== "string") {
      return {
        kind: "cgroup_v2",
        detail: `cgroup v2 under ${set.base} (memory${set.cpu ? ", cpu" : "; no cpu controller"})`,
        create: (id, run, limits) => {
          const dir = `${set.base}/${RUN_NAME(id, run)}`;
          Deno.mkdirSync(dir, { recursive: true });
          try {
            writeV2Limits(dir, limits, set.cpu);
          } catch (e) {
            rmdirAll([dir]);
            throw e;
          }
          return new V2Run(dir);
        },
        leftovers: () => runDirs(set.base),
      };
    }
    why.push(set);
  }
  const set = setupV1(v1);
  if (typeof set === "string") {
    why.push(set);
    return daemon(why.join("; "));
  }
  return {
    kind: "cgroup_v1",
    detail: `cgroup v1 under ${set.memory}${
      set.cpu ? ` and ${set.cpu}` : " (no writable cpu hierarchy: CPU is not bounded)"
    }`,
    create: (id, run, limits) => {
      const name = RUN_NAME(id, run);
      const dirs = [`${set.memory}/${name}`, ...(set.cpu ? [`${set.cpu}/${name}`] : [])];
      try {
        for (const d of dirs) Deno.mkdirSync(d, { recursive: true });
        writeV1Limits(dirs[0]!, set.cpu ? dirs[1]! : null, limits);
      } catch (e) {
        rmdirAll(dirs);
        throw e;
      }
      return new V1Run(dirs);
    },
    leftovers: () => set.cpu ? runDirs(set.cpu, runDirs(set.memory)) : runDirs(set.memory),
  };
}

/** Removes cgroup directories left from earlier runs; false when one is still busy. */
export function removeDirs(dirs: string[]): boolean {
  return rmdirAll(dirs);
}

/**
 * Removes the (empty) run cgroups of sessions `ids` that a daemon started
 * from this process's cgroups left behind — for a home whose daemon died and
 * will not start again (tests). Changes nothing else.
 */
export function removeRunCgroups(ids: Iterable<string>): void {
  const wanted = new Set(ids);
  if (IS_MAC || wanted.size === 0) return;
  const mountinfo = readText("/proc/self/mountinfo");
  const self = readText("/proc/self/cgroup");
  if (mountinfo === null || self === null) return;
  const { v2, v1 } = parseHierarchies(mountinfo, self);
  const bases = [...v1.values()].filter((h) =>
    h.controllers.some((c) => c === "memory" || c === "cpu")
  )
    .map((h) => at(h));
  if (v2) bases.push(at(v2), at(v2, v2.own.replace(/\/daemon$/, "") || "/"));
  for (const base of new Set(bases)) {
    for (const [id, dirs] of runDirs(base)) if (wanted.has(id)) rmdirAll(dirs);
  }
}

// ---------------------------------------------------------------------------
// macOS: no /proc

/** "1-02:03:04.56", "02:03.45", "3:04.56" (ps `time`) → seconds. */
export function psTime(text: string): number {
  const [days, rest] = text.includes("-") ? text.split("-") : ["0", text];
  let s = 0;
  for (const part of (rest ?? "").split(":")) s = s * 60 + Number(part);
  return Number(days) * 86400 + s;
}

/**
 * Every process from one `ps` run (macOS): pid, parent, process group (also
 * as the session: macOS `ps` has no session id), CPU time and resident size.
 * Runs `ps` synchronously: used only where there is no `/proc`.
 */
export function psScan(): Scan {
  const procs = new Map<number, Proc>();
  const children = new Map<number, number[]>();
  let text = "";
  try {
    const out = new Deno.Command("ps", {
      args: ["-axo", "pid=,ppid=,pgid=,rss=,time=,lstart="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    text = new TextDecoder().decode(out.stdout);
  } catch { /* no ps: nothing to find */ }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const pid = Number(f[0]);
    const p: Proc = {
      pid,
      ppid: Number(f[1]),
      pgrp: Number(f[2]),
      session: Number(f[2]),
      start: f.slice(5).join(" "),
      ticks: Math.round(psTime(f[4]!) * 100),
      rss: Number(f[3]) * 1024,
    };
    procs.set(pid, p);
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  return { at: Date.now(), procs, children };
}

/** The machine's memory: total, and available for new work (bytes). */
export function machineMemory(): { total: number; available: number } {
  try {
    const m = Deno.systemMemoryInfo();
    return { total: m.total, available: m.available || m.free };
  } catch {
    return { total: 0, available: 0 };
  }
}
