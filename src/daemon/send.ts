/**
 * `send`: typing into a session without attaching — and, for a Claude
 * session, knowing that Claude took the prompt, and optionally waiting for
 * its answer.
 *
 * Typing into Claude is not fire-and-forget: text that arrives before its
 * input line is up is lost or taken for a paste whose Enter does not submit.
 * So for a Claude session (one with hooks) the text goes in only once the
 * session is ready (`waiting_input` means its prompt is up: see
 * `Session.canType`), as a bracketed paste, and Enter follows as a separate
 * keystroke once Claude has echoed the paste. Then the daemon waits for
 * Claude to confirm: its `UserPromptSubmit` hook with this prompt, or its
 * starting to work (the state file), or — for a command — the text leaving
 * its input line. If the text still sits in the input box, Enter is pressed
 * again (at most {@linkcode MAX_RETRIES} times); if that does not take, the
 * send fails saying what is left there.
 *
 * @module
 */

import type { SendResult, SessionEvent, TurnResult } from "../protocol.ts";
import { ProtocolError } from "../protocol.ts";
import { isLifecycleEvent, type Manager } from "./manager.ts";
import { notRunning, type Observation, type Session } from "./session.ts";
import { encodeKey, KEY_NAMES } from "../keys.ts";
import { boxShows, claudeInputBox, squash } from "./claude_screen.ts";
import { within } from "../async.ts";
import { describeWait } from "../session_view.ts";

/** How long a send waits for a starting Claude session to be ready. */
export const READY_WAIT_MS = 60_000;
/** How long each Enter has to be confirmed before the input box is looked at. */
export const CONFIRM_MS = 3_000;
/** Extra Enter presses for text left sitting in Claude's input box. */
export const MAX_RETRIES = 2;
/** How long the answer (Stop hook) may trail the end of a turn (state file). */
const STOP_HOOK_GRACE_MS = 2_000;
/** How long to wait for Claude to echo a paste before pressing Enter. */
const ECHO_MS = 500;

/** A send, validated. */
export interface SendRequest {
  text?: string;
  keys: string[];
  enter: boolean;
  wait: boolean;
  timeoutMs?: number;
}

/** Told when Claude queued the prompt (it was busy). */
export type ProgressFn = (state: "queued", message: string) => void;

/**
 * Everything about one session that happens while a send runs: its
 * observations and status events, in order, so a condition can be checked
 * against them as they arrive (no polling, nothing missed in between).
 */
class Watch {
  readonly observations: Observation[] = [];
  readonly events: SessionEvent[] = [];
  #wake: (() => void) | null = null;
  #stop: (() => void)[] = [];

  constructor(m: Manager, s: Session) {
    this.#stop.push(s.onObservation((o) => {
      this.observations.push(o);
      this.#wake?.();
    }));
    this.#stop.push(m.subscribe((ev) => {
      if (ev.id !== s.id || !isLifecycleEvent(ev)) return;
      this.events.push(ev);
      this.#wake?.();
    }));
  }

  /**
   * Re-checks `test` at every observation or event until it answers, or
   * `deadline` (ms); also every `recheckMs` when given (for a condition that
   * turns true with time).
   */
  async until<T>(
    test: () => T | undefined,
    deadline: number,
    recheckMs = Infinity,
  ): Promise<T | undefined> {
    while (true) {
      const r = test();
      if (r !== undefined) return r;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await within(
        new Promise<void>((w) => (this.#wake = w)),
        Math.min(left, recheckMs, 2 ** 31 - 1),
      );
      this.#wake = null;
    }
  }

  close(): void {
    for (const f of this.#stop) f();
  }
}

/** Sends `req` to `s`; see the module documentation. */
export async function deliver(
  m: Manager,
  s: Session,
  req: SendRequest,
  progress: ProgressFn,
): Promise<SendResult> {
  const deadline = req.timeoutMs !== undefined ? Date.now() + req.timeoutMs : Infinity;
  const claude = s.record.hooks;
  if (req.wait && !claude) {
    throw new ProtocolError(
      "bad_request",
      `session ${s.id} runs ${s.record.command}, which reports no turns (no hooks): ` +
        "--wait needs a Claude session",
    );
  }
  // No hibernation while it runs. A hibernated session is woken first (once
  // a hibernation under way has ended); a queued one (also one woken beyond
  // limits.maxLive) is waited for until it starts.
  const sending = m.sending(s.id);
  let watch: Watch | null = null;
  try {
    await m.settled(s.id);
    if (s.record.status === "hibernated") await m.wake(s.id);
    watch = new Watch(m, s);
    if (s.record.status === "queued") await untilUnqueued(s, watch, deadline);
    if (claude) await untilReady(s, watch, Math.min(deadline, Date.now() + READY_WAIT_MS));
    if (!s.live || !s.screen) {
      throw new ProtocolError("invalid_state", notRunning(s.record));
    }
    const modes = () => ({
      bracketedPaste: s.screen?.bracketedPaste ?? false,
      applicationCursor: s.screen?.applicationCursorKeys ?? false,
    });
    const text = req.text ?? "";
    if (claude && text !== "") refuseDialog(s);
    if (!claude || text === "" || !req.enter) {
      const bytes = composeInput(text, req.keys, req.enter, modes());
      if (bytes.length === 0) throw new ProtocolError("bad_request", "nothing to send");
      const since = Date.now();
      s.write(bytes);
      const out: SendResult = { bytes: bytes.length, delivery: "written" };
      if (req.wait) out.turn = await untilTurnEnds(s, watch, since, deadline);
      return out;
    }
    // In a turn, Claude queues what is typed (background agents alone do not count).
    const busy = s.turnInProgress;
    // The paste (and any keys), then Enter on its own once Claude has echoed
    // it: an Enter in the same read as the text is taken as part of a paste.
    const body = composeInput(text, req.keys, false, modes());
    const sentAt = Date.now();
    s.write(body);
    await s.nextOutput(ECHO_MS);
    s.write(ENTER);
    let bytes = body.length + 1;
    const confirmed = await confirm(s, watch, text, sentAt, busy, deadline, progress, () => {
      s.write(ENTER);
      bytes++;
    });
    const out: SendResult = { bytes, delivery: confirmed.delivery };
    if (confirmed.queued) out.queued = true;
    if (confirmed.retries > 0) out.retries = confirmed.retries;
    if (req.wait) {
      out.turn = confirmed.delivery === "submitted"
        ? await untilTurnEnds(s, watch, confirmed.at, deadline)
        : turnNow(s, sentAt);
    }
    return out;
  } finally {
    watch?.close();
    sending();
  }
}

const ENTER = new Uint8Array([0x0d]);

/** Waits until a queued session starts (or ends). */
async function untilUnqueued(s: Session, watch: Watch, deadline: number): Promise<void> {
  const started = await watch.until(
    () => (s.record.status !== "queued" ? true : undefined),
    deadline,
  );
  if (!started) {
    throw new ProtocolError(
      "timeout",
      `timed out: session ${s.id} is still queued (limits.maxLive)`,
    );
  }
}

/**
 * Waits until `s` leaves `queued` and, with `ready`, `starting` too (a
 * Claude session's prompt is up), or `deadline` (ms).
 * @throws {ProtocolError} `timeout`
 */
export async function untilStarted(
  m: Manager,
  s: Session,
  deadline: number,
  ready: boolean,
): Promise<void> {
  const watch = new Watch(m, s);
  try {
    await untilUnqueued(s, watch, deadline);
    if (ready && s.record.hooks) await untilReady(s, watch, deadline);
  } finally {
    watch.close();
  }
}

/** Waits until a starting Claude session is ready for input (or is waiting for the user). */
async function untilReady(s: Session, watch: Watch, deadline: number): Promise<void> {
  const ready = await watch.until(
    () => (!s.live || s.record.status !== "starting" ? true : undefined),
    deadline,
  );
  if (!ready) {
    throw new ProtocolError(
      Date.now() >= deadline && deadline < Infinity ? "timeout" : "invalid_state",
      `session ${s.id} is still starting: Claude did not become ready for input in time`,
    );
  }
}

/** Text typed into a dialog picks one of its options: refused, saying what to do instead. */
function refuseDialog(s: Session): void {
  if (s.record.status !== "waiting_permission") return;
  const w = s.record.waitingFor;
  const ref = s.record.name ?? s.id;
  if (w?.kind === "folder_trust") {
    throw new ProtocolError(
      "invalid_state",
      `Claude is asking whether to trust the folder ${s.record.cwd}; nothing was typed. ` +
        `Answer it first: claude-sessions attach ${ref}, or trust it with: ` +
        `claude-sessions send ${ref} --keys Down Enter (Enter alone picks "No, exit")`,
    );
  }
  throw new ProtocolError(
    "invalid_state",
    `Claude is waiting for ${describeWait(w)}; nothing was typed. Answer it first: ` +
      `claude-sessions send ${ref} --keys Enter (yes) or --keys Esc (no), or attach`,
  );
}

interface Confirmed {
  delivery: "submitted" | "accepted";
  /** When Claude started on it (ms): its turn began then. */
  at: number;
  queued: boolean;
  retries: number;
}

/**
 * Whether a UserPromptSubmit's prompt is `text` (Claude may wrap a long or
 * multi-line paste, e.g. in `<pasted_content>` marks).
 */
function samePrompt(prompt: string | undefined, text: string): boolean {
  return prompt === undefined || squash(prompt).includes(squash(text));
}

const ENDS_TURN = new Set(["Stop", "StopFailure"]);

/**
 * Waits until Claude confirms it took `text` (typed at `sentAt`): its
 * UserPromptSubmit with this prompt, or its starting to work (the state
 * file), or — for a command, which fires no hook — the session restarting
 * its conversation (`/clear`, `/compact`), opening a dialog (`/model`) or
 * ending (`/exit`), or the text leaving the input line. Claude fires
 * UserPromptSubmit also for a prompt it queues behind the turn in progress:
 * then the prompt counts as taken once that turn ends (Claude takes its
 * queue at once then).
 */
async function confirm(
  s: Session,
  watch: Watch,
  text: string,
  sentAt: number,
  busy: boolean,
  deadline: number,
  progress: ProgressFn,
  pressEnter: () => void,
): Promise<Confirmed> {
  let queuedAt: number | null = null;
  let retries = 0;
  const command = text.trimStart().startsWith("/");
  const mk = (delivery: Confirmed["delivery"], at: number): Confirmed => ({
    delivery,
    at,
    queued: queuedAt !== null,
    retries,
  });
  const taken = (): Confirmed | undefined => {
    for (const o of watch.observations) {
      if (o.at < sentAt - 100) continue;
      if (queuedAt !== null) {
        // The turn it waited behind ended: Claude takes its queue now.
        if (o.at > queuedAt && o.event && ENDS_TURN.has(o.event)) return mk("submitted", o.at);
        continue;
      }
      if (o.event === "UserPromptSubmit" && samePrompt(o.prompt, text)) {
        if (!o.queued) return mk("submitted", o.at);
        queuedAt = o.at;
        progress(
          "queued",
          "Claude is busy: it queued the prompt, and will take it when its current turn ends",
        );
        continue;
      }
      if (o.event === "SessionStart" && /clear|compact/.test(o.detail ?? "")) {
        return mk("accepted", o.at);
      }
    }
    for (const ev of watch.events) {
      const at = Date.parse(ev.at);
      if (ev.event === "exited" || ev.status === "exited") return mk("accepted", at);
      if (queuedAt !== null || at < sentAt - 100 || ev.event !== "status") continue;
      // Claude started working on it (its state file can beat the hook); not
      // for a command, which can show busy for a moment (/clear does).
      if (!busy && !command && ev.status === "running") return mk("submitted", at);
      // A command that opened a dialog (/model, /help…).
      if (ev.status === "waiting_permission" && s.record.waitingFor?.kind === "dialog") {
        return mk("accepted", at);
      }
    }
    if (!s.live) return mk("accepted", Date.now());
    return undefined;
  };
  let emptyLooks = 0;
  let lastEnter = Date.now();
  while (true) {
    const until = queuedAt !== null ? deadline : Math.min(deadline, lastEnter + CONFIRM_MS);
    const got = await watch.until(taken, until);
    if (got) return got;
    if (Date.now() >= deadline) {
      throw new ProtocolError(
        "timeout",
        queuedAt !== null
          ? "timed out: Claude is busy and still holds the prompt in its queue"
          : "timed out before Claude confirmed that it took the prompt",
      );
    }
    const box = claudeInputBox(await s.peek({}).catch(() => ""));
    if (box !== null && boxShows(box, text)) {
      if (retries >= MAX_RETRIES) {
        throw new ProtocolError(
          "not_delivered",
          `Claude did not take the prompt: it is still in its input box ("${clip(box)}"), ` +
            `after ${retries + 1} presses of Enter`,
        );
      }
      retries++;
      pressEnter();
      lastEnter = Date.now();
      continue;
    }
    emptyLooks++;
    if (box === "" && emptyLooks >= 2) {
      // It left the input line and no turn began: a command took it.
      return mk("accepted", Date.now());
    }
    if (box === null && emptyLooks >= 2) {
      throw new ProtocolError(
        "not_delivered",
        "Claude did not confirm the prompt (no UserPromptSubmit hook), and its input box " +
          "is not on the screen: see it with claude-sessions peek",
      );
    }
    lastEnter = Date.now();
  }
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** The state of a turn that did not start (a command, an exit): what holds now. */
function turnNow(s: Session, since: number): TurnResult {
  const rec = s.record;
  const outcome: TurnResult["outcome"] = rec.status === "exited"
    ? "exited"
    : rec.status === "waiting_permission"
    ? "permission"
    : "reply";
  const out: TurnResult = { outcome, session: rec };
  if (outcome === "reply") out.reply = replySince(s, since);
  if (outcome === "permission") out.waitingFor = rec.waitingFor ?? null;
  return out;
}

function replySince(s: Session, since: number): string | null {
  const r = s.lastReply;
  return r && r.at >= since - 100 ? r.text : null;
}

/**
 * Waits for the end of the turn begun at `since` (ms): its Stop or
 * StopFailure hook with no background agent left running (Claude ends a
 * turn, then starts one of its own when its agents finish); Claude waiting
 * for a permission or a dialog; an interruption (Esc: the state file says
 * idle, and no Stop follows); or the session's end. `timeout` at `deadline`.
 */
async function untilTurnEnds(
  s: Session,
  watch: Watch,
  since: number,
  deadline: number,
): Promise<TurnResult> {
  let idleAt: number | null = null;
  let permAt: number | null = null;
  const ended = await watch.until(
    (): TurnResult["outcome"] | undefined => {
      const rec = s.record;
      if (!s.live) return "exited";
      for (const o of watch.observations) {
        if (o.at > since && o.event && ENDS_TURN.has(o.event) && !(o.backgroundTasks ?? 0)) {
          return "reply";
        }
      }
      if (rec.status === "waiting_permission" && Date.parse(rec.statusSince) >= since - 100) {
        // The state file can tell of a permission prompt before the hook that
        // says which tool and command: give the hook a moment.
        permAt ??= Date.now();
        const told = rec.waitingFor?.kind !== "permission" || rec.waitingFor.tool !== undefined;
        if (told || Date.now() - permAt >= STOP_HOOK_GRACE_MS) return "permission";
      } else {
        permAt = null;
      }
      // Idle again without a Stop: interrupted (Esc) — unless the Stop hook
      // (which carries the answer) is only late, or Claude goes on working
      // (it takes its queue right after a turn ends); both get a moment.
      const last = watch.events.findLast((ev) =>
        ev.event === "status" && Date.parse(ev.at) >= since - 100
      );
      if (last?.status !== "waiting_input") idleAt = null;
      else idleAt ??= Date.now();
      if (idleAt !== null && Date.now() - idleAt >= STOP_HOOK_GRACE_MS) return "interrupted";
      return undefined;
    },
    deadline,
    STOP_HOOK_GRACE_MS,
  );
  const rec = s.record;
  if (!ended) return { outcome: "timeout", session: rec };
  const out: TurnResult = { outcome: ended, session: rec };
  if (ended === "reply") {
    out.reply = replySince(s, since);
    if (rec.lastError) out.error = rec.lastError;
  } else if (ended === "permission") {
    out.waitingFor = rec.waitingFor ?? null;
  }
  return out;
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
