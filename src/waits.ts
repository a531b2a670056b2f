/**
 * When a session's wait for the user is announced — one rule for the
 * daemon's notifications (`src/daemon/notifications.ts`, also `notify
 * watch`) and `watch`'s terminal notifications.
 *
 * Which waits: `waiting_permission` (also the folder-trust question at
 * start), and `waiting_input` once the session has been `running` since it
 * last waited for input (a turn ended — also straight from a permission
 * prompt, when the tool's run went unreported; not the prompt coming up
 * after start, nor after the folder-trust question). A wait is announced
 * once it has held for {@linkcode WAIT_SETTLE_MS}: a flap (permission →
 * running → permission, a queued prompt taken at once) restarts the clock
 * instead of announcing twice, and a wait re-entered within that time of
 * leaving one already handled, about the same thing, is the same wait. Not
 * for a session someone is looking at (the caller says who that is).
 *
 * @module
 */

import type { SessionEvent, SessionRecord, SessionStatus } from "./protocol.ts";
import type { WaitKind } from "./session_view.ts";
import { type Clock, REAL_CLOCK } from "./clock.ts";

/** How long a wait must hold before it is announced (flaps within it are coalesced). */
export const WAIT_SETTLE_MS = 2000;

/** The status each kind of wait is. */
export const STATUS_OF_WAIT: Record<WaitKind, SessionStatus> = {
  permission: "waiting_permission",
  input: "waiting_input",
};

/**
 * The wait a status change starts, if any: `waiting_permission` from
 * anything; `waiting_input` when a turn ended — it comes from `running`, or
 * the session `ran` since it last waited for input.
 */
export function waitKindOf(
  status: SessionStatus,
  previous: SessionStatus | null,
  ran: boolean,
): WaitKind | null {
  if (status === "waiting_permission") return "permission";
  if (status === "waiting_input" && (previous === "running" || ran)) return "input";
  return null;
}

/** What a {@linkcode WaitTracker} asks of its owner. */
export interface WaitTrackerHost {
  /** The session's record now. */
  record(id: string): SessionRecord | undefined;
  /**
   * Whether waits of this kind are announced at all now (e.g. the config's
   * `notify.on`); when not, the wait is dropped without counting as handled.
   */
  wanted?(kind: WaitKind): boolean;
  /** Someone is looking at the session: the wait counts as handled, unannounced. */
  looking(id: string, rec: SessionRecord): boolean;
  /** Announces a wait that settled. */
  announce(id: string, rec: SessionRecord, kind: WaitKind): void;
}

/** Per session: the wait it is in and what was last handled. */
interface Track {
  /** The wait the session is in now. */
  kind: WaitKind | null;
  /** Fires once the wait has held for the settle time. */
  timer: unknown;
  /** The last wait handled (announced, or seen by someone looking): kind and subject. */
  lastKey: string | null;
  /** When the session last left a wait (ms). */
  leftAt: number;
  /** When it entered the wait it is in (ms). */
  enteredAt: number;
  /** It has been `running` since it last waited for input (a turn is under way). */
  ran: boolean;
}

/** Decides, from the event stream of one daemon, when each wait is announced. */
export class WaitTracker {
  readonly #host: WaitTrackerHost;
  readonly #clock: Clock;
  readonly #settleMs: number;
  readonly #tracks = new Map<string, Track>();

  constructor(host: WaitTrackerHost, opts: { clock?: Clock; settleMs?: number } = {}) {
    this.#host = host;
    this.#clock = opts.clock ?? REAL_CLOCK;
    this.#settleMs = opts.settleMs ?? WAIT_SETTLE_MS;
  }

  /** Follows one event (after the record it tells of was updated). */
  onEvent(ev: SessionEvent): void {
    if (ev.event === "removed" || ev.event === "exited" || ev.status === "exited") {
      this.#forget(ev.id);
      return;
    }
    if (ev.event !== "status") return;
    let t = this.#tracks.get(ev.id);
    if (!t) {
      t = { kind: null, timer: undefined, lastKey: null, leftAt: 0, enteredAt: 0, ran: false };
      this.#tracks.set(ev.id, t);
    }
    const kind = waitKindOf(ev.status, ev.previous, t.ran);
    if (ev.status === "running") t.ran = true;
    if (ev.status === "waiting_input") t.ran = false;
    if (t.kind) this.#leave(t);
    if (kind === null) return;
    t.kind = kind;
    t.enteredAt = this.#clock.now();
    t.timer = this.#clock.setTimeout(() => this.#settled(ev.id), this.#settleMs);
  }

  /** Forgets every session (the event stream started over, or the owner stops). */
  reset(): void {
    for (const id of [...this.#tracks.keys()]) this.#forget(id);
  }

  #leave(t: Track): void {
    this.#clock.clearTimeout(t.timer);
    t.timer = undefined;
    t.kind = null;
    t.leftAt = this.#clock.now();
  }

  #forget(id: string): void {
    const t = this.#tracks.get(id);
    if (t) this.#clock.clearTimeout(t.timer);
    this.#tracks.delete(id);
  }

  /** A wait held for the settle time: announce it, unless it need not be. */
  #settled(id: string): void {
    const t = this.#tracks.get(id);
    const rec = this.#host.record(id);
    if (!t?.kind || !rec) return;
    t.timer = undefined;
    const kind = t.kind;
    if (rec.status !== STATUS_OF_WAIT[kind]) return;
    if (this.#host.wanted && !this.#host.wanted(kind)) return;
    const key = `${kind}\n${
      kind === "permission"
        ? JSON.stringify(rec.waitingFor ?? null)
        : JSON.stringify([rec.lastMessage ?? null, rec.lastError ?? null])
    }`;
    // Left and re-entered within the settle time, about the same thing: the same wait.
    const resumed = t.lastKey === key && t.enteredAt - t.leftAt <= this.#settleMs;
    t.lastKey = key;
    if (resumed) return;
    if (this.#host.looking(id, rec)) return;
    this.#host.announce(id, rec, kind);
  }
}
