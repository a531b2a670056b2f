/**
 * The request handlers: validate each request's fields and call into the
 * manager. One entry per request type of {@linkcode Api}.
 *
 * @module
 */

import type { Api, DaemonStatus, RequestType, SessionStatus } from "../protocol.ts";
import { ProtocolError, STATUSES } from "../protocol.ts";
import { Buffer } from "node:buffer";
import type { Manager } from "./manager.ts";
import type { Attachments } from "./attach.ts";
import { encodeKey, KEY_NAMES } from "../keys.ts";
import type { Handler } from "./server.ts";
import { optBool, optInt, optNum, optStr, optStrArray, str, strRecord } from "./_validate.ts";

/** What the handlers need besides the manager. */
export interface ApiContext {
  manager: Manager;
  attachments: Attachments;
  /** Facts about the daemon for `status`. */
  daemonInfo(): Omit<DaemonStatus, "sessions" | "configWarnings" | "uptimeMs">;
  /** Starts a graceful shutdown after the reply went out. */
  requestShutdown(): void;
}

type Handlers = { [K in RequestType]: Handler };

/** Builds the handler table. */
export function createHandlers(ctx: ApiContext): Map<string, Handler> {
  const m = ctx.manager;
  const attachments = ctx.attachments;
  const handlers: Handlers = {
    status: (): Api["status"]["result"] => {
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
      };
    },

    new: async (msg): Promise<Api["new"]["result"]> => {
      const params: Api["new"]["params"] = {
        cwd: str(msg, "cwd"),
        env: strRecord(msg, "env"),
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
      const s = await m.create(params);
      return { session: s.record };
    },

    resume: async (msg): Promise<Api["resume"]["result"]> => {
      const env = msg.env === undefined ? undefined : strRecord(msg, "env");
      const s = await m.resume(str(msg, "session"), env);
      return { session: s.record };
    },

    ls: (msg): Api["ls"]["result"] => {
      const all = optBool(msg, "all") ?? false;
      const sessions = m.sessions.filter((s) => all || s.live).map((s) => s.record);
      const logHeldBack: Record<string, string> = {};
      for (const h of m.logs.heldBack()) logHeldBack[h.id] = h.error;
      return { sessions, shortLength: m.shortLength(), logHeldBack };
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
      if (!s.live) throw new ProtocolError("invalid_state", `session ${s.id} has exited`);
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
      await attachments.attach(s, conn, id, { readOnly, cols, rows });
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

    send: async (msg): Promise<Api["send"]["result"]> => {
      const s = m.resolve(str(msg, "session"));
      const text = optStr(msg, "text");
      const keys = optStrArray(msg, "keys") ?? [];
      const enter = optBool(msg, "enter") ?? false;
      // Claude reads input that arrives before its prompt is up as a paste
      // (Enter would not submit it): wait until it is ready.
      if (s.record.hooks && s.record.status === "starting") {
        await untilStatusChanges(m, s.id, SEND_WAIT_MS);
      }
      if (!s.live || !s.screen) {
        throw new ProtocolError("invalid_state", `session ${s.id} is not running`);
      }
      const bytes = composeInput(text, keys, enter, {
        bracketedPaste: s.screen.bracketedPaste,
        applicationCursor: s.screen.applicationCursorKeys,
      });
      if (bytes.length === 0) throw new ProtocolError("bad_request", "nothing to send");
      s.write(bytes);
      return { bytes: bytes.length };
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
      const only = ref === undefined ? null : m.resolve(ref).id;
      const unsubscribe = m.subscribe((event) => {
        if (only === null || event.id === only) conn.send({ type: "event", sub: id, event });
      });
      conn.onClose(unsubscribe);
      return { subscribed: true };
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
      const done = (outcome: Api["wait"]["result"]["outcome"]) => ({ outcome, session: s.record });
      const outcome = until.includes(s.record.status) ? "reached" : !s.live ? "exited" : null;
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
          if (ev.id !== s.id) return;
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

    shutdown: (): Api["shutdown"]["result"] => {
      ctx.requestShutdown();
      return { pid: Deno.pid };
    },
  };
  return new Map(Object.entries(handlers));
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** How long `send` waits for a starting Claude session to become ready. */
const SEND_WAIT_MS = 60_000;

/** Resolves at the session's next status change, or after `ms`. */
function untilStatusChanges(m: Manager, id: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      unsubscribe();
      clearTimeout(timer);
      resolve();
    };
    const unsubscribe = m.subscribe((ev) => {
      if (ev.id === id && ev.event === "status") done();
    });
    const timer = setTimeout(done, ms);
  });
}

function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) {
    throw new ProtocolError("bad_request", '"data" must be base64');
  }
  return new Uint8Array(Buffer.from(text, "base64"));
}

/**
 * The bytes `send` types: text (as a bracketed paste when the program enabled
 * it, so multi-line or long text is not taken for typed keys), then named
 * keys, then Enter.
 * @throws {ProtocolError} `bad_request` for an unknown key name
 */
export function composeInput(
  text: string | undefined,
  keys: string[],
  enter: boolean,
  modes: { bracketedPaste: boolean; applicationCursor: boolean },
): Uint8Array {
  let out = "";
  if (text !== undefined && text.length > 0) {
    out += modes.bracketedPaste
      ? `\x1b[200~${text.replaceAll("\x1b[201~", "")}\x1b[201~`
      : text.replaceAll("\r\n", "\r").replaceAll("\n", "\r");
  }
  for (const k of keys) {
    const enc = encodeKey(k, { applicationCursor: modes.applicationCursor });
    if (enc === null) {
      throw new ProtocolError(
        "bad_request",
        `unknown key "${k}" (keys: ${KEY_NAMES.join(", ")})`,
      );
    }
    out += enc;
  }
  if (enter) out += "\r";
  return new TextEncoder().encode(out);
}
