/**
 * A client-side mirror of the daemon's sessions, kept from an `events`
 * snapshot and the numbered events after it. Pure (no I/O), so what it does
 * with each event can be tested alone.
 *
 * @module
 */

import type { EventPush, SessionEvent, SessionRecord } from "../protocol.ts";
import { shortIdLength } from "../session_view.ts";
import type { Snapshot } from "./client.ts";

/** What applying one event push did. */
export type Applied =
  /** A session was added or changed. */
  | { kind: "changed"; id: string; added: boolean }
  /** A session was removed (`rm`). */
  | { kind: "removed"; id: string }
  /** Nothing to do: a kind this client does not know, about no known session. */
  | { kind: "ignored" }
  /**
   * The push is not the next one (an event was missed, or numbering started
   * over): nothing was applied; take a new snapshot.
   */
  | { kind: "gap"; expected: number; got: number | null };

/** The sessions as of the last event applied. */
export class SessionTable {
  #records = new Map<string, SessionRecord>();
  #seq: number | null = null;
  #daemonStarted: string | null = null;
  #shortLength = 8;

  /** Number of the last event applied (null before a snapshot). */
  get seq(): number | null {
    return this.#seq;
  }

  /** The start time of the daemon the snapshot came from. */
  get daemonStarted(): string | null {
    return this.#daemonStarted;
  }

  /** Id prefix length that tells every known session apart. */
  get shortLength(): number {
    return this.#shortLength;
  }

  /** Every session, oldest first. */
  get records(): SessionRecord[] {
    return [...this.#records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Number of sessions. */
  get size(): number {
    return this.#records.size;
  }

  /** The session with this id. */
  get(id: string): SessionRecord | undefined {
    return this.#records.get(id);
  }

  /** Starts over from a snapshot. */
  reset(snapshot: Snapshot): void {
    this.#records = new Map(snapshot.sessions.map((r) => [r.id, r]));
    this.#seq = snapshot.seq;
    this.#daemonStarted = snapshot.daemonStarted;
    this.#shortLength = Math.max(snapshot.shortLength, shortIdLength(this.#records.keys()));
  }

  /**
   * Applies the next event push. The record it carries replaces the one
   * held; without one, the fields the event tells are copied (activity,
   * attached, detached, tags, status, exited); kinds this client does not
   * know change nothing else.
   */
  apply(push: EventPush): Applied {
    if (this.#seq !== null) {
      const expected = this.#seq + 1;
      if (push.seq !== expected) return { kind: "gap", expected, got: push.seq ?? null };
      this.#seq = expected;
    }
    const ev = push.event;
    if (typeof ev?.id !== "string") return { kind: "ignored" };
    if (ev.event === "removed") {
      if (!this.#records.delete(ev.id)) return { kind: "ignored" };
      return { kind: "removed", id: ev.id };
    }
    const known = this.#records.get(ev.id);
    if (push.session && push.session.id === ev.id) {
      this.#records.set(ev.id, push.session);
      if (!known) this.#shortLength = shortIdLength(this.#records.keys());
      return { kind: "changed", id: ev.id, added: !known };
    }
    if (!known) return { kind: "ignored" };
    return patch(known, ev) ? { kind: "changed", id: ev.id, added: false } : { kind: "ignored" };
  }
}

/** Copies what an event tells into a record; false for a kind it does not know. */
function patch(rec: SessionRecord, ev: SessionEvent): boolean {
  switch (ev.event) {
    case "activity":
      if (ev.lastOutputAt) rec.lastOutputAt = ev.lastOutputAt;
      break;
    case "attached":
    case "detached":
      if (typeof ev.clients === "number") rec.clients = ev.clients;
      break;
    case "tags":
      if (Array.isArray(ev.tags)) rec.tags = ev.tags;
      break;
    case "status":
      rec.statusSince = ev.at;
      if (ev.source) rec.statusSource = ev.source;
      break;
    case "exited":
      rec.exitCode = ev.exitCode ?? null;
      rec.signal = ev.signal ?? null;
      rec.exitReason = ev.exitReason ?? null;
      break;
    case "created":
    case "started":
    case "updated":
    case "notified":
      break;
    default:
      return false;
  }
  if (rec.status !== ev.status) {
    rec.status = ev.status;
    rec.statusSince = ev.at;
  }
  return true;
}
