/**
 * Where a Claude session's status comes from, besides its process:
 *
 * 1. Hook events, spooled as files by the hook command (see `src/hooks.ts`)
 *    into one directory the daemon watches. Applied in time order, then
 *    deleted; files spooled while the daemon was stopped are applied when it
 *    starts. Anything else there (a file that is not a hook event, another
 *    user's file, a FIFO, a directory, a temp file a hook left over a minute
 *    ago) is moved aside to `spool/rejected/` and logged once; nothing in the
 *    spool but a regular file of the daemon's own user is ever opened.
 * 2. Claude Code's own per-process state file (`sessions/<pid>.json` in its
 *    config dir: `$CLAUDE_CONFIG_DIR`, else `~/.claude`), which also changes
 *    where no hook fires (Esc to interrupt a reply or to reject a permission
 *    prompt). Watched per directory; written in place by Claude, so a read
 *    that catches it half-written is ignored and the next change re-read.
 *
 * Both are watched through the OS (inotify / FSEvents), never polled.
 *
 * @module
 */

import {
  compareSpool,
  interpretClaudeState,
  interpretHook,
  parseSpoolName,
  type SpoolName,
} from "../hooks.ts";
import type { Observation, Session } from "./session.ts";
import { procStat } from "./_platform.ts";
import { readOwnTextFile } from "../ownership.ts";
import { printable } from "../printable.ts";

/** Where files in the spool that are not hook events are moved. */
export const REJECTED_DIR = "rejected";
/** A hook's temp file older than this was abandoned (a hook writes one in milliseconds). */
export const STALE_TMP_MS = 60_000;

/** Finds a live session by id. */
export type SessionLookup = (id: string) => Session | undefined;

/** Watches the hook spool and Claude's state files, feeding sessions' observations. */
export class StatusWatcher {
  readonly spoolDir: string;
  #lookup: SessionLookup;
  #log: (msg: string) => void;
  #spoolWatcher: Deno.FsWatcher | null = null;
  #draining: Promise<void> | null = null;
  #again = false;
  #stateDirs = new Map<string, StateDir>();
  #closed = false;
  /** Entries that could not be moved aside (reported once). */
  #unmovable = new Set<string>();

  constructor(spoolDir: string, lookup: SessionLookup, log: (msg: string) => void) {
    this.spoolDir = spoolDir;
    this.#lookup = lookup;
    this.#log = log;
  }

  /** Creates the spool (mode 0700), applies what is already there, and starts watching. */
  async start(): Promise<void> {
    await Deno.mkdir(this.spoolDir, { recursive: true, mode: 0o700 });
    await Deno.chmod(this.spoolDir, 0o700);
    this.#spoolWatcher = Deno.watchFs(this.spoolDir, { recursive: false });
    void this.#watchSpool(this.#spoolWatcher);
    await this.drain();
  }

  /** Stops watching. */
  close(): void {
    this.#closed = true;
    try {
      this.#spoolWatcher?.close();
    } catch { /* closed */ }
    for (const d of this.#stateDirs.values()) d.close();
    this.#stateDirs.clear();
  }

  /** Applies every spooled hook event (again, if a drain is already running). */
  drain(): Promise<void> {
    if (this.#draining) {
      this.#again = true;
      return this.#draining;
    }
    this.#draining = (async () => {
      try {
        do {
          this.#again = false;
          await this.#drainOnce();
        } while (this.#again && !this.#closed);
      } finally {
        this.#draining = null;
      }
    })();
    return this.#draining;
  }

  /**
   * Follows Claude's state file for `session` (whose program's pid is its
   * record's pid) in `configDir`. Returns the function that stops.
   */
  watchClaudeState(session: Session, configDir: string): () => void {
    const pid = session.record.pid;
    if (!pid) return () => {};
    const dir = `${configDir}/sessions`;
    let d = this.#stateDirs.get(dir);
    if (!d) {
      try {
        d = new StateDir(dir, this.#log);
      } catch (e) {
        this.#log(`cannot watch ${dir}: ${(e as Error).message}`);
        return () => {};
      }
      this.#stateDirs.set(dir, d);
    }
    d.add(pid, session);
    return () => {
      d.remove(pid);
      if (d.empty) {
        d.close();
        this.#stateDirs.delete(dir);
      }
    };
  }

  async #watchSpool(w: Deno.FsWatcher): Promise<void> {
    try {
      for await (const ev of w) {
        // A hook's temp file is renamed to .hook when complete: wait for that.
        if (ev.paths.some((p) => !p.endsWith(".tmp"))) void this.drain();
      }
    } catch (e) {
      if (!this.#closed) this.#log(`spool watcher stopped: ${(e as Error).message}`);
    }
  }

  async #drainOnce(): Promise<void> {
    const files: { name: string; parsed: SpoolName }[] = [];
    const junk: { name: string; why: string }[] = [];
    try {
      for await (const e of Deno.readDir(this.spoolDir)) {
        if (e.name === REJECTED_DIR && e.isDirectory) continue;
        const parsed = parseSpoolName(e.name);
        if (parsed && e.isFile) {
          files.push({ name: e.name, parsed });
        } else if (e.name.endsWith(".tmp") && e.isFile) {
          // Being written by a hook, unless it was abandoned long ago.
          const st = await Deno.lstat(`${this.spoolDir}/${e.name}`).catch(() => null);
          const age = st?.mtime ? Date.now() - st.mtime.getTime() : 0;
          if (age > STALE_TMP_MS) {
            junk.push({
              name: e.name,
              why: `a hook's temp file left for ${Math.round(age / 1000)}s`,
            });
          }
        } else {
          const kind = e.isFile
            ? "a file"
            : e.isDirectory
            ? "a directory"
            : e.isSymlink
            ? "a symbolic link"
            : "a special file (FIFO, socket or device)";
          junk.push({ name: e.name, why: `${kind} that is not a hook event` });
        }
      }
    } catch (e) {
      this.#log(`cannot read the hook spool: ${(e as Error).message}`);
      return;
    }
    for (const j of junk) await this.#reject(j.name, j.why);
    files.sort((a, b) => compareSpool(a.parsed, b.parsed));
    for (const f of files) {
      const path = `${this.spoolDir}/${f.name}`;
      let text: string;
      try {
        // Only a regular file of our own user is opened (never a FIFO).
        text = await readOwnTextFile(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // already handled
        await this.#reject(f.name, (e as Error).message);
        continue;
      }
      // Applied first, deleted after: a crash in between re-applies an event
      // that is then stale (ignored), never loses one.
      const bad = this.#apply(f.parsed, text);
      if (bad) await this.#reject(f.name, bad);
      else await Deno.remove(path).catch(() => {});
    }
  }

  /** Moves a spool entry aside to `rejected/` (never opening it) and logs why, once. */
  async #reject(name: string, why: string): Promise<void> {
    const from = `${this.spoolDir}/${name}`;
    const dir = `${this.spoolDir}/${REJECTED_DIR}`;
    try {
      const st = await Deno.lstat(dir).catch(() => null);
      if (st && !st.isDirectory) {
        // Something else took the name: it becomes junk itself next time.
        await Deno.rename(dir, `${this.spoolDir}/${REJECTED_DIR}-${Date.now()}.junk`);
      }
      if (!st?.isDirectory) await Deno.mkdir(dir, { mode: 0o700 });
      let to = `${dir}/${name}`;
      if (await Deno.lstat(to).then(() => true, () => false)) to += `.${Date.now()}`;
      await Deno.rename(from, to);
      this.#log(`spool: moved ${printable(name)} aside to ${REJECTED_DIR}/: ${printable(why)}`);
    } catch (e) {
      const gone = await Deno.lstat(from).then(() => false, () => true);
      if (gone || this.#unmovable.has(name)) return;
      this.#unmovable.add(name);
      this.#log(
        `spool: ${printable(name)} (${printable(why)}) cannot be moved aside: ${
          (e as Error).message
        }`,
      );
    }
  }

  /** Applies one spooled hook event; returns why it is not one, or null. */
  #apply(spooled: SpoolName, text: string): string | null {
    let payload: Record<string, unknown>;
    try {
      const v = JSON.parse(text);
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        throw new Error("not a JSON object");
      }
      payload = v;
    } catch (e) {
      return `not a hook event: ${(e as Error).message}`;
    }
    const session = this.#lookup(spooled.session);
    if (!session) return null; // ended, removed, or a probe (doctor)
    const m = interpretHook(payload);
    const obs: Observation = {
      source: "hook",
      at: spooled.at,
      status: m.status,
      event: m.event,
      detail: m.detail ? `${m.event}: ${m.detail}` : m.event,
    };
    if (m.conversationId) obs.conversationId = m.conversationId;
    if (m.transcriptPath) obs.transcriptPath = m.transcriptPath;
    if (m.lastMessage !== undefined) obs.lastMessage = m.lastMessage;
    if (m.lastError !== undefined) obs.lastError = m.lastError;
    if (m.prompt !== undefined) obs.prompt = m.prompt;
    if (m.waitingFor) obs.waitingFor = m.waitingFor;
    if (m.backgroundTasks !== undefined) obs.backgroundTasks = m.backgroundTasks;
    if (m.promptId) obs.promptId = m.promptId;
    session.observe(obs);
    return null;
  }
}

/** One watched `sessions/` directory of a Claude config dir. */
class StateDir {
  readonly dir: string;
  #watcher: Deno.FsWatcher;
  #pids = new Map<number, Session>();
  #log: (msg: string) => void;

  constructor(dir: string, log: (msg: string) => void) {
    this.dir = dir;
    this.#log = log;
    // Claude creates it on first run; creating it first lets us watch it now.
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#watcher = Deno.watchFs(dir, { recursive: false });
    void this.#loop();
  }

  get empty(): boolean {
    return this.#pids.size === 0;
  }

  add(pid: number, session: Session): void {
    this.#pids.set(pid, session);
    void this.#read(pid, session);
  }

  remove(pid: number): void {
    this.#pids.delete(pid);
  }

  close(): void {
    try {
      this.#watcher.close();
    } catch { /* closed */ }
  }

  async #loop(): Promise<void> {
    try {
      for await (const ev of this.#watcher) {
        for (const p of ev.paths) {
          const m = /\/(\d+)\.json$/.exec(p);
          if (!m) continue;
          const pid = Number(m[1]);
          // Claude is usually the session's own process; when a wrapper
          // script runs it as a child, it is still in the session.
          const session = this.#pids.get(pid) ?? this.#pids.get(procStat(pid)?.session ?? -1);
          if (session) void this.#read(pid, session);
        }
      }
    } catch (e) {
      this.#log(`watcher of ${this.dir} stopped: ${(e as Error).message}`);
    }
  }

  async #read(pid: number, session: Session): Promise<void> {
    let state: Record<string, unknown>;
    try {
      state = JSON.parse(await Deno.readTextFile(`${this.dir}/${pid}.json`));
    } catch {
      return; // not there yet, or caught mid-write: the next change re-reads it
    }
    if (state.pid !== undefined && state.pid !== pid) return;
    const m = interpretClaudeState(state);
    if (!m) return;
    const obs: Observation = {
      source: "claude_state",
      at: m.at,
      status: m.status,
      detail: m.detail ? `state: ${m.detail}` : "state",
    };
    if (m.conversationId) obs.conversationId = m.conversationId;
    if (m.waitingFor) obs.waitingFor = m.waitingFor;
    session.observe(obs);
  }
}
