/**
 * `events [ID] [--snapshot] [--json]`: stream session events as they happen.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { exitSummary, formatDuration, viewSession } from "../session_view.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { CliError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import { FEATURES, type SessionEvent, type SessionRecord } from "../protocol.ts";
import { ConnectionLostError } from "../client/errors.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "events",
  usage: "events [ID] [--snapshot] [--json]",
  summary:
    "Stream session events (created, started, status changes, exited, removed, …) until Ctrl-C.",
  details: `
The daemon pushes each event as it happens. --json prints one JSON object
per line: {event, at, id, name, status, previous, source, detail, …}.

--snapshot first prints every session (one line each; with --json
{"snapshot": SEQ, "session": {…}}), then every event after that moment,
numbered ("seq": SEQ+1, SEQ+2, …): nothing in between is missed. It also
shows the frequent kinds (activity: output seen, at most once a second per
session; updated: what a session waits for or its last message changed) —
in --json only; the human lines skip them.

Kinds this version does not know are shown by name. Ctrl-C ends it
(exit 0); exits 1 if the daemon goes away.`,
  options: {
    json: { type: "boolean", description: "one JSON object per line" },
    snapshot: { type: "boolean", description: "print every session first, then numbered events" },
  },
  positionals: { min: 0, max: 1, names: "ID" },
};

/** Kinds the human lines leave out (they come often; --json has them). */
const QUIET = new Set(["activity", "updated"]);

/** One human-readable line for an event (control characters escaped). */
export function describe(ev: SessionEvent): string {
  return printable(describeRaw(ev));
}

function describeRaw(ev: SessionEvent): string {
  const who = `${ev.id}${ev.name ? ` (${ev.name})` : ""}`;
  const time = typeof ev.at === "string" ? ev.at.slice(11, 23) : "?";
  switch (ev.event) {
    case "status":
      return `${time} ${who} ${ev.previous} -> ${ev.status}` +
        `${ev.source ? ` [${ev.source}${ev.detail ? `: ${ev.detail}` : ""}]` : ""}`;
    case "exited":
      return `${time} ${who} ${exitSummary(ev)}`;
    case "attached":
    case "detached":
      return `${time} ${who} ${ev.event}` +
        (typeof ev.clients === "number" ? ` (${ev.clients} attached)` : "");
    case "tags":
      return `${time} ${who} tags: ${ev.tags?.length ? ev.tags.join(" ") : "none"}`;
    case "notified": {
      const n = ev.notification;
      if (!n) return `${time} ${who} notified`;
      return `${time} ${who} notified (${n.kind}) via ${n.notifier}: ${n.outcome}` +
        `${n.error ? ` (${n.error})` : ""}`;
    }
    default:
      // Including kinds of a newer daemon: their name.
      return `${time} ${who} ${String(ev.event)}`;
  }
}

/** The line `--snapshot` prints for a session. */
export function describeSession(rec: SessionRecord, now: number, shortLength: number): string {
  const v = viewSession(rec, { now, shortLength });
  const parts = [`${v.label} ${v.statusText}`];
  if (v.attention === "permission") parts.push(`waiting for ${v.waitingFor}`);
  if (v.tags.length > 0) parts.push(`tags: ${v.tags.join(" ")}`);
  if (v.clients > 0) parts.push(`${v.clients} attached`);
  if (v.sinceOutputMs !== null) parts.push(`last output ${formatDuration(v.sinceOutputMs)} ago`);
  return printable(parts.join(", "));
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const json = boolOpt(args, "json");
  const snapshot = boolOpt(args, "snapshot");
  const client = await connectOrStart(
    paths(),
    snapshot ? { require: [FEATURES.eventsSnapshot] } : {},
  );
  // Ctrl-C ends the stream normally (exit 0), as it does for logs --follow.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    client.close();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const sub = await client.subscribe({
      ...(args.positionals[0] ? { session: args.positionals[0] } : {}),
      snapshot,
    });
    if (sub.snapshot) {
      const { seq, sessions, shortLength } = sub.snapshot;
      const now = Date.now();
      for (const s of sessions) {
        console.log(
          json
            ? JSON.stringify({ snapshot: seq, session: s })
            : describeSession(s, now, shortLength),
        );
      }
    }
    for await (const push of sub) {
      const ev = push.event;
      if (json) {
        console.log(JSON.stringify(push.seq === undefined ? ev : { seq: push.seq, ...ev }));
      } else if (!QUIET.has(ev.event)) {
        console.log(describe(ev));
      }
    }
    if (interrupted) return 0;
    throw new CliError(`event stream ended: ${client.closeReason ?? "closed"}`);
  } catch (e) {
    if (interrupted) return 0;
    if (e instanceof ConnectionLostError) throw new CliError(`event stream ended: ${e.message}`);
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    client.close();
  }
}
