/**
 * The session registry: creates sessions, resolves user references (id,
 * prefix, name) to them, stops and removes them, and restores records when
 * the daemon starts.
 *
 * @module
 */

import { ulid } from "ulid";
import type {
  NewParams,
  SessionEvent,
  SessionLimits,
  SessionRecord,
  SessionStatus,
  SessionUsage,
} from "../protocol.ts";
import { ProtocolError } from "../protocol.ts";
import type { Paths } from "../paths.ts";
import { type Config, ConfigError, loadConfig, type LoadedConfig } from "../config.ts";
import { type LaunchSpec, notRunning, now, Session, type SessionHost } from "./session.ts";
import type { RecordStore } from "./store.ts";
import type { StatusWatcher } from "./status.ts";
import { hookCommand, hookSettings, mergeSettings, wantsHooks } from "../hooks.ts";
import { sessionDir } from "../paths.ts";
import { exists } from "../exists.ts";
import { SessionLogs } from "./session_logs.ts";
import { claudeTrusts } from "./claude_trust.ts";
import { OwnershipError, readOwnTextFile } from "../ownership.ts";
import { isNoSpace } from "./_disk.ts";
import { shortIdLength } from "../session_view.ts";
import { detectGovernance, type Governance, removeDirs, type RunCgroup } from "./resources.ts";
import { type MeasureOptions, UsageSampler } from "./usage.ts";
import { hibernationBlocker } from "./governor.ts";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Tags follow the rules of names. */
const TAG_RE = NAME_RE;
/** Most tags one session may carry. */
export const MAX_TAGS = 32;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Why a session stopped that makes it eligible for resume at daemon start. */
const AUTO_RESUME_REASONS = new Set(["daemon_stopped", "daemon_lost"]);
const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/i;
/** Default PTY size when the client has no terminal. */
export const DEFAULT_SIZE = { cols: 120, rows: 40 } as const;

/**
 * Listener of lifecycle events. `seq` numbers the events of the daemon's
 * life, one apart, in the order they are delivered.
 */
export type EventListener = (event: SessionEvent, seq: number) => void;

/** Kinds that tell a status or lifecycle change (what `wait` and `send` follow). */
const LIFECYCLE = new Set<string>(["created", "started", "status", "exited", "removed"]);

/** Whether an event tells a lifecycle or status change (not e.g. `activity` or `attached`). */
export function isLifecycleEvent(ev: SessionEvent): boolean {
  return LIFECYCLE.has(ev.event);
}

/** Owns every session of one home. */
export class Manager {
  readonly #paths: Paths;
  readonly #store: RecordStore;
  readonly #sessions = new Map<string, Session>();
  readonly #listeners = new Set<EventListener>();
  /** Deliveries held back until a session's log is on disk, by session. */
  readonly #delivering = new Map<string, Promise<void>>();
  readonly #log: (msg: string) => void;
  #config: LoadedConfig;
  #configError: string | null = null;
  #shuttingDown = false;
  readonly #host: SessionHost;
  #status: StatusWatcher | null = null;
  /** Stops following Claude's state file, per session. */
  #unwatch = new Map<string, () => void>();
  readonly #logs: SessionLogs;
  /** Names, conversations and sessions claimed by a `new` or `resume` still starting. */
  readonly #claims = new Set<string>();
  /** Number of the last event delivered. */
  #seq = 0;
  /** How limits are enforced (detected for config `limits.enforcement`). */
  #gov: { mode: string; governance: Governance } | null = null;
  /** Cgroups of ended runs that still held a process, removed once empty. */
  readonly #leftCgroups = new Map<RunCgroup, string>();
  /** Sessions waiting for a slot (`limits.maxLive`), in order. */
  readonly #queue: string[] = [];
  /** Slots taken by starts under way (not yet live). */
  #reserved = 0;
  #draining = false;
  #drainAgain = false;
  /** Sessions being hibernated, until they are. */
  readonly #hibernating = new Map<string, Promise<void>>();
  /** Wakes under way, by session. */
  readonly #waking = new Map<string, Promise<Session>>();
  /** Sends under way, by session (no hibernation meanwhile). */
  readonly #sending = new Map<string, number>();
  /** Clients attached to a session (set by the daemon). */
  #attached: (id: string) => number = () => 0;
  readonly #sampler: UsageSampler;
  /** Told when the configuration was (re)loaded. */
  readonly #configListeners = new Set<() => void>();

  constructor(
    paths: Paths,
    store: RecordStore,
    config: LoadedConfig,
    log: (msg: string) => void,
  ) {
    this.#paths = paths;
    this.#store = store;
    this.#config = config;
    this.#log = log;
    this.#sampler = new UsageSampler({ log });
    this.#host = {
      save: (rec) => {
        // A failure is logged by the store, which retries until the write succeeds.
        this.#store.save(rec).catch(() => {});
      },
      emit: (ev) => this.#emit(ev),
      graceSeconds: () => this.#config.config.kill.graceSeconds,
      scrollback: () => this.#config.config.scrollback,
      log: this.#log,
      settle: (id) => this.#logs.flush(id),
      keepScreen: (id, screen) => {
        // A hibernated session's last screen survives a daemon restart (0600: it shows what was typed).
        return Deno.writeTextFile(
          `${sessionDir(this.#paths, id)}/screen.json`,
          JSON.stringify(screen),
          { mode: 0o600 },
        );
      },
      releaseCgroup: (id, cg) => this.#releaseCgroup(id, cg),
    };
    this.#logs = new SessionLogs(paths.logsDir, () => this.#config.config.log, log);
    // A run that ended frees a slot.
    this.subscribe((ev) => {
      if (ev.event === "exited") this.#drain();
    });
  }

  /** How limits are enforced here (detected on first use, again when the config changes it). */
  get governance(): Governance {
    const mode = this.#config.config.limits.enforcement;
    if (this.#gov?.mode !== mode) {
      const governance = detectGovernance(mode);
      this.#log(`limits are enforced by ${governance.kind}: ${governance.detail}`);
      this.#gov = { mode, governance };
    }
    return this.#gov.governance;
  }

  /** Calls `fn` whenever the configuration is (re)loaded; returns the unsubscribe function. */
  onConfig(fn: () => void): () => void {
    this.#configListeners.add(fn);
    return () => this.#configListeners.delete(fn);
  }

  /** Tells the manager how many clients are attached to a session (for hibernation). */
  setAttachedCount(fn: (id: string) => number): void {
    this.#attached = fn;
  }

  /** Clients attached to a session now. */
  attachedCount(id: string): number {
    return this.#attached(id);
  }

  /**
   * Marks a send to session `id` under way until the returned function is
   * called: the session is not hibernated meanwhile.
   */
  sending(id: string): () => void {
    this.#sending.set(id, (this.#sending.get(id) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#sending.get(id) ?? 1) - 1;
      if (n > 0) this.#sending.set(id, n);
      else this.#sending.delete(id);
    };
  }

  /** Resolves once a hibernation of `id` under way (if any) has ended. */
  async settled(id: string): Promise<void> {
    await this.#hibernating.get(id)?.catch(() => {});
  }

  /** Sessions with a live process, plus starts under way. */
  liveCount(): number {
    let n = this.#reserved;
    for (const s of this.#sessions.values()) if (s.live) n++;
    return n;
  }

  /**
   * What each of `sessions` uses now (live ones only), by id: one measurement
   * for all; with `maxAgeMs`, figures that old will do (see `UsageSampler`).
   */
  async usage(
    sessions: Session[],
    opts: MeasureOptions = {},
  ): Promise<Map<string, SessionUsage>> {
    const targets = sessions.flatMap((s) => {
      const target = s.target;
      if (!target) return [];
      const since = Date.parse(s.record.runs.at(-1)?.started ?? "");
      return [{ id: s.id, target, ...(Number.isFinite(since) ? { since } : {}) }];
    });
    if (targets.length === 0) return new Map();
    return await this.#sampler.measure(targets, opts);
  }

  /** The sessions' I/O logs. */
  get logs(): SessionLogs {
    return this.#logs;
  }

  /** Why session records cannot be written at the moment (retried), or null. */
  get recordsFailing(): string | null {
    return this.#store.failing;
  }

  /** Connects the watcher that feeds hook and Claude-state observations. */
  setStatusWatcher(w: StatusWatcher): void {
    this.#status = w;
    this.subscribe((ev) => {
      if (ev.event !== "exited") return;
      this.#unwatch.get(ev.id)?.();
      this.#unwatch.delete(ev.id);
    });
  }

  /** The configuration in effect. */
  get config(): Config {
    return this.#config.config;
  }

  /** Warnings from the configuration file, plus the last reload error if any. */
  get configWarnings(): string[] {
    return this.#configError
      ? [...this.#config.warnings, `reload failed, previous config kept: ${this.#configError}`]
      : this.#config.warnings;
  }

  /** Every session, oldest first. */
  get sessions(): Session[] {
    return [...this.#sessions.values()];
  }

  /** The session with this exact id. */
  byId(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  /**
   * Number of the last event delivered to listeners: sessions read now are
   * as of this event, and the next event delivered has `seq + 1`.
   */
  get seq(): number {
    return this.#seq;
  }

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  subscribe(fn: EventListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Publishes an event that no session raised itself (`notified`). */
  publish(ev: SessionEvent): void {
    this.#emit(ev);
  }

  /**
   * Re-reads config.jsonc. With `ifChanged`, only when its mtime moved.
   * A bad file keeps the previous configuration and is reported.
   * @throws {ProtocolError} `config` when the file is invalid
   */
  async reloadConfig(ifChanged = false): Promise<void> {
    if (ifChanged) {
      let mtime: number | null = null;
      try {
        mtime = (await Deno.stat(this.#paths.config)).mtime?.getTime() ?? 0;
      } catch { /* no file */ }
      if (mtime === this.#config.mtime && this.#configError === null) return;
    }
    try {
      this.#config = await loadConfig(this.#paths.config);
      this.#configError = null;
      for (const w of this.#config.warnings) this.#log(`warning: ${w}`);
      // limits.maxLive may have grown.
      this.#drain();
      for (const fn of this.#configListeners) fn();
    } catch (e) {
      const msg = e instanceof ConfigError ? e.message : String(e);
      this.#configError = msg;
      this.#log(`config error: ${msg}`);
      throw new ProtocolError("config", msg);
    }
  }

  /**
   * Loads records from disk. Sessions that were live belong to a daemon that
   * died: any of their processes still running (our own, checked by
   * `CLAUDE_SESSIONS_ID`) have lost their terminal and are stopped; the
   * records become `exited` with reason `daemon_lost`.
   */
  async restore(): Promise<void> {
    const records = await this.#store.loadAll((m) => this.#log(`warning: ${m}`));
    const grace = this.#config.config.kill.graceSeconds * 1000;
    const lost: Session[] = [];
    const gov = this.governance;
    const leftovers = gov.leftovers();
    for (const rec of records) {
      normalize(rec);
      const s = new Session(rec, this.#host);
      this.#sessions.set(rec.id, s);
      if (s.live) lost.push(s);
      // Queued and hibernated sessions have no process: they stay as they are.
      if (rec.status === "queued") this.#queue.push(rec.id);
      if (rec.status === "hibernated") await this.#restoreScreen(s);
    }
    this.#queue.sort((a, b) =>
      this.#sessions.get(a)!.record.statusSince.localeCompare(
        this.#sessions.get(b)!.record.statusSince,
      )
    );
    await Promise.all(lost.map(async (s) => {
      const cgroups = leftovers.get(s.id) ?? [];
      // The last run's cgroup holds what escaped (on v1, either hierarchy's: both hold all).
      const last = cgroups.filter((d) => d.endsWith(`.${s.record.runs.length}`)).sort()[0];
      const n = await Session.reapOrphan(s.record, grace, last ?? null);
      if (n > 0) {
        this.#log(`session ${s.id}: stopped orphaned processes (${n}; its pty is gone)`);
      }
      s.markLost();
    }));
    // Cgroups of runs a dead daemon left behind (emptied by now); only this home's.
    for (const [id, dirs] of leftovers) {
      if (this.#sessions.has(id) && !removeDirs(dirs)) {
        this.#log(`session ${id}: cannot remove its old cgroups yet (${dirs.join(", ")})`);
      }
    }
    await this.#logs.restore(
      () => this.sessions.map((s) => s.record),
      lost.map((s) => s.record),
    );
  }

  /** Loads a hibernated session's last screen, kept on disk. */
  async #restoreScreen(s: Session): Promise<void> {
    try {
      const kept = JSON.parse(
        await readOwnTextFile(`${sessionDir(this.#paths, s.id)}/screen.json`),
      );
      if (Array.isArray(kept?.plain) && typeof kept?.ansi === "string") s.restoreScreen(kept);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log(`session ${s.id}: cannot read its last screen: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Resolves a user reference: a full id, a session name (an open session
   * first — live, queued or hibernated — else the newest exited one), or a
   * unique id prefix.
   * @throws {ProtocolError} `not_found` or `ambiguous`
   */
  resolve(ref: string): Session {
    const r = ref.trim();
    if (r.length === 0) throw new ProtocolError("bad_request", "empty session reference");
    if (ULID_RE.test(r)) {
      const s = this.#sessions.get(r.toUpperCase());
      if (s) return s;
    }
    const named = this.sessions.filter((s) => s.record.name === r);
    const liveNamed = named.find((s) => s.open);
    if (liveNamed) return liveNamed;
    if (named.length > 0) return named[named.length - 1]!;
    const upper = r.toUpperCase();
    const matches = this.sessions.filter((s) => s.id.startsWith(upper));
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) {
      throw new ProtocolError("not_found", `no session matches "${r}"`);
    }
    const list = matches
      .slice(0, 10)
      .map((s) => `${s.id}${s.record.name ? ` (${s.record.name})` : ""} ${s.record.status}`)
      .join(", ");
    throw new ProtocolError(
      "ambiguous",
      `"${r}" matches ${matches.length} sessions: ${list}${matches.length > 10 ? ", …" : ""}`,
    );
  }

  /** Shortest id prefix length (at least 8) keeping all ids unique. */
  shortLength(): number {
    return shortIdLength(this.#sessions.keys());
  }

  /**
   * Creates and starts a session. Its name and conversation are claimed as
   * the request arrives, so of two requests for the same one, the second
   * gets `conflict` however their starts interleave.
   * @throws {ProtocolError} on bad parameters, a name conflict, a config error or a failed start
   */
  async create(params: NewParams): Promise<Session> {
    if (this.#shuttingDown) throw new ProtocolError("shutting_down", "the daemon is shutting down");
    const release = this.#claim(params.name ?? null, params.resume ?? params.sessionId ?? null);
    try {
      return await this.#create(params);
    } finally {
      release();
    }
  }

  async #create(params: NewParams): Promise<Session> {
    const tags = checkTags(params.tags ?? []);
    const cwd = await checkDir(params.cwd);
    const name = params.name ?? null;
    if (name !== null) {
      if (!NAME_RE.test(name) || ULID_RE.test(name)) {
        throw new ProtocolError(
          "bad_request",
          `invalid name "${name}": use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
        );
      }
      const taken = this.sessions.find((s) => s.open && s.record.name === name);
      if (taken) {
        throw new ProtocolError(
          "conflict",
          `the name "${name}" is taken by ${describeHolder(taken)}`,
        );
      }
    }
    await this.reloadConfig(true);
    const config = this.#config.config;
    const id = ulid();
    const env = sessionEnv(params.env ?? daemonEnv(), id, this.#paths.home);
    const command = config.claude.command;
    const resolved = await resolveCommand(command, env.PATH ?? "", cwd);
    if (!resolved) {
      throw new ProtocolError(
        "spawn_failed",
        `cannot start "${command}": not found or not executable on the session's PATH ` +
          `(${env.PATH ?? "unset"}); set claude.command in ${this.#paths.config}`,
      );
    }
    const args = [...config.claude.args, ...(params.args ?? [])];
    let conversationId: string | null = null;
    if (params.resume !== undefined && params.sessionId !== undefined) {
      throw new ProtocolError("bad_request", "give --resume or --session-id, not both");
    }
    if (params.resume !== undefined) {
      if (params.resume.trim() === "") {
        throw new ProtocolError("bad_request", "empty conversation id");
      }
      this.#checkConversationFree(params.resume);
      conversationId = params.resume;
      args.push("--resume", params.resume);
    } else if (params.sessionId !== undefined) {
      if (!UUID_RE.test(params.sessionId)) {
        throw new ProtocolError(
          "bad_request",
          `--session-id must be a UUID, got "${params.sessionId}"`,
        );
      }
      this.#checkConversationFree(params.sessionId);
      conversationId = params.sessionId;
      args.push("--session-id", params.sessionId);
    }
    const hooks = wantsHooks(config.claude.hooks, command);
    const limits = sessionLimits(params, config);
    const admitted = await this.#admit();
    try {
      return await this.#createAdmitted(
        { id, name, cwd, command, args, hooks, conversationId, limits, env, tags },
        params,
        admitted,
      );
    } finally {
      if (admitted) this.#reserved--;
    }
  }

  async #createAdmitted(
    p: {
      id: string;
      name: string | null;
      cwd: string;
      command: string;
      args: string[];
      hooks: boolean;
      conversationId: string | null;
      limits: SessionLimits;
      env: Record<string, string>;
      tags: string[];
    },
    params: NewParams,
    admitted: boolean,
  ): Promise<Session> {
    const { id, name, cwd, command, args, hooks, conversationId, env, tags } = p;
    const at = now();
    const first: SessionStatus = admitted ? "starting" : "queued";
    const rec: SessionRecord = {
      id,
      name,
      cwd,
      command,
      args,
      pid: null,
      status: first,
      statusSince: at,
      statusSource: "daemon",
      history: [
        admitted
          ? { status: first, at, source: "daemon" }
          : { status: first, at, source: "daemon", detail: this.#fullDetail() },
      ],
      created: at,
      updated: at,
      exitCode: null,
      signal: null,
      exitReason: null,
      cols: clampSize(params.cols, DEFAULT_SIZE.cols),
      rows: clampSize(params.rows, DEFAULT_SIZE.rows),
      runs: [],
      tty: null,
      hooks,
      conversationId,
      transcriptPath: null,
      lastMessage: null,
      lastError: null,
      tags,
      lastOutputAt: null,
      clients: 0,
      limits: p.limits,
    };
    const dir = sessionDir(this.#paths, id);
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 }).catch((e) => {
      throw noSpaceError(e, this.#paths.home);
    });
    try {
      // Kept for `resume` (also after a daemon restart); it can hold secrets, so 0600.
      await Deno.writeTextFile(`${dir}/env.json`, JSON.stringify(env), { mode: 0o600 });
      const session = new Session(rec, this.#host);
      if (!admitted) {
        // Started when a slot frees (see #drain), from its record and env.json.
        this.#sessions.set(id, session);
        this.#queue.push(id);
        session.announce("created");
        this.#drain();
        this.#log(`session ${id} queued: ${this.#fullDetail()}`);
        await this.#store.save(rec).catch(() => {});
        return session;
      }
      const launchArgs = hooks ? await this.#injectHooks(id, args, cwd) : args;
      // Logging starts before the program does: no byte is missed.
      this.#logs.attach(session);
      try {
        this.#startRun(session, { command, args: launchArgs, env });
      } catch (e) {
        await this.#logs.remove(id);
        throw e;
      }
      this.#sessions.set(id, session);
      this.#afterStart(session, env, true);
      this.#log(`session ${id} started: ${command} (pid ${rec.pid}) in ${cwd}`);
      // Reply only once the record is on disk (or, the disk full, retried: the
      // session runs and is listed meanwhile).
      await this.#store.save(rec).catch(() => {});
      return session;
    } catch (e) {
      if (!this.#sessions.has(id)) await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw noSpaceError(e, this.#paths.home);
    }
  }

  /** What a user starting `s` should know up front. */
  async noticesFor(s: Session): Promise<string[]> {
    if (!s.record.hooks) return [];
    let env: Record<string, string>;
    try {
      env = JSON.parse(await Deno.readTextFile(`${sessionDir(this.#paths, s.id)}/env.json`));
    } catch (e) {
      this.#log(`session ${s.id}: cannot read its environment: ${(e as Error).message}`);
      return [];
    }
    if ((await claudeTrusts(s.record.cwd, env)) !== false) return [];
    const ref = s.record.name ?? s.id;
    return [
      `Claude has not been told to trust ${s.record.cwd}: it asks first, and the session waits ` +
      `(waiting_permission, "folder trust") until someone answers: claude-sessions attach ${ref}, ` +
      `or trust it with: claude-sessions send ${ref} --keys Down Enter`,
    ];
  }

  /**
   * Starts an exited session again in the same directory, continuing its
   * Claude conversation (`--resume`): same record, new process. The
   * environment is the one saved when the session was created (`fallbackEnv`
   * when that is missing). A hibernated session is woken. Beyond
   * `limits.maxLive` it is queued instead (see {@linkcode Manager.create}).
   */
  async resume(
    ref: string,
    fallbackEnv?: Record<string, string>,
    why: "resumed" | "resumed at daemon start" | "woken" = "resumed",
  ): Promise<Session> {
    if (this.#shuttingDown) throw new ProtocolError("shutting_down", "the daemon is shutting down");
    const s = this.resolve(ref);
    // Claimed before the first await: a second resume of it, or a `new` for
    // its conversation or name, waits for nothing and gets an error.
    const release = s.live || !s.record.conversationId
      ? () => {}
      : this.#claim(s.record.name, s.record.conversationId, s.id);
    try {
      return await this.#resume(s, fallbackEnv, why);
    } finally {
      release();
    }
  }

  /**
   * Wakes a hibernated session (see {@linkcode Manager.resume}). Whoever asks
   * while it is being woken (an attach and a send at once) waits for that.
   */
  async wake(ref: string): Promise<Session> {
    const s = this.resolve(ref);
    const under = this.#waking.get(s.id);
    if (under) return await under;
    if (s.record.status !== "hibernated") {
      throw new ProtocolError(
        "invalid_state",
        `session ${s.id} is not hibernated (it is ${s.record.status})`,
      );
    }
    const waking = this.resume(s.id, undefined, "woken");
    this.#waking.set(s.id, waking);
    try {
      return await waking;
    } finally {
      this.#waking.delete(s.id);
    }
  }

  async #resume(
    s: Session,
    fallbackEnv: Record<string, string> | undefined,
    why: "resumed" | "resumed at daemon start" | "woken",
  ): Promise<Session> {
    const rec = s.record;
    if (s.live) throw new ProtocolError("invalid_state", `session ${s.id} is still running`);
    if (rec.status === "queued") throw new ProtocolError("invalid_state", notRunning(rec));
    const waking = rec.status === "hibernated";
    if (!rec.conversationId) {
      throw new ProtocolError(
        "invalid_state",
        `session ${s.id} has no known conversation id (it never reported one), so it cannot be resumed`,
      );
    }
    this.#checkConversationFree(rec.conversationId, s.id);
    await checkDir(rec.cwd);
    await this.reloadConfig(true);
    let env: Record<string, string> | undefined;
    try {
      env = JSON.parse(await readOwnTextFile(`${sessionDir(this.#paths, s.id)}/env.json`));
    } catch (e) {
      if (e instanceof OwnershipError) throw new ProtocolError("invalid_state", e.message);
      env = fallbackEnv ? sessionEnv(fallbackEnv, s.id, this.#paths.home) : undefined;
    }
    if (!env) {
      throw new ProtocolError(
        "invalid_state",
        `session ${s.id} has no saved environment to resume with`,
      );
    }
    const resolved = await resolveCommand(rec.command, env.PATH ?? "", rec.cwd);
    if (!resolved) {
      throw new ProtocolError(
        "spawn_failed",
        `cannot start "${rec.command}": not found on the session's PATH`,
      );
    }
    // A conversation that never got a turn has no transcript, and Claude
    // refuses to --resume it; start it afresh under the same id instead.
    const hasTranscript = rec.transcriptPath === null || await exists(rec.transcriptPath);
    if (waking && !hasTranscript && (rec.lastMessage !== null || rec.lastError !== null)) {
      // It had turns: starting afresh would lose them without a word.
      throw new ProtocolError(
        "invalid_state",
        `session ${s.id} cannot be woken: Claude's transcript of its conversation ` +
          `(${rec.transcriptPath}) is gone, so the conversation cannot be continued; ` +
          `remove the session (claude-sessions rm ${rec.name ?? s.id}) or start a new one`,
      );
    }
    const args = [
      ...withoutConversationArgs(rec.args),
      hasTranscript ? "--resume" : "--session-id",
      rec.conversationId,
    ];
    const admitted = await this.#admit();
    try {
      if (!admitted) {
        rec.args = args;
        s.setStatus("queued", "daemon", this.#fullDetail());
        this.#queue.push(s.id);
        this.#drain();
        this.#log(`session ${s.id} queued (${why}): ${this.#fullDetail()}`);
        await this.#store.save(rec).catch(() => {});
        return s;
      }
      await Deno.mkdir(sessionDir(this.#paths, s.id), { recursive: true, mode: 0o700 });
      const launchArgs = rec.hooks ? await this.#injectHooks(s.id, args, rec.cwd) : args;
      rec.args = args;
      // The same log continues (its writer closed when the last run exited).
      this.#logs.attach(s);
      s.setStatus("starting", "daemon", why);
      this.#startResumed(s, launchArgs, env);
      this.#log(`session ${s.id} ${why}: conversation ${rec.conversationId} (pid ${rec.pid})`);
      await this.#store.save(rec);
      return s;
    } finally {
      if (admitted) this.#reserved--;
    }
  }

  /** Starts the next run of a session whose status is `starting` (its log attached). */
  #startResumed(s: Session, launchArgs: string[], env: Record<string, string>): void {
    const rec = s.record;
    const resumed = rec.runs.length > 0;
    try {
      this.#startRun(s, { command: rec.command, args: launchArgs, env, resumed });
    } catch (e) {
      rec.exitReason = "spawn_failed";
      s.setStatus("exited", "daemon", "spawn_failed");
      throw e;
    }
    this.#afterStart(s, env, !resumed && rec.history[0]?.status !== "queued");
  }

  /** Starts a run: its cgroup (with the session's limits) first. */
  #startRun(s: Session, spec: Omit<LaunchSpec, "cgroup">): void {
    const rec = s.record;
    const limits = rec.limits ?? sessionLimits({}, this.#config.config);
    let cgroup: RunCgroup | null = null;
    try {
      cgroup = this.governance.create(s.id, rec.runs.length + 1, limits);
    } catch (e) {
      this.#log(
        `session ${s.id}: no cgroup for this run (${(e as Error).message}); ` +
          "the daemon enforces its memory limit",
      );
    }
    rec.limits = { memory: limits.memory, cpu: limits.cpu, enforcement: cgroup?.kind ?? "daemon" };
    try {
      s.start({ ...spec, cgroup });
    } catch (e) {
      cgroup?.remove();
      throw e;
    }
  }

  /** A run's cgroup after its leader exited: removed now, or once its last process is gone. */
  #releaseCgroup(id: string, cgroup: RunCgroup): void {
    if (cgroup.remove()) {
      if (this.#leftCgroups.delete(cgroup)) this.#log(`session ${id}: its old cgroup is removed`);
    } else if (!this.#leftCgroups.has(cgroup)) {
      this.#leftCgroups.set(cgroup, id);
      this.#log(`session ${id}: its cgroup still holds processes; removed once they are gone`);
    }
    this.retryCgroups();
  }

  /** Removes the cgroups of ended runs whose last process has gone since. */
  retryCgroups(): void {
    for (const [cg, owner] of this.#leftCgroups) {
      if (cg.remove()) {
        this.#leftCgroups.delete(cg);
        this.#log(`session ${owner}: its old cgroup is removed`);
      }
    }
  }

  /** Why a session is queued: "N of limits.maxLive M live". */
  #fullDetail(): string {
    return `${this.liveCount()} of limits.maxLive ${this.#config.config.limits.maxLive} live`;
  }

  /**
   * Whether a session may start now; then a slot is reserved for it (the
   * caller gives it back with `#reserved--` once the session started or
   * failed). Beyond `limits.maxLive`, with `limits.whenFull: "hibernate"`,
   * the session idle longest that may be hibernated is, to make room; else
   * (or when none may be) false: the session waits in the queue. While
   * others wait, a newcomer waits behind them.
   */
  async #admit(): Promise<boolean> {
    for (let tries = 0; tries <= this.#sessions.size; tries++) {
      const { maxLive, whenFull } = this.#config.config.limits;
      if (maxLive === 0 || (this.liveCount() < maxLive && this.#queue.length === 0)) {
        this.#reserved++;
        return true;
      }
      if (whenFull !== "hibernate") return false;
      const victim = await this.#idlest();
      if (!victim) return false;
      try {
        await this.hibernate(victim, "to make room (limits.maxLive)", false);
      } catch (e) {
        this.#log(`session ${victim.id}: not hibernated to make room: ${(e as Error).message}`);
      }
    }
    return false;
  }

  /** The live session idle longest that may be hibernated now (idle time aside), if any. */
  async #idlest(): Promise<Session | null> {
    const candidates = this.sessions
      .filter((s) => s.live && s.record.status === "waiting_input" && !this.#hibernating.has(s.id))
      .sort((a, b) => a.record.statusSince.localeCompare(b.record.statusSince));
    for (const s of candidates) {
      const blocker = await hibernationBlocker(s, {
        manual: false,
        attached: this.#attached(s.id),
        afterMs: 0,
        sending: this.#sending.has(s.id),
      });
      if (blocker === null) return s;
    }
    return null;
  }

  /**
   * Stops an idle Claude session to free its memory: its status becomes
   * `hibernated` (see {@linkcode hibernationBlocker} for what may be).
   * `manual` (`hibernate ID`): however long it has been idle, attached or not.
   * @throws {ProtocolError} `invalid_state` saying why it may not be
   */
  async hibernate(ref: string | Session, why: string, manual = true): Promise<Session> {
    const s = typeof ref === "string" ? this.resolve(ref) : ref;
    if (this.#hibernating.has(s.id)) {
      throw new ProtocolError("invalid_state", `session ${s.id} is already being hibernated`);
    }
    const checked = Date.now();
    const since = s.record.statusSince;
    const blocker = await hibernationBlocker(s, {
      manual,
      attached: this.#attached(s.id),
      afterMs: manual ? null : 0,
      sending: this.#sending.has(s.id),
    });
    // Nothing may have changed while the screen was looked at.
    const changed = s.record.statusSince !== since || s.lastInputAt > checked ||
      this.#sending.has(s.id) || this.#hibernating.has(s.id);
    if (blocker !== null || changed) {
      throw new ProtocolError(
        "invalid_state",
        `session ${s.id} cannot be hibernated: ${blocker ?? "it changed meanwhile"}`,
      );
    }
    this.#log(`session ${s.id}: hibernating (${why})`);
    const done = (async () => {
      await s.kill("hibernated", undefined, why);
      await this.#store.save(s.record).catch(() => {});
    })();
    this.#hibernating.set(s.id, done);
    try {
      await done;
    } finally {
      this.#hibernating.delete(s.id);
    }
    return s;
  }

  /** Starts queued sessions, in order, while there are free slots. */
  #drain(): void {
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    void (async () => {
      try {
        do {
          this.#drainAgain = false;
          while (this.#queue.length > 0 && !this.#shuttingDown) {
            const max = this.#config.config.limits.maxLive;
            if (max !== 0 && this.liveCount() >= max) break;
            const s = this.#sessions.get(this.#queue.shift()!);
            if (!s || s.record.status !== "queued") continue;
            this.#reserved++;
            try {
              await this.#startQueued(s);
            } catch (e) {
              this.#log(`session ${s.id}: queued, but cannot start: ${(e as Error).message}`);
              if (s.record.status === "queued") s.close("spawn_failed");
            } finally {
              this.#reserved--;
            }
          }
        } while (this.#drainAgain);
      } finally {
        this.#draining = false;
      }
    })();
  }

  /** Starts a queued session, from its record and saved environment. */
  async #startQueued(s: Session): Promise<void> {
    const rec = s.record;
    const env = JSON.parse(await readOwnTextFile(`${sessionDir(this.#paths, s.id)}/env.json`));
    await checkDir(rec.cwd);
    const launchArgs = rec.hooks ? await this.#injectHooks(s.id, rec.args, rec.cwd) : rec.args;
    if (rec.status !== "queued") return; // killed or removed meanwhile
    this.#logs.attach(s);
    s.setStatus("starting", "daemon", "a slot freed");
    this.#startResumed(s, launchArgs, env);
    this.#log(`session ${s.id} started from the queue (pid ${rec.pid})`);
    await this.#store.save(rec).catch(() => {});
  }

  #dequeue(id: string): void {
    const i = this.#queue.indexOf(id);
    if (i !== -1) this.#queue.splice(i, 1);
  }

  /**
   * At daemon start: resumes sessions that were live when the previous daemon
   * stopped or died (config `resume.onDaemonStart`).
   */
  async autoResume(): Promise<void> {
    if (this.#config.config.resume.onDaemonStart) {
      for (const s of this.sessions) {
        const rec = s.record;
        // Hibernated and queued sessions stay as they were.
        if (s.open || !rec.hooks || !rec.conversationId) continue;
        if (!AUTO_RESUME_REASONS.has(rec.exitReason ?? "")) continue;
        try {
          await this.resume(s.id, undefined, "resumed at daemon start");
        } catch (e) {
          this.#log(`session ${s.id}: not resumed: ${(e as Error).message}`);
        }
      }
    }
    // Then what was queued, as slots allow.
    this.#drain();
  }

  /** Announces a started run (and a new session) and hooks up its status sources. */
  #afterStart(session: Session, env: Record<string, string>, created: boolean): void {
    if (created) session.announce("created");
    session.announce("started");
    if (!session.record.hooks) {
      session.setStatus("running", "process", "spawned");
      return;
    }
    // Claude reports the rest (SessionStart → waiting_input, …).
    const configDir = env.CLAUDE_CONFIG_DIR || (env.HOME ? `${env.HOME}/.claude` : null);
    if (configDir && this.#status) {
      this.#unwatch.set(session.id, this.#status.watchClaudeState(session, configDir));
    }
  }

  /** Writes the session's Claude settings (hooks merged into any --settings of the user's). */
  async #injectHooks(id: string, args: string[], cwd: string): Promise<string[]> {
    const ours = hookSettings(hookCommand(this.#paths.spoolDir, id));
    let theirs: Record<string, unknown> = {};
    const out: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      let value: string | undefined;
      if (a === "--settings") {
        value = args[++i];
        if (value === undefined) throw new ProtocolError("bad_request", "--settings needs a value");
      } else if (a.startsWith("--settings=")) {
        value = a.slice("--settings=".length);
      } else {
        out.push(a);
        continue;
      }
      theirs = await readSettingsArg(value, cwd); // the last one wins, as in Claude
    }
    const path = `${sessionDir(this.#paths, id)}/settings.json`;
    await Deno.writeTextFile(path, JSON.stringify(mergeSettings(theirs, ours), null, 2), {
      mode: 0o600,
    });
    out.push("--settings", path);
    return out;
  }

  /**
   * Claims, synchronously, what a starting session will hold — its name, its
   * conversation, and (for resume) the session itself — until `release`.
   * @throws {ProtocolError} `conflict` when a live or starting session holds one
   */
  #claim(name: string | null, conversationId: string | null, session?: string): () => void {
    const keys: string[] = [];
    if (session !== undefined) {
      if (this.#claims.has(`session:${session}`)) {
        throw new ProtocolError("invalid_state", `session ${session} is already being resumed`);
      }
      keys.push(`session:${session}`);
    }
    if (name !== null) {
      const taken = this.sessions.find((s) => s.open && s.id !== session && s.record.name === name);
      if (taken) {
        throw new ProtocolError(
          "conflict",
          `the name "${name}" is taken by ${describeHolder(taken)}`,
        );
      }
      if (this.#claims.has(`name:${name}`)) {
        throw new ProtocolError(
          "conflict",
          `the name "${name}" is taken by a session that is starting`,
        );
      }
      keys.push(`name:${name}`);
    }
    if (conversationId !== null) {
      this.#checkConversationFree(conversationId, session);
      if (this.#claims.has(`conversation:${conversationId}`)) {
        throw new ProtocolError(
          "conflict",
          `conversation ${conversationId} is being opened by a session that is starting`,
        );
      }
      keys.push(`conversation:${conversationId}`);
    }
    for (const k of keys) this.#claims.add(k);
    return () => {
      for (const k of keys) this.#claims.delete(k);
    };
  }

  #checkConversationFree(conversationId: string, except?: string): void {
    const holder = this.sessions.find((s) =>
      s.open && s.id !== except && s.record.conversationId === conversationId
    );
    if (holder) {
      throw new ProtocolError(
        "conflict",
        `conversation ${conversationId} is already open in ${describeHolder(holder)}` +
          (holder.record.name ? ` (${holder.record.name})` : ""),
      );
    }
  }

  /**
   * Stops a session and waits until it has exited. A queued or hibernated
   * one (no process) is ended at once.
   */
  async kill(ref: string): Promise<Session> {
    const s = this.resolve(ref);
    if (!s.live && s.open) {
      this.#dequeue(s.id);
      s.close("killed");
      await this.#store.save(s.record).catch(() => {});
      return s;
    }
    if (!s.live) {
      throw new ProtocolError("invalid_state", `session ${s.id} has already exited`);
    }
    await s.kill("killed");
    // It was being hibernated when asked: it ends now all the same.
    s.close("killed");
    // On a full disk the write is retried; the exit is known all the same.
    await this.#store.save(s.record).catch(() => {});
    return s;
  }

  /**
   * Adds then removes tags of a session (live or exited); announces `tags`
   * when they changed.
   * @throws {ProtocolError} `bad_request` for an invalid tag or too many tags
   */
  tag(ref: string, add: string[], remove: string[]): Session {
    const s = this.resolve(ref);
    for (const t of [...add, ...remove]) checkTagName(t);
    const before = s.record.tags ?? [];
    const gone = new Set(remove);
    const after = [...new Set([...before, ...add])].filter((t) => !gone.has(t));
    if (after.length > MAX_TAGS) {
      throw new ProtocolError("bad_request", `a session has at most ${MAX_TAGS} tags`);
    }
    if (after.length === before.length && after.every((t, i) => t === before[i])) return s;
    s.record.tags = after;
    s.record.updated = now();
    this.#host.save(s.record);
    s.announce("tags", { tags: [...after] });
    return s;
  }

  /** Removes an exited session's record and, unless `keepLogs`, its logs. */
  async remove(ref: string, keepLogs = false): Promise<string> {
    const s = this.resolve(ref);
    if (s.live) {
      throw new ProtocolError(
        "invalid_state",
        `session ${s.id} is still running; stop it first (claude-sessions kill ${s.id})`,
      );
    }
    this.#dequeue(s.id);
    this.#sessions.delete(s.id);
    await this.#store.remove(s.id);
    await Deno.remove(sessionDir(this.#paths, s.id), { recursive: true }).catch(() => {});

    if (!keepLogs) await this.#logs.remove(s.id);
    this.#emit({
      event: "removed",
      at: now(),
      id: s.id,
      name: s.record.name,
      status: s.record.status,
      previous: null,
      source: null,
    });
    return s.id;
  }

  /** Stops every live session (in parallel) and flushes records. */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    // A shorter grace than `kill`: the daemon should be gone within seconds.
    const grace = Math.min(this.#config.config.kill.graceSeconds, 1) * 1000;
    await Promise.allSettled(
      this.sessions.filter((s) => s.live).map((s) => s.kill("daemon_stopped", grace)),
    );
    for (const [cg, id] of this.#leftCgroups) {
      if (!cg.remove()) this.#log(`session ${id}: its cgroup could not be removed`);
    }
    await this.#logs.close();
    await this.#store.flush(5000);
  }

  /**
   * Writes the event's log line, then tells the listeners. The end of a run
   * (the status `exited` and the `exited` event) reaches them only once the
   * log is on disk, so whoever hears of the exit (`wait`, `events`) can read
   * the whole log at once; a session's later events queue behind it.
   */
  #emit(ev: SessionEvent): void {
    try {
      this.#logs.handle(ev, this.#sessions.get(ev.id)?.record);
    } catch (e) {
      this.#log(`log of ${ev.id}: cannot record event: ${(e as Error).message}`);
    }
    const ending = ev.event === "exited" ||
      (ev.event === "status" && (ev.status === "exited" || ev.status === "hibernated"));
    const queued = this.#delivering.get(ev.id);
    if (!ending && !queued) {
      this.#deliver(ev);
      return;
    }
    // Runs after the current task: by then the exit line is logged too.
    const next = (queued ?? Promise.resolve())
      .then(() => ending ? this.#logs.flush(ev.id) : undefined)
      .catch(() => {})
      .then(() => this.#deliver(ev));
    this.#delivering.set(ev.id, next);
    void next.then(() => {
      if (this.#delivering.get(ev.id) === next) this.#delivering.delete(ev.id);
    });
  }

  #deliver(ev: SessionEvent): void {
    const seq = ++this.#seq;
    for (const fn of this.#listeners) {
      try {
        fn(ev, seq);
      } catch (e) {
        this.#log(`event listener failed: ${(e as Error).message}`);
      }
    }
  }
}

/** "live session X", "hibernated session X": who holds a name or conversation. */
function describeHolder(s: Session): string {
  return `${s.live ? "live" : s.record.status} session ${s.id}`;
}

/** A new session's limits: `new`'s, else the config's. */
function sessionLimits(params: Pick<NewParams, "memory" | "cpu">, config: Config): SessionLimits {
  return {
    memory: params.memory !== undefined ? params.memory : config.limits.memory,
    cpu: params.cpu !== undefined ? params.cpu : config.limits.cpu,
  };
}

/** A full disk as a clear error (others unchanged). */
function noSpaceError(e: unknown, home: string): unknown {
  if (!isNoSpace(e)) return e;
  return new ProtocolError(
    "spawn_failed",
    `cannot start a session: no space left on the disk holding ${home} ` +
      `(${(e as Error).message.replace(/ \(os error \d+\).*$/, "")}); free some space`,
  );
}

function clampSize(v: number | undefined, dflt: number): number {
  if (v === undefined || !Number.isInteger(v) || v < 1) return dflt;
  return Math.min(v, 1000);
}

/** Fills fields that older records may lack. */
function normalize(rec: SessionRecord): void {
  rec.history ??= [];
  rec.runs ??= [];
  rec.tty ??= null;
  rec.exitReason ??= null;
  rec.statusSource ??= "daemon";
  rec.statusSince ??= rec.updated;
  rec.hooks ??= false;
  rec.conversationId ??= null;
  rec.transcriptPath ??= null;
  rec.lastMessage ??= null;
  rec.lastError ??= null;
  rec.tags ??= [];
  rec.lastOutputAt ??= null;
  rec.clients = 0;
}

function checkTagName(t: string): void {
  if (!TAG_RE.test(t)) {
    throw new ProtocolError(
      "bad_request",
      `invalid tag "${t}": use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

/**
 * Validates tags (the rules of names) and drops repeats.
 * @throws {ProtocolError} `bad_request`
 */
export function checkTags(tags: string[]): string[] {
  for (const t of tags) checkTagName(t);
  const out = [...new Set(tags)];
  if (out.length > MAX_TAGS) {
    throw new ProtocolError("bad_request", `a session has at most ${MAX_TAGS} tags`);
  }
  return out;
}

async function checkDir(given: string): Promise<string> {
  // `~/…` (from another machine, which cannot know this one's home).
  const home = Deno.env.get("HOME");
  const dir = home && (given === "~" || given?.startsWith("~/")) ? home + given.slice(1) : given;
  if (typeof dir !== "string" || !dir.startsWith("/")) {
    throw new ProtocolError("bad_request", `cwd must be an absolute path, got "${given}"`);
  }
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(dir);
  } catch {
    throw new ProtocolError("bad_request", `no such directory: ${dir}`);
  }
  if (!st.isDirectory) throw new ProtocolError("bad_request", `not a directory: ${dir}`);
  return dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
}

/**
 * The environment for a session whose client sent none (it is on another
 * machine): the daemon's own, without what only the daemon's process needs.
 */
export function daemonEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const k of DAEMON_ONLY_ENV) delete env[k];
  return env;
}

/** The daemon's own variables (runtime tuning), never a session's. */
const DAEMON_ONLY_ENV = ["DENO_V8_FLAGS", "CLAUDE_SESSIONS_DAEMON_V8"];

/** Variables never passed from the requesting CLI into a session. */
const DROPPED_ENV = [
  "LISTEN_FDS",
  "LISTEN_PID",
  "LISTEN_FDNAMES",
  "NOTIFY_SOCKET",
  // Set by Claude Code in its tools' environment; a session is not nested.
  "CLAUDECODE",
  "CLAUDE_CODE_ENTRYPOINT",
];

/**
 * The session's environment: the requesting CLI's, plus `CLAUDE_SESSIONS_ID`
 * and `CLAUDE_SESSIONS_HOME`, with `TERM` defaulting to `xterm-256color`.
 */
export function sessionEnv(
  base: Record<string, string>,
  id: string,
  home: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (typeof v === "string" && !DROPPED_ENV.includes(k)) env[k] = v;
  }
  env.CLAUDE_SESSIONS_ID = id;
  env.CLAUDE_SESSIONS_HOME = home;
  if (!env.TERM || env.TERM === "dumb") env.TERM = "xterm-256color";
  return env;
}

/** Resolves a command like execvp(3) would, or null when not runnable. */
export async function resolveCommand(
  command: string,
  path: string,
  cwd: string,
): Promise<string | null> {
  const candidates = command.includes("/")
    ? [command.startsWith("/") ? command : `${cwd}/${command}`]
    : path.split(":").map((d) =>
      `${d === "" ? cwd : d.startsWith("/") ? d : `${cwd}/${d}`}/${command}`
    );
  for (const c of candidates) {
    try {
      const st = await Deno.stat(c);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return c;
    } catch { /* next */ }
  }
  return null;
}

/** Claude's own `--settings` value: inline JSON, or a file (relative to the session's directory). */
async function readSettingsArg(value: string, cwd: string): Promise<Record<string, unknown>> {
  let text = value;
  if (!value.trimStart().startsWith("{")) {
    const path = value.startsWith("/") ? value : `${cwd}/${value}`;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new ProtocolError(
        "spawn_failed",
        `cannot read --settings ${path}: ${(e as Error).message}`,
      );
    }
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    return v;
  } catch (e) {
    throw new ProtocolError(
      "spawn_failed",
      `invalid --settings ${value.slice(0, 80)}: ${(e as Error).message}`,
    );
  }
}

/** Drops the arguments that pick a conversation (`--resume`, `--session-id`, `--continue`). */
export function withoutConversationArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--resume" || a === "-r" || a === "--session-id") {
      i++;
    } else if (a.startsWith("--resume=") || a.startsWith("--session-id=")) {
      // dropped
    } else if (a === "--continue" || a === "-c") {
      // dropped
    } else {
      out.push(a);
    }
  }
  return out;
}
