/**
 * Governing what the sessions cost, over time: hibernating Claude sessions
 * left idle (`hibernate.afterMinutes`), stopping a session over its memory
 * limit where no cgroup does it (`limits.enforcement` fell back to the
 * daemon), and measuring usage for subscribers. One timer does it all, and
 * only as often as the configuration needs: every quarter of the idle time
 * (between 0.2 and 30 seconds) while hibernation is on, every second while a
 * session has a memory limit only the daemon enforces, otherwise every 30
 * seconds (to notice a changed configuration).
 *
 * @module
 */

import type { SessionUsage } from "../protocol.ts";
import { USAGE_PUSH_MS } from "../protocol.ts";
import type { Manager } from "./manager.ts";
import type { Session } from "./session.ts";
import { claudeInputBox } from "./claude_screen.ts";
import { formatBytes } from "../bytes.ts";

/** How often the daemon checks sessions it enforces a memory limit for. */
export const ENFORCE_MS = 1000;
/** The longest a tick waits. */
const IDLE_TICK_MS = 30_000;
/** The shortest. */
const MIN_TICK_MS = 200;

/** What decides whether a session may be hibernated. */
export interface BlockerOptions {
  /** By hand (`hibernate ID`): however long it has been idle, attached or not. */
  manual: boolean;
  /** Clients attached to it now. */
  attached: number;
  /** How long it must have been waiting for input (ms); 0 or null: any time. */
  afterMs: number | null;
  /** A send to it is under way. */
  sending?: boolean;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/**
 * Why `s` may not be hibernated now, or null when it may: only a Claude
 * session (its conversation can be resumed) that is `waiting_input`, with a
 * known conversation id and an empty input line on its screen; unless by
 * hand, also with no client attached, nothing typed since its last turn
 * ended, and idle for `afterMs`. Never `running` or `waiting_permission`.
 */
export async function hibernationBlocker(
  s: Session,
  o: BlockerOptions,
): Promise<string | null> {
  const rec = s.record;
  if (!rec.hooks) {
    return `it runs ${rec.command}, not Claude (only a Claude conversation can be resumed)`;
  }
  if (rec.status === "hibernated") return "it is already hibernated";
  if (rec.status !== "waiting_input") {
    const why = rec.status === "running"
      ? " (Claude is working)"
      : rec.status === "waiting_permission"
      ? " (Claude waits for an answer)"
      : "";
    return `it is ${rec.status}${why}`;
  }
  if (!rec.conversationId) return "its conversation id is not known (Claude never reported one)";
  if (o.sending) return "a send to it is under way";
  if (!o.manual) {
    if (o.attached > 0) return `${o.attached} client${o.attached === 1 ? " is" : "s are"} attached`;
    const since = Date.parse(rec.statusSince);
    if (s.lastInputAt > since) return "something was typed since its last turn ended";
    if (o.afterMs && Date.now() - since < o.afterMs) return "it has not been idle long enough";
  }
  const box = claudeInputBox(await s.peek({}).catch(() => ""));
  if (box === null) return "its input line is not on its screen";
  if (box !== "") return `its input line holds text ("${clip(box)}")`;
  return null;
}

/** Listener of usage measurements (every live session's, by id). */
export type UsageListener = (usage: Map<string, SessionUsage>) => void;

/** The daemon's governance timer (see the module documentation). */
export class Governor {
  readonly #m: Manager;
  readonly #log: (msg: string) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #usageTimer: ReturnType<typeof setInterval> | undefined;
  readonly #usageListeners = new Set<UsageListener>();
  /** Sessions found not to be hibernatable, with the idle period it was said for (said once). */
  readonly #said = new Map<string, string>();
  #closed = false;
  #ticking = false;
  /** When the next tick is due (ms). */
  #due = Infinity;
  #unsubscribe: (() => void)[] = [];

  constructor(m: Manager, log: (msg: string) => void) {
    this.#m = m;
    this.#log = log;
  }

  /** Starts the timer. */
  start(): void {
    this.#schedule(0);
    // A session that starts or changes status, or a new configuration, may
    // need an earlier look.
    const sooner = () => {
      const ms = this.#period();
      if (!this.#ticking && Date.now() + ms < this.#due) this.#schedule(ms);
    };
    this.#unsubscribe.push(
      this.#m.subscribe((ev) => {
        if (ev.event === "started" || ev.event === "status") sooner();
      }),
      this.#m.onConfig(sooner),
    );
  }

  /** Stops every timer. */
  close(): void {
    this.#closed = true;
    for (const fn of this.#unsubscribe) fn();
    clearTimeout(this.#timer);
    clearInterval(this.#usageTimer);
    this.#usageListeners.clear();
  }

  /**
   * Measures every live session's usage every {@linkcode USAGE_PUSH_MS}
   * while someone listens; returns the unsubscribe function.
   */
  subscribeUsage(fn: UsageListener): () => void {
    this.#usageListeners.add(fn);
    if (this.#usageTimer === undefined) {
      this.#usageTimer = setInterval(() => void this.#pushUsage(), USAGE_PUSH_MS);
      void this.#pushUsage();
    }
    return () => {
      this.#usageListeners.delete(fn);
      if (this.#usageListeners.size === 0) {
        clearInterval(this.#usageTimer);
        this.#usageTimer = undefined;
      }
    };
  }

  async #pushUsage(): Promise<void> {
    const usage = await this.#m.usage(this.#m.sessions.filter((s) => s.live));
    for (const fn of this.#usageListeners) {
      try {
        fn(usage);
      } catch (e) {
        this.#log(`usage listener failed: ${(e as Error).message}`);
      }
    }
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#due = Date.now() + ms;
    this.#timer = setTimeout(() => void this.#tick(), ms);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /** How long until the next tick, from the configuration and the sessions. */
  #period(): number {
    let ms = IDLE_TICK_MS;
    const afterMs = this.#m.config.hibernate.afterMinutes * 60_000;
    if (afterMs > 0) ms = Math.min(ms, Math.max(MIN_TICK_MS, afterMs / 4));
    if (this.#enforced().length > 0) ms = Math.min(ms, ENFORCE_MS);
    return ms;
  }

  /** Live sessions with a memory limit that only the daemon enforces. */
  #enforced(): Session[] {
    return this.#m.sessions.filter((s) =>
      s.live && s.record.limits?.memory != null && s.record.limits.enforcement === "daemon"
    );
  }

  async #tick(): Promise<void> {
    if (this.#closed || this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#hibernateIdle();
      await this.#enforceMemory();
      this.#m.retryCgroups();
    } catch (e) {
      this.#log(`governor: ${(e as Error).message}`);
    } finally {
      this.#ticking = false;
      this.#schedule(this.#period());
    }
  }

  /** Hibernates the Claude sessions idle for `hibernate.afterMinutes`. */
  async #hibernateIdle(): Promise<void> {
    const minutes = this.#m.config.hibernate.afterMinutes;
    if (!(minutes > 0)) return;
    const afterMs = minutes * 60_000;
    const now = Date.now();
    for (const s of this.#m.sessions) {
      const rec = s.record;
      if (!s.live || !rec.hooks || rec.status !== "waiting_input") continue;
      if (now - Date.parse(rec.statusSince) < afterMs) continue;
      const o = { manual: false, attached: this.#m.attachedCount(s.id), afterMs };
      const blocker = await hibernationBlocker(s, o);
      if (blocker !== null) {
        // Said once per idle period.
        if (this.#said.get(s.id) !== rec.statusSince) {
          this.#said.set(s.id, rec.statusSince);
          this.#log(`session ${s.id}: idle ${formatMinutes(minutes)}, not hibernated: ${blocker}`);
        }
        continue;
      }
      this.#said.delete(s.id);
      try {
        await this.#m.hibernate(s, `idle ${formatMinutes(minutes)}`, false);
      } catch (e) {
        this.#log(`session ${s.id}: not hibernated: ${(e as Error).message}`);
      }
    }
  }

  /** Stops a session over its memory limit, where no cgroup bounds it. */
  async #enforceMemory(): Promise<void> {
    const sessions = this.#enforced();
    if (sessions.length === 0) return;
    const usage = await this.#m.usage(sessions);
    for (const s of sessions) {
      const used = usage.get(s.id)?.rss;
      const limit = s.record.limits?.memory;
      if (used === undefined || limit == null || used <= limit || !s.live) continue;
      const why = `over its memory limit: ${formatBytes(used)} of ${formatBytes(limit)}`;
      this.#log(`session ${s.id}: ${why}; stopping it`);
      void s.kill("oom", undefined, why);
    }
  }
}

/** 60 → "60m", 0.02 → "1.2s". */
function formatMinutes(m: number): string {
  return m >= 1 ? `${Math.round(m * 10) / 10}m` : `${Math.round(m * 600) / 10}s`;
}
