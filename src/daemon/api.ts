/**
 * The request handlers: validate each request's fields and call into the
 * manager. One entry per request type of {@linkcode Api}.
 *
 * @module
 */

import type {
  Api,
  DaemonStatus,
  EventPush,
  LinesPush,
  RequestType,
  ResourceStatus,
  SendProgressPush,
  SessionEvent,
  SessionRecord,
  SessionStatus,
  SessionUsage,
  UsagePush,
} from "../protocol.ts";
import { isFrameSub, MAX_SEND_TEXT_BYTES, ProtocolError, STATUSES } from "../protocol.ts";
import { Buffer } from "node:buffer";
import { isLifecycleEvent, type Manager } from "./manager.ts";
import { notRunning, type Session } from "./session.ts";
import type { Attachments } from "./attach.ts";
import type { Notifications } from "./notifications.ts";
import { deliver, READY_WAIT_MS, type SendRequest, untilStarted } from "./send.ts";
import type { Governor } from "./governor.ts";
import { machineMemory } from "./resources.ts";
import { RECENT_MS } from "./usage.ts";
import { fileLines, logLines, streamLines } from "./streams.ts";
import { listLogFiles, loggedSessions } from "../log_format.ts";

import type { Handler } from "./server.ts";
import { optBool, optInt, optNum, optStr, optStrArray, str, strRecord } from "./_validate.ts";

/** What the handlers need besides the manager. */
export interface ApiContext {
  manager: Manager;
  attachments: Attachments;
  notifications: Notifications;
  /** Facts about the daemon for `status`. */
  daemonInfo(): Omit<DaemonStatus, "sessions" | "configWarnings" | "uptimeMs">;
  /** Starts a graceful shutdown after the reply went out. */
  requestShutdown(): void;
  /** Hibernation, enforcement and usage pushes. */
  governor?: Governor;
}

/** `memory`/`cpu` of `new`: a positive number, null (no limit), or absent. */
function optLimit(
  msg: Record<string, unknown>,
  key: string,
  integer: boolean,
): number | null | undefined {
  const v = msg[key];
  if (v === undefined || v === null) return v;
  if (typeof v !== "number" || !(v > 0) || (integer && !Number.isSafeInteger(v))) {
    throw new ProtocolError(
      "bad_request",
      `"${key}" must be a positive ${
        integer ? "integer (bytes)" : "number (percent of one core)"
      } or null`,
    );
  }
  return v;
}

/**
 * Records with the usage of the live ones (measured once for all, or
 * figures up to {@linkcode RECENT_MS} old).
 */
async function withUsage(m: Manager, sessions: Session[]): Promise<SessionRecord[]> {
  const usage = await m.usage(sessions.filter((s) => s.live), { maxAgeMs: RECENT_MS });
  return sessions.map((s) => {
    const u = usage.get(s.id);
    return u ? { ...s.record, usage: u } : s.record;
  });
}

/** The resource section of `status`: limits, enforcement, hibernation, usage totals. */
async function resourceStatus(m: Manager): Promise<ResourceStatus> {
  const live = m.sessions.filter((s) => s.live);
  const usage = await m.usage(live, { maxAgeMs: RECENT_MS });
  let rss = 0;
  let cpu: number | null = null;
  let processes = 0;
  for (const u of usage.values()) {
    rss += u.rss;
    processes += u.processes;
    if (u.cpu !== null) cpu = Math.round(((cpu ?? 0) + u.cpu) * 10) / 10;
  }
  const c = m.config;
  const gov = m.governance;
  return {
    enforcement: gov.kind,
    enforcementDetail: gov.detail,
    limits: { memory: c.limits.memory, cpu: c.limits.cpu },
    maxLive: c.limits.maxLive,
    whenFull: c.limits.whenFull,
    hibernateAfterMinutes: c.hibernate.afterMinutes,
    usage: { rss, cpu, processes, sessions: usage.size },
    machine: machineMemory(),
  };
}

type Handlers = { [K in RequestType]: Handler };

/** Builds the handler table. */
export function createHandlers(ctx: ApiContext): Map<string, Handler> {
  const m = ctx.manager;
  const attachments = ctx.attachments;
  const handlers: Handlers = {
    status: async (): Promise<Api["status"]["result"]> => {
      const info = ctx.daemonInfo();
      const byStatus: Partial<Record<SessionStatus, number>> = {};
      let live = 0;
      let exited = 0;
      for (const s of m.sessions) {
        byStatus[s.record.status] = (byStatus[s.record.status] ?? 0) + 1;
        if (s.live) live++;
        else exited++;
      }
      return {
        ...info,
        uptimeMs: Date.now() - Date.parse(info.started),
        sessions: { live, exited, byStatus },
        configWarnings: m.configWarnings,
        logHeldBack: m.logs.heldBack(),
        recordsFailing: m.recordsFailing,
        notify: await ctx.notifications.status(),
        resources: await resourceStatus(m),
      };
    },

    new: async (msg): Promise<Api["new"]["result"]> => {
      const params: Api["new"]["params"] = {
        cwd: str(msg, "cwd"),
        ...(msg.env === undefined ? {} : { env: strRecord(msg, "env") }),
      };
      const name = optStr(msg, "name");
      if (name !== undefined) params.name = name;
      const args = optStrArray(msg, "args");
      if (args !== undefined) params.args = args;
      const cols = optInt(msg, "cols", 1, 1000);
      if (cols !== undefined) params.cols = cols;
      const rows = optInt(msg, "rows", 1, 1000);
      if (rows !== undefined) params.rows = rows;
      const resume = optStr(msg, "resume");
      if (resume !== undefined) params.resume = resume;
      const sessionId = optStr(msg, "sessionId");
      if (sessionId !== undefined) params.sessionId = sessionId;
      const tags = optStrArray(msg, "tags");
      if (tags !== undefined) params.tags = tags;
      const memory = optLimit(msg, "memory", true);
      if (memory !== undefined) params.memory = memory;
      const cpu = optLimit(msg, "cpu", false);
      if (cpu !== undefined) params.cpu = cpu;
      const s = await m.create(params);
      const notices = await m.noticesFor(s);
      return notices.length > 0 ? { session: s.record, notices } : { session: s.record };
    },

    resume: async (msg): Promise<Api["resume"]["result"]> => {
      const env = msg.env === undefined ? undefined : strRecord(msg, "env");
      const s = await m.resume(str(msg, "session"), env);
      return { session: s.record };
    },

    ls: async (msg): Promise<Api["ls"]["result"]> => {
      const all = optBool(msg, "all") ?? false;
      const tag = optStr(msg, "tag");
      const chosen = m.sessions.filter((s) =>
        (all || s.open) && (tag === undefined || s.record.tags?.includes(tag))
      );
      const full = optBool(msg, "usage") ? await withUsage(m, chosen) : chosen.map((s) => s.record);
      const sessions = optBool(msg, "brief")
        ? full.map((r) => ({ ...r, history: r.history.slice(-1), runs: r.runs.slice(-1) }))
        : full;
      const logHeldBack: Record<string, string> = {};
      for (const h of m.logs.heldBack()) logHeldBack[h.id] = h.error;
      return { sessions, shortLength: m.shortLength(), logHeldBack };
    },

    tag: (msg): Api["tag"]["result"] => {
      const add = optStrArray(msg, "add") ?? [];
      const remove = optStrArray(msg, "remove") ?? [];
      return { session: m.tag(str(msg, "session"), add, remove).record };
    },

    hibernate: async (msg): Promise<Api["hibernate"]["result"]> => {
      const s = await m.hibernate(str(msg, "session"), "by hand");
      return { session: s.record };
    },

    wake: async (msg): Promise<Api["wake"]["result"]> => {
      const s = await m.wake(str(msg, "session"));
      return { session: s.record };
    },

    get: (msg): Api["get"]["result"] => ({ session: m.resolve(str(msg, "session")).record }),

    kill: async (msg): Promise<Api["kill"]["result"]> => {
      const s = await m.kill(str(msg, "session"));
      return { session: s.record };
    },

    rm: async (msg): Promise<Api["rm"]["result"]> => ({
      id: await m.remove(str(msg, "session"), optBool(msg, "keepLogs") ?? false),
    }),

    input: (msg, conn): Api["input"]["result"] => {
      const s = m.resolve(str(msg, "session"));
      const data = decodeBase64(str(msg, "data"));
      const att = attachments.find(conn, s.id);
      if (att) attachments.input(att, data);
      else s.write(data);
      return { bytes: data.length };
    },

    resize: (msg, conn): Api["resize"]["result"] => {
      const s = m.resolve(str(msg, "session"));
      const cols = optInt(msg, "cols", 1, 1000);
      const rows = optInt(msg, "rows", 1, 1000);
      if (cols === undefined || rows === undefined) {
        throw new ProtocolError("bad_request", '"cols" and "rows" are required');
      }
      if (!s.live) throw new ProtocolError("invalid_state", notRunning(s.record));
      const att = attachments.find(conn, s.id);
      if (att) attachments.resize(att, cols, rows);
      else s.resize(cols, rows);
      return {};
    },

    attach: async (msg, conn, id): Promise<Api["attach"]["result"]> => {
      const s = m.resolve(str(msg, "session"));
      if (attachments.find(conn, s.id)) {
        throw new ProtocolError("invalid_state", "this connection is already attached to it");
      }
      const readOnly = optBool(msg, "readOnly") ?? false;
      const cols = optInt(msg, "cols", 1, 1000) ?? s.record.cols;
      const rows = optInt(msg, "rows", 1, 1000) ?? s.record.rows;
      const binary = optBool(msg, "binary") ?? false;
      if (binary && !isFrameSub(id)) {
        throw new ProtocolError(
          "bad_request",
          'attach with "binary" needs an "id" that is an integer from 0 to 4294967295',
        );
      }
      await m.settled(s.id);
      if (s.record.status === "hibernated") {
        // Its last screen at once; the live one once Claude is back.
        const last = await s.lastScreen();
        if (last !== null) {
          conn.send({
            type: "screen",
            sub: id,
            data: last,
            cols: s.record.cols,
            rows: s.record.rows,
          });
        }
        const woken = await m.wake(s.id);
        if (woken.record.status === "queued") {
          throw new ProtocolError("invalid_state", notRunning(woken.record));
        }
        await untilStarted(m, woken, Date.now() + READY_WAIT_MS, true);
      }
      await attachments.attach(s, conn, id, { readOnly, cols, rows, binary });
      return { session: s.record, detachKey: m.config.detachKey };
    },

    redraw: async (msg, conn): Promise<Api["redraw"]["result"]> => {
      const s = m.resolve(str(msg, "session"));
      const att = attachments.find(conn, s.id);
      if (!att) throw new ProtocolError("invalid_state", "not attached to this session");
      await att.redraw(false);
      return {};
    },

    detach: (msg, conn): Api["detach"]["result"] => {
      const s = m.resolve(str(msg, "session"));
      const att = attachments.find(conn, s.id);
      if (!att) throw new ProtocolError("invalid_state", "not attached to this session");
      attachments.detach(att);
      return {};
    },

    send: async (msg, conn, id): Promise<Api["send"]["result"]> => {
      const text = optStr(msg, "text");
      if (text !== undefined && text.length > MAX_SEND_TEXT_BYTES / 3) {
        const bytes = new TextEncoder().encode(text).length;
        if (bytes > MAX_SEND_TEXT_BYTES) {
          throw new ProtocolError(
            "too_large",
            `text too long to send: ${bytes} bytes; send takes at most ${MAX_SEND_TEXT_BYTES}`,
          );
        }
      }
      const s = m.resolve(str(msg, "session"));
      const req: SendRequest = {
        keys: optStrArray(msg, "keys") ?? [],
        enter: optBool(msg, "enter") ?? false,
        wait: optBool(msg, "wait") ?? false,
      };
      if (text !== undefined) req.text = text;
      const timeoutMs = optNum(msg, "timeoutMs", 0, 365 * 86400_000);
      if (timeoutMs !== undefined) req.timeoutMs = timeoutMs;
      return await deliver(m, s, req, (state, message) => {
        const push: SendProgressPush = { type: "progress", sub: id, state, message };
        conn.send(push);
      });
    },

    peek: async (msg): Promise<Api["peek"]["result"]> => {
      const s = m.resolve(str(msg, "session"));
      const ansi = optBool(msg, "ansi") ?? false;
      const lines = optInt(msg, "lines", 1, 1_000_000);
      const opts: { ansi: boolean; lines?: number } = { ansi };
      if (lines !== undefined) opts.lines = lines;
      const text = await s.peek(opts);
      return { text, cols: s.record.cols, rows: s.record.rows, status: s.record.status };
    },

    events: (msg, conn, id): Api["events"]["result"] => {
      const ref = optStr(msg, "session");
      const snapshot = optBool(msg, "snapshot") ?? false;
      const only = ref === undefined ? null : m.resolve(ref).id;
      // Subscribed, and the sessions read, in the same turn: the snapshot is
      // exactly as of event `m.seq`, and the first push is the next one.
      const unsubscribe = m.subscribe((event, seq) => {
        if (only !== null && event.id !== only) return;
        if (!snapshot) {
          if (!FREQUENT.has(event.event)) conn.send({ type: "event", sub: id, event });
          return;
        }
        const push: EventPush = { type: "event", sub: id, event, seq };
        if (event.event !== "activity" && event.event !== "removed") {
          const s = m.byId(event.id);
          if (s) push.session = s.record;
        }
        conn.send(push);
      });
      conn.onClose(unsubscribe);
      if (optBool(msg, "usage") && ctx.governor) {
        conn.onClose(ctx.governor.subscribeUsage((usage) => {
          const sessions: Record<string, SessionUsage> = {};
          for (const [sid, u] of usage) if (only === null || sid === only) sessions[sid] = u;
          const push: UsagePush = { type: "usage", sub: id, sessions };
          conn.send(push);
        }));
      }
      if (!snapshot) return { subscribed: true };
      return {
        subscribed: true,
        seq: m.seq,
        sessions: m.sessions.filter((s) => only === null || s.id === only).map((s) => s.record),
        shortLength: m.shortLength(),
        daemonStarted: ctx.daemonInfo().started,
      };
    },

    wait: (msg, conn): Promise<Api["wait"]["result"]> | Api["wait"]["result"] => {
      const s = m.resolve(str(msg, "session"));
      const until = optStrArray(msg, "until") ?? [];
      if (until.length === 0) throw new ProtocolError("bad_request", '"until" must list statuses');
      for (const u of until) {
        if (!STATUSES.includes(u as SessionStatus)) {
          throw new ProtocolError(
            "bad_request",
            `unknown status "${u}" (one of: ${STATUSES.join(", ")})`,
          );
        }
      }
      const timeoutMs = optNum(msg, "timeoutMs", 0, 365 * 86400_000);
      const next = optBool(msg, "next") ?? false;
      const done = (outcome: Api["wait"]["result"]["outcome"]) => ({ outcome, session: s.record });
      const outcome = s.record.status === "exited"
        ? (until.includes("exited") ? "reached" : "exited")
        : !next && until.includes(s.record.status)
        ? "reached"
        : null;
      if (outcome) {
        // An exit is answered once its log is on disk (it may have just happened).
        return s.record.status === "exited"
          ? m.logs.flush(s.id).then(() => done(outcome))
          : done(outcome);
      }
      return new Promise((resolve) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const finish = (outcome: Api["wait"]["result"]["outcome"]) => {
          unsubscribe();
          clearTimeout(timer);
          resolve(done(outcome));
        };
        const unsubscribe = m.subscribe((ev) => {
          if (ev.id !== s.id || !isLifecycleEvent(ev)) return;
          // With `next`, only a change counts (not e.g. a `started` event).
          if (next && ev.event !== "status" && ev.event !== "exited") return;
          if (until.includes(ev.status)) finish("reached");
          else if (ev.status === "exited") finish("exited");
        });
        if (timeoutMs !== undefined) timer = setTimeout(() => finish("timeout"), timeoutMs);
        conn.onClose(() => {
          unsubscribe();
          clearTimeout(timer);
        });
      });
    },

    log: async (msg, conn, id): Promise<Api["log"]["result"]> => {
      const ref = str(msg, "session");
      const follow = optBool(msg, "follow") ?? false;
      const dir = m.logs.dir;
      let target: { id: string; record: SessionRecord | null };
      try {
        const s = m.resolve(ref);
        target = { id: s.id, record: s.record };
      } catch (e) {
        // A session whose record went (rm --keep-logs): by its id among the logs.
        if (!(e instanceof ProtocolError) || e.code !== "not_found") throw e;
        const upper = ref.trim().toUpperCase();
        const ids = [...await loggedSessions(dir)].filter((i) => i.startsWith(upper));
        if (ids.length !== 1) throw e;
        target = { id: ids[0]!, record: null };
      }
      const live = target.record !== null && target.record.status !== "exited";
      if (!live && (await listLogFiles(dir, target.id)).length === 0) {
        throw new ProtocolError(
          "not_found",
          `session ${target.id} has no log (logging is off, or retention deleted it)`,
        );
      }
      const stop = new AbortController();
      conn.onClose(() => stop.abort());
      const lines = logLines(dir, target.id, follow, stop.signal, (notice) => {
        const push: LinesPush = { type: "lines", sub: id, lines: [], notice };
        conn.send(push);
      });
      // After the reply has gone out.
      setTimeout(() => {
        streamLines(conn, id, lines, follow).catch((e) => {
          if (!conn.closed) conn.drop(`log stream failed: ${(e as Error).message}`);
        });
      }, 0);
      return target;
    },

    transcript: async (msg, conn, id): Promise<Api["transcript"]["result"]> => {
      const s = m.resolve(str(msg, "session"));
      const path = s.record.transcriptPath;
      if (!path) {
        throw new ProtocolError(
          "not_found",
          `session ${s.id} never reported a transcript (Claude reports it through its hooks)`,
        );
      }
      let lines: AsyncGenerator<string>;
      try {
        await Deno.stat(path);
        lines = fileLines(path);
      } catch (e) {
        throw new ProtocolError(
          "not_found",
          `the transcript of session ${s.id} is gone: ${path} (${(e as Error).message})`,
        );
      }
      setTimeout(() => {
        streamLines(conn, id, lines, false).catch((e) => {
          if (!conn.closed) conn.drop(`transcript stream failed: ${(e as Error).message}`);
        });
      }, 0);
      return { session: s.record, path };
    },

    notifyTest: async (): Promise<Api["notifyTest"]["result"]> => {
      await m.reloadConfig(true);
      const notification = await ctx.notifications.test();
      return { notification, enabled: m.config.notify.enabled };
    },

    shutdown: (): Api["shutdown"]["result"] => {
      ctx.requestShutdown();
      return { pid: Deno.pid };
    },
  };
  return new Map(Object.entries(handlers));
}

/** Event kinds sent only to subscribers that asked for a snapshot (they come often). */
const FREQUENT = new Set<SessionEvent["event"]>(["activity", "updated"]);

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) {
    throw new ProtocolError("bad_request", '"data" must be base64');
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}
