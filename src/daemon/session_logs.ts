/**
 * The daemon's session I/O logs: one {@linkcode LogWriter} per running
 * session, fed by the session's own output, input and resize listeners (so
 * logging does not depend on any client being attached), plus lifecycle
 * event lines, repair of torn files at start, reopening on SIGHUP, deletion
 * with `rm`, and retention (`log.retentionDays`, at start and daily).
 *
 * @module
 */

import type { LogConfig } from "../config.ts";
import { type LogFile, parseLogFileName } from "../log_format.ts";
import type { SessionEvent, SessionRecord } from "../protocol.ts";
import { compressArchives, LogBudget, LogWriter, repairLog } from "./log_writer.ts";
import { stopGzipWorker } from "./_gzip.ts";
import { TIMED_OUT, within } from "../async.ts";
import type { Session } from "./session.ts";

const DAY_MS = 86_400_000;
/** At shutdown, how long a log whose writes fail still gets to finish. */
const FAILING_GRACE_MS = 2000;

interface Active {
  writer: LogWriter;
  unsubscribe: (() => void)[];
}

/** Every session's log. */
export class SessionLogs {
  readonly #dir: string;
  readonly #settings: () => LogConfig;
  readonly #log: (msg: string) => void;
  readonly #active = new Map<string, Active>();
  /** Writers still flushing after their session exited. */
  readonly #closing = new Map<string, Promise<void>>();
  readonly #closingWriters = new Map<string, LogWriter>();
  #retentionTimer: ReturnType<typeof setInterval> | null = null;
  #background: Promise<void> = Promise.resolve();
  /** Log bytes waiting for the disk, all sessions together (bounded). */
  readonly #budget = new LogBudget();

  /**
   * @param dir the logs directory
   * @param settings the `log` config in effect (read at each use)
   * @param log the daemon's log
   */
  constructor(dir: string, settings: () => LogConfig, log: (msg: string) => void) {
    this.#dir = dir;
    this.#settings = settings;
    this.#log = log;
  }

  /** The directory of the log files. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Starts logging a session (call before it starts, so no byte is missed).
   * Does nothing when `log.enabled` is false.
   */
  attach(session: Session): void {
    if (!this.#settings().enabled || this.#active.has(session.id)) return;
    const writer = new LogWriter({
      dir: this.#dir,
      id: session.id,
      settings: this.#settings,
      hold: () => session.holdOutput(),
      log: this.#log,
      budget: this.#budget,
    });
    this.#active.set(session.id, {
      writer,
      unsubscribe: [
        session.onOutput((chunk) => writer.output(chunk)),
        session.onInput((chunk) => writer.input(chunk)),
        session.onResize((cols, rows) => writer.resize(cols, rows)),
      ],
    });
  }

  /** Writes lifecycle event lines; closes a session's log once it has exited. */
  handle(ev: SessionEvent, rec: SessionRecord | undefined): void {
    const active = this.#active.get(ev.id);
    if (!active) return;
    const w = active.writer;
    switch (ev.event) {
      case "started": {
        const run = rec?.runs.at(-1);
        w.event("start", {
          pid: rec?.pid ?? null,
          command: rec?.command,
          args: rec?.args,
          cwd: rec?.cwd,
          cols: rec?.cols,
          rows: rec?.rows,
          run: rec?.runs.length ?? 1,
          resumed: run?.resumed ?? false,
        });
        break;
      }
      case "status": {
        const fields: Record<string, unknown> = {
          status: ev.status,
          previous: ev.previous,
          source: ev.source,
        };
        if (ev.detail !== undefined) fields.detail = ev.detail;
        w.event("status", fields);
        break;
      }
      case "exited":
        w.event("exit", {
          exitCode: ev.exitCode ?? null,
          signal: ev.signal ?? null,
          exitReason: ev.exitReason ?? null,
        });
        this.#finish(ev.id, active);
        break;
    }
  }

  /**
   * Resolves once a session's logged output is on disk (at most `timeoutMs`
   * later, and at once while writing fails, e.g. on a full disk: that must
   * not keep a session from being marked exited; the rest follows once the
   * disk takes it).
   */
  async flush(id: string, timeoutMs = 5000): Promise<void> {
    const writer = this.#active.get(id)?.writer ?? this.#closingWriters.get(id);
    if (!writer) return;
    const done = writer.failing === null ? await within(writer.flush(), timeoutMs) : TIMED_OUT;
    if (done === TIMED_OUT) {
      this.#log(
        `log of ${id}: not all output is on disk yet (${writer.buffered} bytes wait` +
          `${writer.failing ? `: ${writer.failing}` : ""}); it follows when the disk takes it`,
      );
    }
  }

  /** Sessions whose log output is held back because writing fails (e.g. a full disk). */
  heldBack(): { id: string; error: string; bytes: number }[] {
    const out: { id: string; error: string; bytes: number }[] = [];
    const writers = new Map([...this.#closingWriters]);
    for (const [id, a] of this.#active) writers.set(id, a.writer);
    for (const [id, w] of writers) {
      if (w.failing !== null) out.push({ id, error: w.failing, bytes: w.buffered });
    }
    return out;
  }

  /** Stops logging a session (e.g. its start failed), discarding what is buffered. */
  async discard(id: string): Promise<void> {
    const active = this.#active.get(id);
    if (!active) return;
    this.#active.delete(id);
    for (const fn of active.unsubscribe) fn();
    await active.writer.abort();
  }

  #finish(id: string, active: Active): void {
    this.#active.delete(id);
    for (const fn of active.unsubscribe) fn();
    this.#closingWriters.set(id, active.writer);
    const done = active.writer.close().finally(() => {
      this.#closing.delete(id);
      this.#closingWriters.delete(id);
    });
    this.#closing.set(id, done);
  }

  /**
   * At daemon start: cuts torn last lines, removes leftover temp files,
   * notes in the log of each session found `lost` how it ended, compresses
   * archives a dead daemon left plain, then applies retention and schedules
   * it daily.
   */
  async restore(records: () => SessionRecord[], lost: SessionRecord[]): Promise<void> {
    const files = await this.#scan(true);
    for (const id of files.keys()) {
      await repairLog(this.#dir, id, this.#log);
      const rec = lost.find((r) => r.id === id);
      if (!rec) continue;
      // The log of a session whose daemon died says how it ended.
      const writer = new LogWriter({
        dir: this.#dir,
        id,
        settings: this.#settings,
        hold: () => () => {},
        log: this.#log,
      });
      writer.event("exit", { exitCode: null, signal: null, exitReason: rec.exitReason });
      await writer.close();
    }
    const deleted = new Set(await this.sweep(records()));
    const plain = [...files].filter(([id, list]) =>
      !deleted.has(id) && list.some((f) => f.n >= 2 && !f.gz)
    );
    this.#background = (async () => {
      for (const [id] of plain) {
        await compressArchives(this.#dir, id).catch((e) =>
          this.#log(`logs of ${id}: cannot compress an archive: ${(e as Error).message}`)
        );
      }
    })();
    const timer = setInterval(() => {
      this.sweep(records()).catch((e) =>
        this.#log(`log retention failed: ${(e as Error).message}`)
      );
    }, DAY_MS);
    Deno.unrefTimer(timer as unknown as number);
    this.#retentionTimer = timer;
  }

  /** Log files by session id, in one pass over the directory (optionally removing temp files). */
  async #scan(removeTemp = false): Promise<Map<string, LogFile[]>> {
    const byId = new Map<string, LogFile[]>();
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (!e.isFile) continue;
        if (removeTemp && e.name.endsWith(".tmp")) {
          await Deno.remove(`${this.#dir}/${e.name}`).catch(() => {});
          continue;
        }
        const f = parseLogFileName(e.name);
        if (!f) continue;
        const list = byId.get(f.id) ?? [];
        list.push(f);
        byId.set(f.id, list);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return byId;
  }

  /**
   * Deletes the logs of sessions that exited more than `log.retentionDays`
   * ago, and of sessions without a record whose files were last written
   * that long ago. Resolves with the ids whose logs were deleted.
   */
  async sweep(records: SessionRecord[], at: number = Date.now()): Promise<string[]> {
    const days = this.#settings().retentionDays;
    if (!(days > 0)) return [];
    const cutoff = at - days * DAY_MS;
    const byId = new Map(records.map((r) => [r.id, r]));
    const deleted: string[] = [];
    for (const [id, files] of await this.#scan()) {
      if (this.#active.has(id) || this.#closing.has(id)) continue;
      const rec = byId.get(id);
      let old: boolean;
      if (rec) {
        if (rec.status !== "exited") continue;
        const ended = Date.parse(rec.runs.at(-1)?.ended ?? rec.statusSince);
        old = Number.isFinite(ended) && ended < cutoff;
      } else {
        let newest = 0;
        for (const f of files) {
          const st = await Deno.stat(`${this.#dir}/${f.name}`).catch(() => null);
          newest = Math.max(newest, st?.mtime?.getTime() ?? 0);
        }
        old = newest < cutoff;
      }
      if (!old) continue;
      for (const f of files) await removeIfThere(`${this.#dir}/${f.name}`);
      deleted.push(id);
    }
    if (deleted.length > 0) {
      this.#log(
        `log retention: deleted the logs of ${deleted.length} session(s) ` +
          `ended more than ${days} day(s) ago`,
      );
    }
    return deleted;
  }

  /** Deletes every log file of a session (stopping its writer first). */
  async remove(id: string): Promise<void> {
    await this.discard(id);
    await this.#closing.get(id);
    await this.#background;
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (e.name.startsWith(`${id}.`) && e.isFile) {
          await removeIfThere(`${this.#dir}/${e.name}`);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** Reopens every open log file (SIGHUP, after an outside tool moved them). */
  reopen(): void {
    for (const a of this.#active.values()) a.writer.reopen();
  }

  /**
   * Writes out and closes every log (at shutdown, after the sessions have
   * stopped), giving up — and reporting what was lost — on a writer that
   * cannot finish within `timeoutMs`, or within {@linkcode FAILING_GRACE_MS}
   * while its writes fail (a full disk must not hold the daemon past its
   * stop timeout).
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    this.#retentionTimer = null;
    const writers = [...this.#closingWriters.values()];
    for (const a of this.#active.values()) {
      for (const fn of a.unsubscribe) fn();
      writers.push(a.writer);
    }
    this.#active.clear();
    const closing = writers.map((w) =>
      w.close(w.failing !== null ? Math.min(timeoutMs, FAILING_GRACE_MS) : timeoutMs)
    );
    await Promise.allSettled([...closing, ...this.#closing.values(), this.#background]);
    stopGzipWorker();
  }
}

async function removeIfThere(path: string): Promise<void> {
  await Deno.remove(path).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}
