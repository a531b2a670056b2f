/**
 * Where a Claude session's status comes from, besides its process:
 *
 * 1. Hook events, spooled as files by the hook command (see `src/hooks.ts`)
 *    into one directory the daemon watches. Applied in time order, then
 *    deleted; files spooled while the daemon was stopped are applied when it
 *    starts.
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
        if (ev.paths.some((p) => p.endsWith(".hook"))) void this.drain();
      }
    } catch (e) {
      if (!this.#closed) this.#log(`spool watcher stopped: ${(e as Error).message}`);
    }
  }

  async #drainOnce(): Promise<void> {
    const files: { name: string; parsed: SpoolName }[] = [];
    try {
      for await (const e of Deno.readDir(this.spoolDir)) {
        const parsed = e.isFile ? parseSpoolName(e.name) : null;
        if (parsed) files.push({ name: e.name, parsed });
      }
    } catch (e) {
      this.#log(`cannot read the hook spool: ${(e as Error).message}`);
      return;
    }
    files.sort((a, b) => compareSpool(a.parsed, b.parsed));
    for (const f of files) {
      const path = `${this.spoolDir}/${f.name}`;
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch {
        continue; // already handled
      }
      // Applied first, deleted after: a crash in between re-applies an event
      // that is then stale (ignored), never loses one.
      this.#apply(f.name, f.parsed, text);
      await Deno.remove(path).catch(() => {});
    }
  }

  #apply(name: string, spooled: SpoolName, text: string): void {
    let payload: Record<string, unknown>;
    try {
      const v = JSON.parse(text);
      if (typeof v !== "object" || v === null) throw new Error("not an object");
      payload = v;
    } catch (e) {
      this.#log(`ignoring a malformed hook event ${name}: ${(e as Error).message}`);
      return;
    }
    const session = this.#lookup(spooled.session);
    if (!session) return; // ended, removed, or a probe (doctor)
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
