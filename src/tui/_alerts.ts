/**
 * `watch`'s terminal notifications: when a session starts waiting for the
 * user, the bell and a notification the terminal shows itself (OSC 9, or
 * OSC 777 for terminals that know only that), written to the terminal so
 * they work over SSH too, and passed through tmux.
 *
 * Which waits, as the daemon's notifications: `waiting_permission` (from any
 * status), `waiting_input` entered from `running` (a turn ended); once the
 * wait has held {@linkcode ALERT_SETTLE_MS} (a flap restarts the clock; a
 * wait left and re-entered within that time, about the same thing, is the
 * same wait); never for a session someone is attached to (this `watch`
 * included).
 *
 * @module
 */

import type { SessionEvent, SessionRecord, SessionStatus } from "../protocol.ts";
import { describeWait, oneLine } from "../session_view.ts";
import { REAL_TIMERS, type Timers } from "./_timers.ts";

/** How long a wait holds before it is announced. */
export const ALERT_SETTLE_MS = 2000;

/** What a session waits for, for an alert. */
export type WaitKind = "permission" | "input";

const STATUS_OF: Record<WaitKind, SessionStatus> = {
  permission: "waiting_permission",
  input: "waiting_input",
};

/** The wait a status change starts: a permission from anything, input only after running. */
export function waitStarted(status: string, previous: string | null): WaitKind | null {
  if (status === "waiting_permission") return "permission";
  if (status === "waiting_input" && previous === "running") return "input";
  return null;
}

// ---------------------------------------------------------------------------
// The escape sequences

const ESC = "\x1b";
const BEL = "\x07";
/** Longest text in one notification sequence. */
const OSC_TEXT_MAX = 300;

/** Text that cannot end or break an OSC string: controls become spaces, cut at the limit. */
function oscSafe(text: string): string {
  const flat = text.replace(/[\x00-\x1f\x7f-\x9f]/g, " ").replace(/ {2,}/g, " ").trim();
  return flat.length > OSC_TEXT_MAX ? `${flat.slice(0, OSC_TEXT_MAX - 1)}…` : flat;
}

/**
 * The bytes that ring the bell and show a notification: OSC 777 `notify`
 * for foot and rxvt-family terminals (by `TERM`), else OSC 9 ("title: body";
 * text starting with digits and ";" gets a space, or ConEmu-style terminals
 * read another OSC 9 function). Inside tmux (`TMUX` set), the OSC goes
 * through tmux's passthrough (tmux 3.3+: `set -g allow-passthrough on`);
 * tmux passes the bell on itself.
 */
export function alertSequence(
  title: string,
  body: string,
  env: (name: string) => string | undefined,
): string {
  let osc: string;
  if (/^(foot|rxvt|urxvt)/.test(env("TERM") ?? "")) {
    osc = `${ESC}]777;notify;${oscSafe(title).replaceAll(";", ",")};${oscSafe(body)}${BEL}`;
  } else {
    let text = oscSafe(`${title}: ${body}`);
    if (/^\d+;/.test(text)) text = ` ${text}`;
    osc = `${ESC}]9;${text}${BEL}`;
  }
  if (env("TMUX")) osc = `${ESC}Ptmux;${osc.replaceAll(ESC, ESC + ESC)}${ESC}\\`;
  return BEL + osc;
}

/** What an alert says: `api: waiting for permission` / `Bash: npm test`. */
export function alertText(rec: SessionRecord, kind: WaitKind): { title: string; body: string } {
  const who = rec.name ?? rec.id.slice(0, 8);
  if (kind === "permission") {
    return {
      title: oneLine(`${who}: waiting for permission`),
      body: oneLine(describeWait(rec.waitingFor), 200),
    };
  }
  const said = rec.lastError ? `turn failed: ${rec.lastError}` : rec.lastMessage ?? "turn ended";
  return { title: oneLine(`${who}: waiting for input`), body: oneLine(said, 200) };
}

// ---------------------------------------------------------------------------
// When

/** What {@linkcode WaitAlerts} needs. */
export interface WaitAlertsHost {
  /** The session's record now. */
  record(id: string): SessionRecord | undefined;
  /** This program is attached to it (no alert). */
  attachedHere(id: string): boolean;
  /** Announce it. */
  alert(rec: SessionRecord, kind: WaitKind): void;
}

interface Track {
  kind: WaitKind | null;
  timer: unknown;
  lastKey: string | null;
  leftAt: number;
  enteredAt: number;
}

/** Decides, from the event stream, when a wait is announced. */
export class WaitAlerts {
  readonly #host: WaitAlertsHost;
  readonly #clock: Timers;
  readonly #settleMs: number;
  readonly #tracks = new Map<string, Track>();

  constructor(host: WaitAlertsHost, opts: { clock?: Timers; settleMs?: number } = {}) {
    this.#host = host;
    this.#clock = opts.clock ?? REAL_TIMERS;
    this.#settleMs = opts.settleMs ?? ALERT_SETTLE_MS;
  }

  /** Follows one event. */
  onEvent(ev: SessionEvent): void {
    if (ev.event === "removed" || ev.status === "exited") {
      this.#forget(ev.id);
      return;
    }
    if (ev.event !== "status") return;
    const kind = waitStarted(ev.status, ev.previous);
    let t = this.#tracks.get(ev.id);
    if (kind === null) {
      if (t?.kind) this.#leave(t);
      return;
    }
    if (!t) {
      t = { kind: null, timer: undefined, lastKey: null, leftAt: 0, enteredAt: 0 };
      this.#tracks.set(ev.id, t);
    }
    if (t.kind) this.#leave(t);
    t.kind = kind;
    t.enteredAt = this.#clock.now();
    t.timer = this.#clock.setTimeout(() => this.#settled(ev.id), this.#settleMs);
  }

  /** Forgets every wait in progress (the events stream started over). */
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

  #settled(id: string): void {
    const t = this.#tracks.get(id);
    const rec = this.#host.record(id);
    if (!t?.kind || !rec) return;
    t.timer = undefined;
    const kind = t.kind;
    if (rec.status !== STATUS_OF[kind]) return;
    const key = `${kind}\n${
      kind === "permission"
        ? JSON.stringify(rec.waitingFor ?? null)
        : JSON.stringify([rec.lastMessage ?? null, rec.lastError ?? null])
    }`;
    const same = t.lastKey === key && t.enteredAt - t.leftAt <= this.#settleMs;
    t.lastKey = key;
    if (same) return;
    if ((rec.clients ?? 0) > 0 || this.#host.attachedHere(id)) return;
    this.#host.alert(rec, kind);
  }
}
