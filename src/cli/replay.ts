/**
 * `replay ID [--speed X] [--max-idle SECONDS]`: play a session's output back
 * in the terminal with its recorded timing.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { strOpt } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { findLog, logLines, Output, OutputClosed } from "./_session_log.ts";
import { decodeData, isData } from "../log_format.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "replay",
  usage: "replay ID [--speed X] [--max-idle SECONDS]",
  summary: "Play a session's output back in this terminal with its recorded timing.",
  details: `
Pauses longer than --max-idle (default 2 seconds) are shortened to it;
--speed divides every pause (2 plays twice as fast). Press q or Ctrl-C to
stop. Afterwards the terminal is restored: modes the recording switched on
(alternate screen, hidden cursor, mouse reporting, bracketed paste, …) are
switched off and colours reset. The recording's terminal size is not
changed; a terminal of the same size shows it best.`,
  options: {
    speed: { type: "string", arg: "X", description: "playback speed factor (default: 1)" },
    "max-idle": {
      type: "string",
      arg: "SECONDS",
      description: "longest pause played (default: 2)",
    },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

function positive(text: string | undefined, name: string, dflt: number, allowZero: boolean) {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(`invalid --${name} "${text}": expected a positive number`, "replay");
  }
  return n;
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const speed = positive(strOpt(args, "speed"), "speed", 1, false);
  const maxIdleMs = positive(strOpt(args, "max-idle"), "max-idle", 2, true) * 1000;
  const target = await findLog(args.positionals[0]!);

  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  const tty = Deno.stdout.isTerminal();
  const raw = tty && Deno.stdin.isTerminal();
  if (raw) {
    // Keys typed during playback would echo into it; q or Ctrl-C stop it.
    Deno.stdin.setRaw(true);
    void watchKeys(stop);
  }
  const out = new Output(Deno.stdout, null, () => stop.abort());
  const modes = new ModeTracker();
  const started = performance.now();
  let clock = 0;
  let last: number | null = null;
  try {
    for await (const r of logLines(target, { signal: stop.signal })) {
      if (stop.signal.aborted) break;
      const line = r.line;
      if (!isData(line) || line.direction !== "output") continue;
      const at = Date.parse(line.timestamp);
      if (last !== null) clock += Math.min(Math.max(0, at - last), maxIdleMs) / speed;
      last = at;
      const wait = started + clock - performance.now();
      if (wait >= 1) {
        await out.flush();
        await sleep(wait, stop.signal);
        if (stop.signal.aborted) break;
      }
      const bytes = decodeData(line);
      modes.scan(bytes);
      await out.write(bytes);
    }
    if (tty) await out.write(modes.restore());
    await out.flush();
  } catch (e) {
    if (!(e instanceof OutputClosed)) throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    if (raw) Deno.stdin.setRaw(false);
  }
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

async function watchKeys(stop: AbortController): Promise<void> {
  const buf = new Uint8Array(64);
  while (!stop.signal.aborted) {
    const n = await Deno.stdin.read(buf).catch(() => null);
    if (n === null) return;
    if (buf.subarray(0, n).some((b) => b === 0x03 || b === 0x71 || b === 0x51)) stop.abort();
  }
}

/** Private modes (`ESC [ ? N h|l`) a program may leave on, with their defaults. */
const DEFAULT_MODES: Record<string, boolean> = {
  "1": false, // application cursor keys
  "7": true, // auto-wrap
  "25": true, // cursor visible
  "47": false, // alternate screen
  "1047": false,
  "1049": false,
  "1000": false, // mouse reporting
  "1002": false,
  "1003": false,
  "1005": false,
  "1006": false,
  "1015": false,
  "2004": false, // bracketed paste
};

/** Follows the private modes set by the replayed output, to undo them after. */
export class ModeTracker {
  #state = new Map<string, boolean>();
  #carry = "";
  #decoder = new TextDecoder("latin1");

  /** Looks for mode changes in output bytes. */
  scan(bytes: Uint8Array): void {
    const text = this.#carry + this.#decoder.decode(bytes);
    for (const m of text.matchAll(/\x1b\[\?([\d;]+)([hl])/g)) {
      for (const n of m[1]!.split(";")) {
        if (n in DEFAULT_MODES) this.#state.set(n, m[2] === "h");
      }
    }
    // A sequence cut at the end is completed by the next chunk.
    this.#carry = text.slice(-24);
  }

  /** Escape sequences putting every changed mode back, and colours reset. */
  restore(): string {
    let seq = "\x1b[0m";
    for (const [n, on] of this.#state) {
      if (on !== DEFAULT_MODES[n]) seq += `\x1b[?${n}${DEFAULT_MODES[n] ? "h" : "l"}`;
    }
    return seq;
  }
}
