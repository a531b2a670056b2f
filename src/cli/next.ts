/**
 * `next [--attach] [--json]`: the session that has waited longest for you.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import type { Client } from "../client/client.ts";
import { connectOrStart, setTarget } from "./_connect.ts";
import { askHosts, hostsOf } from "./_hosts.ts";
import { printable } from "../printable.ts";
import { CliError } from "./_errors.ts";
import { paths } from "../paths.ts";
import type { SessionRecord } from "../protocol.ts";
import { formatDuration, viewSession, waitingOrder } from "../session_view.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "next",
  usage: "next [--attach] [--json] [--hosts all|HOST,…]",
  summary: "Print the id of the session that has waited longest for you (exit 1 when none waits).",
  details: `
Sessions waiting for a permission (or another of Claude's questions) come
first, then those waiting for input; among them, the one waiting longest.
On a terminal, what it waits for follows on stderr. --attach attaches to it
(as "attach" does; "attach" without ID does the same); --json prints its
record.

--hosts picks among several machines (all: this one and every host of config
hosts; or a comma list): it prints "HOST ID", --json adds "host" to the
record, and --attach attaches there. A host that cannot answer is skipped,
saying so on stderr.`,
  options: {
    attach: { type: "boolean", short: "a", description: "attach to it" },
    hosts: {
      type: "string",
      arg: "all|HOST,…",
      description: "pick among these machines (all: this one and every configured host)",
    },
    json: { type: "boolean", description: "print its record as JSON" },
  },
  positionals: { min: 0, max: 0 },
};

/** What `next` says when no session waits. */
export const NONE_WAITS = "no session is waiting for you";

/**
 * The session that has waited longest (a permission first).
 * @throws {CliError} when none waits (`client` is closed on any failure)
 */
export async function nextWaiting(client: Client): Promise<SessionRecord> {
  let next: SessionRecord | undefined;
  try {
    next = waitingOrder((await client.request("ls", {})).sessions)[0];
  } catch (e) {
    client.close();
    throw e;
  }
  if (next) return next;
  client.close();
  throw new CliError(NONE_WAITS);
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const hostsSpec = strOpt(args, "hosts");
  if (hostsSpec !== undefined) return await nextOfHosts(args, hostsSpec);
  const client = await connectOrStart(paths());
  const next = await nextWaiting(client);
  if (boolOpt(args, "attach")) {
    const { attachTo } = await import("./attach.ts");
    return await attachTo(client, next.id, false);
  }
  client.close();
  if (boolOpt(args, "json")) {
    console.log(JSON.stringify(next, null, 2));
    return 0;
  }
  console.log(next.id);
  if (Deno.stdout.isTerminal()) {
    const v = viewSession(next, { now: Date.now() });
    console.error(
      `${v.label} has waited ${formatDuration(v.heldMs)} for ${v.waitingFor}` +
        (v.attention === "input" && v.lastMessage ? `: ${v.lastMessage}` : ""),
    );
  }
  return 0;
}

/** `next --hosts`: the longest waiting session of any of the machines. */
async function nextOfHosts(args: Parsed, spec: string): Promise<number> {
  const p = paths();
  const answers = await askHosts(
    await hostsOf(spec, p, "next"),
    p,
    async (c) => (await c.request("ls", {})).sessions,
  );
  const hostOf = new Map<SessionRecord, string>();
  for (const a of answers) {
    if ("error" in a) {
      console.error(printable(`claude-sessions: ${a.host}: skipped (unreachable: ${a.error})`));
      continue;
    }
    for (const s of a.value) hostOf.set(s, a.host);
  }
  const next = waitingOrder([...hostOf.keys()])[0];
  if (!next) throw new CliError(NONE_WAITS);
  const host = hostOf.get(next)!;
  if (boolOpt(args, "attach")) {
    setTarget(host);
    const { attachTo } = await import("./attach.ts");
    return await attachTo(await connectOrStart(p), next.id, false);
  }
  if (boolOpt(args, "json")) {
    console.log(JSON.stringify({ host, ...next }, null, 2));
    return 0;
  }
  console.log(`${host} ${next.id}`);
  if (Deno.stdout.isTerminal()) {
    const v = viewSession(next, { now: Date.now() });
    console.error(
      printable(`${host}/${v.label} has waited ${formatDuration(v.heldMs)} for ${v.waitingFor}`),
    );
  }
  return 0;
}
