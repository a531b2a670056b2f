/**
 * Session records on disk: `sessions/<id>.json`, one per session, each
 * written atomically (temp file, fsync, rename) with mode 0600. Writes of one
 * record are serialized and coalesced: a burst of updates costs at most two
 * writes, and the newest state always lands last.
 *
 * A write that fails is retried (newest state, with back-off) until it
 * succeeds. On a full disk, where no temp file can be created, the record is
 * rewritten in place when it fits in the space its file already has (it
 * nearly always does: a record changes by a few bytes), so an exit is on
 * disk when it happens.
 *
 * @module
 */

import type { SessionRecord } from "../protocol.ts";
import { recordPath } from "../paths.ts";
import type { Paths } from "../paths.ts";
import { readOwnTextFile } from "../ownership.ts";
import { isNoSpace } from "./_disk.ts";

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;
/** Longest wait between retries of a failed write. */
const MAX_BACKOFF_MS = 5000;

/** Reads and writes session records. */
export class RecordStore {
  #paths: Paths;
  #pending = new Map<string, { next: SessionRecord | null; running: Promise<void> }>();
  #encoder = new TextEncoder();
  #log: (msg: string) => void;
  /** Why writing records fails at the moment (being retried), or null. */
  #failing: string | null = null;

  /**
   * @param paths home layout whose `sessionsDir` holds the records
   * @param log the daemon's log (failed writes, and when they succeed again)
   */
  constructor(paths: Paths, log: (msg: string) => void = () => {}) {
    this.#paths = paths;
    this.#log = log;
  }

  /** Why writing records fails at the moment (it is being retried), or null. */
  get failing(): string | null {
    return this.#failing;
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

  /**
   * Schedules an atomic write of `rec` (a snapshot is taken now). Resolves
   * once it is on disk; rejects when a write fails, which is then retried in
   * the background until it succeeds.
   */
  save(rec: SessionRecord): Promise<void> {
    const snapshot = structuredClone(rec);
    delete snapshot.clients; // not persisted: no client is attached to a record read back
    const slot = this.#pending.get(rec.id);
    if (slot) {
      slot.next = snapshot;
      return slot.running;
    }
    let failed!: (e: unknown) => void;
    const firstFailure = new Promise<never>((_, reject) => (failed = reject));
    const entry = { next: snapshot as SessionRecord | null, running: Promise.resolve() };
    const loop = (async () => {
      let backoff = 0;
      try {
        while (entry.next) {
          const r = entry.next;
          entry.next = null;
          try {
            await this.#write(r);
            if (this.#failing !== null) {
              this.#log(`session records: writing again`);
              this.#failing = null;
            }
            backoff = 0;
          } catch (e) {
            const msg = (e as Error).message;
            if (this.#failing === null) {
              this.#log(`cannot write record ${r.id}: ${msg}; retrying`);
            }
            this.#failing = msg;
            failed(e);
            entry.next ??= r;
            backoff = Math.min(Math.max(backoff * 2, 100), MAX_BACKOFF_MS);
            await new Promise((res) => setTimeout(res, backoff));
          }
        }
      } finally {
        this.#pending.delete(rec.id);
      }
    })();
    entry.running = Promise.race([loop, firstFailure]);
    // Only the caller hears of the failure; the retries go on regardless.
    entry.running.catch(() => {});
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

  /**
   * Waits for every scheduled write, for at most `timeoutMs` (a write that
   * keeps failing, e.g. on a full disk, is given up then and reported).
   */
  async flush(timeoutMs = Infinity): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#log(
          `gave up writing ${this.#pending.size} session record(s): ${this.#failing ?? "too slow"}`,
        );
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#pending.values()].map((p) => p.running.catch(() => {}))),
        new Promise((r) => (timer = setTimeout(r, Math.min(left, 100)))),
      ]);
      clearTimeout(timer);
    }
  }

  async #write(rec: SessionRecord): Promise<void> {
    const final = recordPath(this.#paths, rec.id);
    const data = this.#encoder.encode(JSON.stringify(rec, null, 2) + "\n");
    const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
    const tmp = `${this.#paths.sessionsDir}/.${rec.id}.${rand}.tmp`;
    try {
      const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
      try {
        let off = 0;
        while (off < data.length) off += await file.write(data.subarray(off));
        await file.syncData();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, final);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      if (!isNoSpace(e) || !(await this.#writeInPlace(final, data))) throw e;
    }
  }

  /**
   * Overwrites a record file in place when `data` fits in the space already
   * allocated to it (no new block is needed, so it works on a full disk).
   * Not atomic: only used when the atomic write cannot be done at all.
   */
  async #writeInPlace(path: string, data: Uint8Array): Promise<boolean> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true });
    } catch {
      return false;
    }
    try {
      const st = await file.stat();
      const room = st.blocks !== null ? st.blocks * 512 : st.size;
      if (data.length > room) return false;
      let off = 0;
      while (off < data.length) off += await file.write(data.subarray(off));
      await file.truncate(data.length);
      await file.syncData();
      return true;
    } catch {
      return false;
    } finally {
      file.close();
    }
  }
}
