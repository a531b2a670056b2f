/**
 * `attach ID [--read-only]`: use a session from this terminal; detach and it
 * keeps running.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { CommandSpec, Parsed } from "./_args.ts";
import { exitSummary } from "../session_view.ts";
import { boolOpt } from "./_args.ts";
import { type Client, connectOrStart } from "./_client.ts";
import { CliError, EXIT } from "./_errors.ts";
import { AltScreenGuard, DetachDetector } from "./_terminal.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import { parseDetachKey } from "../keys.ts";
import { RESET_MODES } from "../daemon/_modes.ts";
import type { SessionRecord } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "attach",
  usage: "attach ID [--read-only]",
  summary: "Attach this terminal to a session: see its screen, type into it, detach with Ctrl-B d.",
  details: `
The screen is redrawn exactly as it is, then follows the program live.
Every key goes to the program — Ctrl-C, Ctrl-D, Ctrl-Z and Esc included —
except the detach key (config detachKey, default "C-b d": Ctrl-B, then d;
Ctrl-B twice sends one Ctrl-B). The session keeps running after you detach.

Several clients may attach at once; all see the output. The most recently
active writing client sets the terminal size (like tmux's "latest"). With
--read-only your keys (other than the detach key) are ignored and your size
is never used.

On detach, or when the session ends, the daemon goes away, or this client is
stopped, your terminal is restored (modes, cursor, screen) and the reason is
shown in one line.

A hibernated session is woken: its last screen shows at once, then the live
one once Claude is back (claude --resume).`,
  options: {
    "read-only": { type: "boolean", short: "r", description: "watch without typing or resizing" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const client = await connectOrStart(paths());
  return await attachTo(client, args.positionals[0]!, boolOpt(args, "read-only"));
}

const enc = new TextEncoder();
const ENTER_SCREEN = enc.encode("\x1b[?1049h\x1b[H\x1b[2J");
const LEAVE_SCREEN = enc.encode(RESET_MODES + "\x1b[?1049l");

/** Serialized writes to stdout. */
class Output {
  #chain: Promise<void> = Promise.resolve();
  #failed = false;

  write(bytes: Uint8Array): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.#failed) return;
      try {
        let off = 0;
        while (off < bytes.length) off += await Deno.stdout.write(bytes.subarray(off));
      } catch {
        this.#failed = true; // the terminal is gone
      }
    });
    return this.#chain;
  }
}

/**
 * Attaches `client` to the session `ref` on this terminal until detach.
 * Returns the exit code.
 */
export async function attachTo(client: Client, ref: string, readOnly: boolean): Promise<number> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    client.close();
    throw new CliError(
      "attach needs a terminal (stdin and stdout must be a tty)",
      EXIT.ERROR,
      "from scripts, use: claude-sessions peek, send or logs",
    );
  }
  // A terminal may report 0x0 (no size set): then keep the session's size.
  const usable = (c: number, r: number) => c >= 1 && r >= 1 && c <= 1000 && r <= 1000;
  const { columns, rows } = Deno.consoleSize();
  const size = usable(columns, rows) ? { cols: columns, rows } : {};
  const out = new Output();
  const guard = new AltScreenGuard();
  let sessionId = ref;
  let finished: ((reason: { text: string; code: number }) => void) | null = null;
  const done = new Promise<{ text: string; code: number }>((r) => (finished = r));
  const finish = (text: string, code: number) => {
    finished?.({ text, code });
    finished = null;
  };
  let redrawPending = false;

  const onPush = async (msg: Record<string, unknown>) => {
    if (msg.type === "screen") {
      await out.write(enc.encode(RESET_MODES + "\x1b[H\x1b[2J" + String(msg.data)));
    } else if (msg.type === "output") {
      const raw = new Uint8Array(Buffer.from(String(msg.data), "base64"));
      const { bytes, redraw } = guard.push(raw);
      await out.write(bytes);
      if (redraw && !redrawPending) {
        redrawPending = true;
        client.request("redraw", { session: sessionId }).catch(() => {}).finally(() => {
          redrawPending = false;
        });
      }
    } else if (msg.type === "exit") {
      finish(`[session ${describeExit(msg.session as SessionRecord)}]`, EXIT.OK);
    }
  };

  Deno.stdin.setRaw(true);
  await out.write(ENTER_SCREEN);
  const restore = async () => {
    await out.write(LEAVE_SCREEN);
    try {
      Deno.stdin.setRaw(false);
    } catch { /* no terminal any more */ }
  };

  const signals: [Deno.Signal, () => void][] = [];
  const onSignal = (sig: Deno.Signal, fn: () => void) => {
    Deno.addSignalListener(sig, fn);
    signals.push([sig, fn]);
  };
  for (const sig of ["SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT"] as const) {
    onSignal(sig, () => finish(`[detached: ${sig}]`, EXIT.ERROR));
  }
  client.onClose((why) => finish(`[detached: ${why}]`, EXIT.ERROR));

  let result: { text: string; code: number };
  try {
    const { reply } = client.stream(
      "attach",
      { session: ref, readOnly, ...size },
      onPush,
    );
    let attached: { session: SessionRecord; detachKey: string };
    try {
      attached = (await reply) as typeof attached;
    } catch (e) {
      await restore();
      throw e;
    }
    sessionId = attached.session.id;
    const label = attached.session.name ? `${sessionId} (${attached.session.name})` : sessionId;
    const key = parseDetachKey(attached.detachKey);
    const detector = new DetachDetector(key);

    onSignal("SIGWINCH", () => {
      try {
        const now = Deno.consoleSize();
        if (!usable(now.columns, now.rows)) return;
        client.request("resize", { session: sessionId, cols: now.columns, rows: now.rows })
          .catch(() => {});
      } catch { /* terminal gone */ }
    });

    // Keystrokes until detach.
    void (async () => {
      const buf = new Uint8Array(4096);
      while (true) {
        let n: number | null;
        try {
          n = await Deno.stdin.read(buf);
        } catch {
          n = null;
        }
        if (n === null) {
          finish(`[detached from ${label}: the terminal closed]`, EXIT.OK);
          return;
        }
        const { forward, detach } = detector.push(buf.subarray(0, n));
        if (forward.length > 0 && !readOnly) {
          client.request("input", {
            session: sessionId,
            data: Buffer.from(forward).toString("base64"),
          }).catch(() => {});
        }
        if (detach) {
          finish(`[detached from ${label}]`, EXIT.OK);
          return;
        }
      }
    })();
    result = await done;
  } finally {
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
  }
  await restore();
  client.close();
  console.error(printable(result.text));
  return result.code;
}

function describeExit(s: SessionRecord): string {
  return `${s.name ? `${s.id} (${s.name})` : s.id} ${exitSummary(s)}`;
}
