/**
 * `attach [ID] [--read-only]`: use a session from this terminal; detach and
 * it keeps running. Without ID: the session `next` names.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import type { Client } from "../client/client.ts";
import { connectOrStart } from "./_connect.ts";
import { EXIT } from "./_errors.ts";
import { attachTerminal } from "../tui/attach.ts";
import { paths } from "../paths.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "attach",
  usage: "attach [ID] [--read-only]",
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

Without ID, attaches to the session that has waited longest for you, as
"next" picks it (a permission first); exits 1 when none waits.

A hibernated session is woken: its last screen shows at once, then the live
one once Claude is back (claude --resume).`,
  options: {
    "read-only": { type: "boolean", short: "r", description: "watch without typing or resizing" },
  },
  positionals: { min: 0, max: 1, names: "ID" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const client = await connectOrStart(paths());
  let ref = args.positionals[0];
  if (ref === undefined) {
    const { nextWaiting } = await import("./next.ts");
    ref = (await nextWaiting(client)).id;
  }
  return await attachTo(client, ref, boolOpt(args, "read-only"));
}

/**
 * Attaches `client` to the session `ref` on this terminal until detach,
 * closes it, says why it ended (one line on stderr), and returns the exit
 * code: 0 for a detach or the session ending, 1 otherwise.
 */
export async function attachTo(client: Client, ref: string, readOnly: boolean): Promise<number> {
  let r;
  try {
    r = await attachTerminal(client, ref, { readOnly });
  } finally {
    client.close();
  }
  console.error(r.message);
  return r.end === "detached" || r.end === "exited" || r.end === "terminal_closed"
    ? EXIT.OK
    : EXIT.ERROR;
}
