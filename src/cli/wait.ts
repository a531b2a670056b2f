/**
 * `wait ID --until STATUS[,STATUS…] [--timeout SECONDS]`: block until a
 * session reaches a status.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { CliError, EXIT, UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { type Api, type SessionStatus, STATUSES } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "wait",
  usage: "wait ID --until STATUS[,STATUS…] [--next] [--timeout SECONDS] [--json]",
  summary: "Wait until a session's status is one of STATUS.",
  details: `
Statuses: ${STATUSES.join(", ")}.
(queued and hibernated sessions have no process yet or any more; waiting on
one waits for whatever starts or wakes it: hibernating is not exiting.)
Exits 0 once reached (at once if it already holds, unless --next), 124 on
timeout, and 1 if the session exits first (unless "exited" is one of the
statuses). With --next only a change counts: a status that already holds
must change first (for a client that typed into the session itself; send
returns only once Claude took the prompt, so after send a plain wait is
enough). The daemon pushes status changes; nothing polls.`,
  options: {
    until: {
      type: "string",
      short: "u",
      arg: "STATUS[,…]",
      description: "statuses to wait for (required)",
    },
    timeout: {
      type: "string",
      short: "t",
      arg: "SECONDS",
      description: "give up after this long (exit 124)",
    },
    next: { type: "boolean", short: "n", description: "wait for the next change only" },
    json: { type: "boolean", description: "print the session record when done" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
};

/** Parses a comma-separated status list. */
export function parseStatuses(text: string | undefined, command: string): SessionStatus[] {
  if (!text) throw new UsageError("--until is required (e.g. --until waiting_input)", command);
  const list = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of list) {
    if (!STATUSES.includes(s as SessionStatus)) {
      throw new UsageError(`unknown status "${s}" (one of: ${STATUSES.join(", ")})`, command);
    }
  }
  if (list.length === 0) throw new UsageError("--until needs at least one status", command);
  return list as SessionStatus[];
}

/** Parses `--timeout` seconds. */
export function parseSeconds(text: string | undefined, command: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || text.trim() === "") {
    throw new UsageError(`invalid --timeout "${text}": expected seconds, e.g. 30 or 0.5`, command);
  }
  return n;
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const until = parseStatuses(strOpt(args, "until"), "wait");
  const timeout = parseSeconds(strOpt(args, "timeout"), "wait");
  const client = await connectOrStart(paths());
  try {
    const params: Api["wait"]["params"] = { session: args.positionals[0]!, until };
    if (boolOpt(args, "next")) params.next = true;
    if (timeout !== undefined) params.timeoutMs = Math.round(timeout * 1000);
    const r = await client.request("wait", params);
    if (boolOpt(args, "json")) console.log(JSON.stringify(r.session, null, 2));
    const s = r.session;
    switch (r.outcome) {
      case "reached":
        if (!boolOpt(args, "json")) console.log(s.status);
        return EXIT.OK;
      case "timeout":
        throw new CliError(
          `timed out after ${timeout}s; ${s.id} is ${s.status}`,
          EXIT.TIMEOUT,
        );
      case "exited":
        throw new CliError(`session ${s.id} exited before reaching ${until.join(" or ")}`);
    }
  } finally {
    client.close();
  }
}
