/**
 * Notifications a terminal shows natively, written as escape sequences to
 * the terminal itself (so they also work over SSH): the bell, OSC 9
 * (iTerm2, WezTerm, Ghostty, kitty, Windows Terminal's and ConEmu's
 * notification form) and OSC 777 `notify` (urxvt, foot, Ghostty, WezTerm).
 * Inside tmux, OSC sequences are wrapped in tmux's DCS passthrough so they
 * reach the outer terminal (tmux 3.3+ needs `set -g allow-passthrough on`);
 * the bell is not wrapped: tmux passes it on itself (its `bell-action`).
 *
 * Pure: builds strings, writes nothing. Text from sessions is made safe
 * first — control characters become spaces, so nothing in a title or body
 * can end the sequence early or start another.
 *
 * @module
 */

/** BEL: rings the terminal's bell (and terminates OSC sequences here). */
export const BELL = "\x07";
const ESC = "\x1b";

/** C0 and C1 controls and DEL: none may appear inside an OSC string. */
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;

/** Longest text put in one sequence (terminals cap OSC strings; a notification needs less). */
export const TERMINAL_TEXT_LIMIT = 500;

/** `text` fit for an OSC string: controls become spaces, runs of spaces shrink, cut at the limit. */
export function oscText(text: string): string {
  const flat = text.replace(CONTROLS, " ").replace(/ {2,}/g, " ").trim();
  return flat.length > TERMINAL_TEXT_LIMIT ? `${flat.slice(0, TERMINAL_TEXT_LIMIT - 1)}…` : flat;
}

/**
 * OSC 9: `ESC ] 9 ; text BEL`. Text that starts with digits and ";" would
 * read as another OSC 9 function in ConEmu and Windows Terminal (`9;4;…` is
 * a progress bar), so such text gets a leading space.
 */
export function osc9(text: string): string {
  let t = oscText(text);
  if (/^\d+;/.test(t)) t = ` ${t}`;
  return `${ESC}]9;${t}${BELL}`;
}

/**
 * OSC 777: `ESC ] 777 ; notify ; title ; body BEL`. The title ends at the
 * first ";", so a ";" in it becomes ",".
 */
export function osc777(title: string, body: string): string {
  return `${ESC}]777;notify;${oscText(title).replaceAll(";", ",")};${oscText(body)}${BELL}`;
}

/** `seq` wrapped in tmux's passthrough: `ESC P tmux; …(each ESC doubled)… ESC \`. */
export function tmuxPassthrough(seq: string): string {
  return `${ESC}Ptmux;${seq.replaceAll(ESC, ESC + ESC)}${ESC}\\`;
}

/** Whether this process runs inside tmux (`$TMUX` set). */
export function insideTmux(env: (name: string) => string | undefined): boolean {
  return (env("TMUX") ?? "") !== "";
}

/** Which OSC notification a terminal understands: OSC 777 for foot and urxvt, else OSC 9. */
export function chooseOsc(env: (name: string) => string | undefined): "9" | "777" {
  const term = env("TERM") ?? "";
  return /^(foot|rxvt|urxvt)/.test(term) ? "777" : "9";
}

/** What {@linkcode terminalNotification} writes. */
export interface TerminalNotifyOptions {
  /** Wrap OSC sequences for tmux (see {@linkcode insideTmux}). */
  tmux: boolean;
  /** Which OSC notification (see {@linkcode chooseOsc}); "none": only the bell. */
  osc: "9" | "777" | "none";
  /** Ring the bell too (default true). */
  bell?: boolean;
}

/**
 * The bytes that make a terminal show a notification: the bell, then the
 * OSC notification (OSC 9 carries "title: body" on one line).
 */
export function terminalNotification(
  n: { title: string; body: string },
  opts: TerminalNotifyOptions,
): string {
  let out = opts.bell === false ? "" : BELL;
  if (opts.osc === "none") return out;
  const seq = opts.osc === "9" ? osc9(`${n.title}: ${n.body}`) : osc777(n.title, n.body);
  out += opts.tmux ? tmuxPassthrough(seq) : seq;
  return out;
}
