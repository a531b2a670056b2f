/**
 * Attaching this terminal to a session, as a component: it owns the
 * terminal's input and screen while attached and hands both back cleanly —
 * to the shell (`attach`) or to the full-screen program that called it
 * (`watch`), which then redraws itself.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { AttachPush, SessionRecord } from "../protocol.ts";
import type { AttachStream, Client } from "../client/client.ts";
import { exitSummary } from "../session_view.ts";
import { printable } from "../printable.ts";
import { parseDetachKey } from "../keys.ts";
import { RESET_MODES } from "../daemon/_modes.ts";
import { UserError } from "../errors.ts";
import { AltScreenGuard, DetachDetector } from "./_terminal.ts";
import { TerminalInput } from "./input.ts";
import { TerminalOutput } from "./_output.ts";

/** Options of {@linkcode attachTerminal}. */
export interface AttachTerminalOptions {
  /** Watch only: keys other than the detach key are not sent, and this size is never used. */
  readOnly?: boolean;
  /** The terminal input to take over (default: this process's). */
  input?: TerminalInput;
  /**
   * The caller is a full-screen program: when done, the terminal stays raw
   * and on the alternate screen (cleared, modes reset) for it to redraw.
   * Otherwise it is given back to the shell: cooked, on its own screen.
   */
  nested?: boolean;
}

/** How an attachment ended, and the one line that says so. */
export interface AttachResult {
  /**
   * `detached` (the detach key), `exited` (the session ended), `lost` (the
   * connection to the daemon), `signal` (this process got SIGTERM, SIGHUP,
   * SIGINT or SIGQUIT), `terminal_closed` (its input ended).
   */
  end: "detached" | "exited" | "lost" | "signal" | "terminal_closed";
  /** E.g. `[detached from 01M7ZA1Q… (api)]`, `[session 01M7… (api) exited (code 0)]` (printable). */
  message: string;
  /** The session's last record: its final one when it exited. */
  session: SessionRecord;
  /** Whether output came as binary frames (the daemon has `attach.binary`). */
  binary: boolean;
}

const enc = new TextEncoder();
const ENTER_SCREEN = enc.encode("\x1b[?1049h\x1b[H\x1b[2J");
const LEAVE_SCREEN = enc.encode(RESET_MODES + "\x1b[?1049l");
const CLEAR_SCREEN = enc.encode(RESET_MODES + "\x1b[H\x1b[2J");

/** The terminal's size, when it has a usable one. */
function terminalSize(): { cols: number; rows: number } | null {
  try {
    const { columns, rows } = Deno.consoleSize();
    // A terminal may report 0x0 (no size set): then keep the session's size.
    if (columns >= 1 && rows >= 1 && columns <= 1000 && rows <= 1000) {
      return { cols: columns, rows };
    }
  } catch { /* no terminal */ }
  return null;
}

/**
 * Attaches this terminal to the session `ref` over `client` until the user
 * detaches, the session ends, the connection is lost or a signal comes.
 * Leaves `client` open (unless the connection was lost).
 * @throws {UserError} when stdin or stdout is not a terminal
 * @throws the daemon's error when it refuses to attach (e.g. `not_found`)
 */
export async function attachTerminal(
  client: Client,
  ref: string,
  opts: AttachTerminalOptions = {},
): Promise<AttachResult> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    throw new UserError(
      "attach needs a terminal (stdin and stdout must be a tty)",
      1,
      "from scripts, use: claude-sessions peek, send or logs",
    );
  }
  const readOnly = opts.readOnly ?? false;
  const input = opts.input ?? TerminalInput.shared();
  const out = new TerminalOutput();
  const guard = new AltScreenGuard();
  let stream: AttachStream | null = null;
  let redrawPending = false;

  let finished: ((r: { end: AttachResult["end"]; text: string }) => void) | null = null;
  const done = new Promise<{ end: AttachResult["end"]; text: string }>((r) => (finished = r));
  const finish = (end: AttachResult["end"], text: string) => {
    finished?.({ end, text });
    finished = null;
  };

  const onBytes = async (raw: Uint8Array) => {
    const { bytes, redraw } = guard.push(raw);
    await out.write(bytes);
    if (redraw && !redrawPending && stream) {
      redrawPending = true;
      stream.redraw().catch(() => {}).finally(() => (redrawPending = false));
    }
  };
  const onPush = async (push: AttachPush) => {
    if (push.type === "screen") {
      await out.write(enc.encode(RESET_MODES + "\x1b[H\x1b[2J" + push.data));
    } else if (push.type === "output") {
      await onBytes(new Uint8Array(Buffer.from(push.data, "base64")));
    }
  };

  // Keys typed before the daemon answered wait for it (the detach key included).
  const early: Uint8Array[] = [];
  let onKeys: (bytes: Uint8Array) => void = (b) => early.push(b);
  const release = input.take({
    data: (b) => onKeys(b),
    end: () => finish("terminal_closed", ""),
  });
  const signals: [Deno.Signal, () => void][] = [];
  const onSignal = (sig: Deno.Signal, fn: () => void) => {
    Deno.addSignalListener(sig, fn);
    signals.push([sig, fn]);
  };
  for (const sig of ["SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT"] as const) {
    onSignal(sig, () => finish("signal", `[detached: ${sig}]`));
  }

  if (!opts.nested) Deno.stdin.setRaw(true);
  await out.write(opts.nested ? CLEAR_SCREEN : ENTER_SCREEN);
  const restore = async () => {
    release();
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    await out.write(opts.nested ? CLEAR_SCREEN : LEAVE_SCREEN);
    if (opts.nested) return;
    try {
      Deno.stdin.setRaw(false);
    } catch { /* no terminal any more */ }
  };

  const size = terminalSize();
  try {
    stream = await client.attach(ref, { readOnly, ...(size ?? {}), onBytes }, onPush);
  } catch (e) {
    await restore();
    throw e;
  }
  const s = stream;
  let session = s.session;
  const label = printable(session.name ? `${session.id} (${session.name})` : session.id);
  const detector = new DetachDetector(parseDetachKey(s.detachKey));
  onKeys = (bytes) => {
    const { forward, detach } = detector.push(bytes);
    if (forward.length > 0 && !readOnly) s.input(forward).catch(() => {});
    if (detach) finish("detached", `[detached from ${label}]`);
  };
  for (const b of early.splice(0)) onKeys(b);
  onSignal("SIGWINCH", () => {
    const now = terminalSize();
    if (now) s.resize(now.cols, now.rows).catch(() => {});
  });
  void s.ended.then((e) => {
    if (e.kind === "exited") {
      session = e.session;
      finish("exited", `[session ${printable(describeExit(e.session))}]`);
    } else if (e.kind === "lost") {
      finish("lost", `[detached: ${printable(e.reason)}]`);
    }
  });

  const result = await done;
  if (result.end === "terminal_closed") {
    result.text = `[detached from ${label}: the terminal closed]`;
  }
  if (result.end !== "exited" && result.end !== "lost") {
    await s.detach().catch(() => {/* the connection went meanwhile */});
  }
  await restore();
  return { end: result.end, message: result.text, session, binary: s.binary };
}

function describeExit(s: SessionRecord): string {
  return `${s.name ? `${s.id} (${s.name})` : s.id} ${exitSummary(s)}`;
}
