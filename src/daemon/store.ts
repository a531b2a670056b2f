/**
 * Session records on disk: `sessions/<id>.json`, one per session, each
 * written atomically (temp file, fsync, rename) with mode 0600. Writes of one
 * record are serialized and coalesced: a burst of updates costs at most two
 * writes, and the newest state always lands last.
 *
 * @module
 */

import type { SessionRecord } from "../protocol.ts";
import { recordPath } from "../paths.ts";
import type { Paths } from "../paths.ts";
import { readOwnTextFile } from "../ownership.ts";

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Reads and writes session records. */
export class RecordStore {
  #paths: Paths;
  #pending = new Map<string, { next: SessionRecord | null; running: Promise<void> }>();
  #encoder = new TextEncoder();

  /** @param paths home layout whose `sessionsDir` holds the records */
  constructor(paths: Paths) {
    this.#paths = paths;
  }

  /**
   * Loads every record. Unreadable or invalid files, and files of another
   * user's, are reported through `warn` and skipped (never deleted);
   * leftover temp files are removed.
   */
  async loadAll(warn: (msg: string) => void): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for await (const entry of Deno.readDir(this.#paths.sessionsDir)) {
      if (!entry.isFile) continue;
      const path = `${this.#paths.sessionsDir}/${entry.name}`;
      if (entry.name.endsWith(".tmp")) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      const m = /^(.+)\.json$/.exec(entry.name);
      if (!m || !ULID_RE.test(m[1]!)) continue;
      try {
        // Another user's file here was planted: never trusted.
        const rec = JSON.parse(await readOwnTextFile(path)) as SessionRecord;
        if (typeof rec !== "object" || rec === null || rec.id !== m[1]) {
          throw new Error("not a session record");
        }
        out.push(rec);
      } catch (e) {
        warn(`skipping unreadable session record ${path}: ${(e as Error).message}`);
      }
    }
    out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return out;
  }

  /** Schedules an atomic write of `rec` (a snapshot is taken now). */
  save(rec: SessionRecord): Promise<void> {
    const snapshot = structuredClone(rec);
    delete snapshot.clients; // not persisted: no client is attached to a record read back
    const slot = this.#pending.get(rec.id);
    if (slot) {
      slot.next = snapshot;
      return slot.running;
    }
    const entry = { next: snapshot as SessionRecord | null, running: Promise.resolve() };
    entry.running = (async () => {
      try {
        while (entry.next) {
          const r = entry.next;
          entry.next = null;
          await this.#write(r);
        }
      } finally {
        this.#pending.delete(rec.id);
      }
    })();
    this.#pending.set(rec.id, entry);
    return entry.running;
  }

  /** Removes a record file (waiting for any write in flight first). */
  async remove(id: string): Promise<void> {
    await this.#pending.get(id)?.running.catch(() => {});
    await Deno.remove(recordPath(this.#paths, id)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  /** Waits for every scheduled write. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) {
      await Promise.allSettled([...this.#pending.values()].map((p) => p.running));
    }
  }

  async #write(rec: SessionRecord): Promise<void> {
    const final = recordPath(this.#paths, rec.id);
    const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
    const tmp = `${this.#paths.sessionsDir}/.${rec.id}.${rand}.tmp`;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      const data = this.#encoder.encode(JSON.stringify(rec, null, 2) + "\n");
      let off = 0;
      while (off < data.length) off += await file.write(data.subarray(off));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, final);
  }
}
