/**
 * `watch [--hosts all|HOST,…] [--no-notify]`: the full-screen dashboard of
 * every session, of this machine, another (`-H`), or several.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { Client } from "../client/client.ts";
import { connectOrStart, connectRemote, remoteTarget, setTarget } from "./_connect.ts";
import { hostsOf } from "./_hosts.ts";
import { checkDir, checkRemoteDir } from "./new.ts";
import { paths } from "../paths.ts";
import { FEATURES } from "../protocol.ts";
import { UserError } from "../errors.ts";
import type { WatchHost } from "../tui/watch.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "watch",
  usage: "watch [--hosts all|HOST,…] [--no-notify]",
  summary: "A live, full-screen table of every session: what waits for you comes first.",
  details: `
One row per session: id, name, status (coloured) and how long it has held,
memory and CPU of its processes (MEM, CPU: pushed by the daemon every 5 s),
directory, tags, and what it waits for (the tool and command awaiting
approval) or the first line of Claude's last message. Sessions waiting for
you come first (a permission before input, the longest waiting first), then
those working, then exited ones (hidden until e). The header counts the
sessions per status. It follows the daemon's events (nothing polls) and
redraws at most 10 times a second, writing only what changed; when the
daemon goes away it says so, reconnects and starts again from a fresh list.
Narrow terminals drop CPU and MEM first, then DIR, TAGS, FOR.

-H HOST watches another machine's sessions. --hosts watches several at once
(all: this one and every host of config hosts; or a comma list, local being
this one), in one table with a HOST column, each followed over its own
connection; a host that cannot be reached is said so under the header (with
why) and its rows marked, and retried on its own while the others go on. Other hosts'
daemons are not started for it. Every key acts on the selected row's host
(attach too, over that host's connection); N asks which host (the selected
row's by default), then a directory there (absolute, or ~/…).

Keys:
  Up/Down, j, Ctrl-P/Ctrl-N   move (PgUp, PgDn, Home, End, g, G too)
  Enter, a                    attach (Ctrl-B d comes back to watch)
  p                           preview: the selected session's screen
  s                           send a line of text (Enter submits it)
  y / n                       allow / deny the permission it waits for
  k                           kill (asks y/N)
  N                           new session (asks the directory)
  r                           resume an exited session
  /                           filter by name, tag, status, directory, id, host
  e                           show or hide exited sessions
  ?                           help
  q, Ctrl-C                   quit

When a session starts waiting for you (a permission, or input after a
turn), watch rings the bell and shows a terminal notification (OSC 9, or
OSC 777 for foot and rxvt; through tmux's passthrough inside tmux), once
per wait, not for a session someone is attached to — other machines'
sessions too, named host/session; --no-notify turns that off. NO_COLOR turns
colours off.`,
  options: {
    hosts: {
      type: "string",
      arg: "all|HOST,…",
      description: "watch these machines (all: this one and every configured host)",
    },
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
  const spec = strOpt(args, "hosts");
  // --hosts names the machines itself ("local": this one), whatever -H says.
  if (spec !== undefined) setTarget(undefined);
  const names = spec !== undefined ? await hostsOf(spec, p, "watch") : [remoteTarget() ?? "local"];
  const hosts: WatchHost[] = [];
  for (const name of names) {
    if (name === "local") {
      hosts.push({
        name,
        local: true,
        // Here, as any command: the daemon is started when none runs.
        first: await connectOrStart(p, { require }),
        connect: () => Client.connect(p.socket, { require }),
      });
    } else {
      hosts.push({
        name,
        local: false,
        // With -H, it is connected to (and its daemon started) before the screen
        // opens, as any command does; with --hosts, followed as it can be
        // reached, its daemon never started.
        ...(spec === undefined ? { first: await connectOrStart(p, { require }) } : {}),
        connect: () => connectRemote(p, name, { noStart: true, require }),
      });
    }
  }
  const { runWatch } = await import("../tui/watch.ts");
  const env = Deno.env.toObject();
  return await runWatch({
    hosts,
    color: !env.NO_COLOR,
    alerts: !boolOpt(args, "no-notify"),
    fullRedraw: boolOpt(args, "full-redraw"),
    env,
    cwd: Deno.cwd(),
    home: env.HOME,
    checkDir,
    checkRemoteDir,
  });
}
