/**
 * `watch [--no-notify]`: the full-screen dashboard of every session.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { Client } from "../client/client.ts";
import { connectOrStart } from "./_connect.ts";
import { checkDir } from "./new.ts";
import { paths } from "../paths.ts";
import { FEATURES } from "../protocol.ts";
import { UserError } from "../errors.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "watch",
  usage: "watch [--no-notify]",
  summary: "A live, full-screen table of every session: what waits for you comes first.",
  details: `
One row per session: id, name, status (coloured) and how long it has held,
directory, tags, and what it waits for (the tool and command awaiting
approval) or the first line of Claude's last message. Sessions waiting for
you come first (a permission before input, the longest waiting first), then
those working, then exited ones (hidden until e). The header counts the
sessions per status. It follows the daemon's events (nothing polls) and
redraws at most 10 times a second, writing only what changed; when the
daemon goes away it says so, reconnects and starts again from a fresh list.

Keys:
  Up/Down, j, Ctrl-P/Ctrl-N   move (PgUp, PgDn, Home, End, g, G too)
  Enter, a                    attach (Ctrl-B d comes back to watch)
  p                           preview: the selected session's screen
  s                           send a line of text (Enter submits it)
  y / n                       allow / deny the permission it waits for
  k                           kill (asks y/N)
  N                           new session (asks the directory)
  r                           resume an exited session
  /                           filter by name, tag, status, directory or id
  e                           show or hide exited sessions
  ?                           help
  q, Ctrl-C                   quit

When a session starts waiting for you (a permission, or input after a
turn), watch rings the bell and shows a terminal notification (OSC 9, or
OSC 777 for foot and rxvt; through tmux's passthrough inside tmux), once
per wait, not for a session someone is attached to; --no-notify turns that
off. NO_COLOR turns colours off.`,
  options: {
    "no-notify": { type: "boolean", description: "no bell or terminal notifications" },
    "full-redraw": {
      type: "boolean",
      description: "redraw the whole screen on every change (the baseline bench/watch.ts measures)",
    },
  },
  positionals: { min: 0, max: 0 },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    throw new UserError(
      "watch needs a terminal (stdin and stdout must be a tty)",
      1,
      "from scripts, use: claude-sessions ls, events or next",
    );
  }
  const p = paths();
  const require = [FEATURES.eventsSnapshot];
  const first = await connectOrStart(p, { require });
  const { runWatch } = await import("../tui/watch.ts");
  const env = Deno.env.toObject();
  return await runWatch({
    first,
    connect: () => Client.connect(p.socket, { require }),
    color: !env.NO_COLOR,
    alerts: !boolOpt(args, "no-notify"),
    fullRedraw: boolOpt(args, "full-redraw"),
    env,
    cwd: Deno.cwd(),
    home: env.HOME,
    checkDir,
  });
}
