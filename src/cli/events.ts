/**
 * `events [--json] [ID]`: stream lifecycle events as they happen.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { exitSummary } from "../session_view.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_client.ts";
import { CliError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import type { SessionEvent } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "events",
  usage: "events [ID] [--json]",
  summary:
    "Stream session events (created, started, status changes, exited, removed) until Ctrl-C.",
  details: `
The daemon pushes each event as it happens. --json prints one JSON object
per line: {event, at, id, name, status, previous, source, detail, …}.
Ctrl-C ends it (exit 0); exits 1 if the daemon goes away.`,
  options: {
    json: { type: "boolean", description: "one JSON object per line" },
  },
  positionals: { min: 0, max: 1, names: "ID" },
};

/** One human-readable line for an event (control characters escaped). */
export function describe(ev: SessionEvent): string {
  return printable(describeRaw(ev));
}

function describeRaw(ev: SessionEvent): string {
  const who = `${ev.id}${ev.name ? ` (${ev.name})` : ""}`;
  const time = ev.at.slice(11, 23);
  switch (ev.event) {
    case "status":
      return `${time} ${who} ${ev.previous} -> ${ev.status}` +
        `${ev.source ? ` [${ev.source}${ev.detail ? `: ${ev.detail}` : ""}]` : ""}`;
    case "exited":
      return `${time} ${who} ${exitSummary(ev)}`;
    case "notified": {
      const n = ev.notification;
      if (!n) return `${time} ${who} notified`;
      return `${time} ${who} notified (${n.kind}) via ${n.notifier}: ${n.outcome}` +
        `${n.error ? ` (${n.error})` : ""}`;
    }
    default:
      return `${time} ${who} ${ev.event}`;
  }
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const json = boolOpt(args, "json");
  const client = await connectOrStart(paths());
  const closed = new Promise<string>((r) => client.onClose(r));
  // Ctrl-C ends the stream normally (exit 0), as it does for logs --follow.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    client.close();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const params: Record<string, unknown> = {};
    if (args.positionals[0]) params.session = args.positionals[0];
    const { reply } = client.stream("events", params, (msg) => {
      const ev = msg.event as SessionEvent;
      console.log(json ? JSON.stringify(ev) : describe(ev));
    });
    await reply.catch((e) => {
      if (!interrupted) throw e;
    });
    const reason = await closed;
    if (interrupted) return 0;
    throw new CliError(`event stream ended: ${reason}`);
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}
