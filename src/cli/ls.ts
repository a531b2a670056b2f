/**
 * `ls [--all] [--tag TAG] [--json]`: list sessions.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { viewSession } from "../session_view.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { formatDuration, paintStatus, printText, table, useColor } from "./_format.ts";
import { paths } from "../paths.ts";
import { shortBytes } from "../bytes.ts";
import { printable } from "../printable.ts";
import { FEATURES } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "ls",
  aliases: ["list"],
  usage: "ls [--all] [--tag TAG] [--hosts all|HOST,…] [--json]",
  summary:
    "List sessions: short id, name, status and how long it has held, memory, CPU, age, directory.",
  details: `
Lists every session that has not exited: live ones, and queued and
hibernated ones (they have no process); --all adds exited ones.

The short id is the shortest prefix (at least 8 characters) that tells every
known session apart; any unique prefix works wherever an ID is expected.
A TAGS column shows when a listed session has tags; --tag lists only the
sessions with that tag.

MEM is the resident memory of the session's whole process tree (every
process of its terminal session, or carrying its CLAUDE_SESSIONS_ID, or in
its cgroup, and their children); CPU is their CPU use in percent of one core
since the daemon last measured them (or since the session started, the first
time). Both may be up to 5 seconds old (the daemon then measures again for
the next ls), and are "-" for a session without a process.

--json prints the full records as a JSON array, with "usage" ({"rss",
"cpu", "processes", "at", "cpuSince"}: "at" when it was measured, "cpuSince"
since when CPU is averaged) on live ones.

--hosts lists several machines at once — all (this one and every host of
config hosts) or a comma list of host names (local: this one) — with a HOST
column; each is asked over its own connection, and one that does not answer
(within 15 s) is shown as unreachable, with why, without holding up the
others (exit 1 then). Other hosts' daemons are not started for it. With
--json it prints [{"host", "sessions"} or {"host", "error"}, …].`,
  options: {
    hosts: {
      type: "string",
      arg: "all|HOST,…",
      description: "list these machines (all: this one and every configured host)",
    },
    all: { type: "boolean", short: "a", description: "include exited sessions" },
    tag: { type: "string", short: "t", arg: "TAG", description: "only sessions with this tag" },
    json: { type: "boolean", description: "print records as a JSON array" },
  },
  positionals: { min: 0, max: 0 },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const hostsSpec = strOpt(args, "hosts");
  if (hostsSpec !== undefined) return await listHosts(args, hostsSpec);
  const tag = strOpt(args, "tag");
  const json = boolOpt(args, "json");
  const params = {
    all: boolOpt(args, "all"),
    usage: true,
    // The table needs no session's whole history (--json prints full records).
    ...(json ? {} : { brief: true }),
    ...(tag !== undefined ? { tag } : {}),
  };
  // Sent with the connection: it changes nothing, and the greeting is checked before its reply is used.
  const client = await connectOrStart(paths(), {
    first: { type: "ls", params },
    ...(tag !== undefined ? { require: [FEATURES.tags] } : {}),
  });
  let result;
  try {
    result = await client.first("ls");
  } finally {
    client.close();
  }
  const { sessions, shortLength } = result;
  const held = result.logHeldBack ?? {};
  if (json) {
    const out = sessions.map((s) => (held[s.id] ? { ...s, logHeldBack: held[s.id] } : s));
    printText(JSON.stringify(out, null, 2));
    return 0;
  }
  if (sessions.length === 0) {
    if (Deno.stdout.isTerminal()) {
      console.log(
        tag !== undefined
          ? printable(`no ${boolOpt(args, "all") ? "" : "live "}session has the tag "${tag}"`)
          : boolOpt(args, "all")
          ? "no sessions"
          : "no live sessions (--all shows exited ones)",
      );
    }
    return 0;
  }
  const color = useColor();
  const now = Date.now();
  const home = Deno.env.get("HOME");
  const views = sessions.map((s) => viewSession(s, { now, shortLength, home }));
  const withTags = views.some((v) => v.tags.length > 0);
  // Every text of a view is printable (control characters escaped).
  const rows = views.map((v, i) => {
    const usage = sessions[i]!.usage;
    return [
      v.shortId,
      v.name === null ? "-" : printable(v.name),
      paintStatus(v.statusText + (held[v.id] ? " (log held back)" : ""), v.status, color),
      usage ? shortBytes(usage.rss) : "-",
      usage?.cpu != null ? `${Math.round(usage.cpu)}%` : "-",
      ...(withTags ? [printable(v.tags.join(",")) || "-"] : []),
      formatDuration(v.ageMs),
      v.dir,
    ];
  });
  const header = [
    "ID",
    "NAME",
    "STATUS",
    "MEM",
    "CPU",
    ...(withTags ? ["TAGS"] : []),
    "AGE",
    "DIR",
  ];
  printText(table(header, rows));
  const heldIds = Object.keys(held);
  if (heldIds.length > 0) {
    console.error(
      `logging is held back for ${heldIds.length} session(s): ${held[heldIds[0]!]}; ` +
        `their output waits (nothing is lost) until the disk has space`,
    );
  }
  return 0;
}

/** `ls --hosts`: every machine's sessions, in one table with a HOST column. */
async function listHosts(args: Parsed, spec: string): Promise<number> {
  const p = paths();
  // Loaded only for --hosts: a plain ls starts faster without it.
  const { askHosts, hostsOf } = await import("./_hosts.ts");
  const hosts = await hostsOf(spec, p, "ls");
  const tag = strOpt(args, "tag");
  const answers = await askHosts(
    hosts,
    p,
    (c) =>
      c.request("ls", {
        all: boolOpt(args, "all"),
        ...(boolOpt(args, "json") ? {} : { brief: true }),
        ...(tag !== undefined ? { tag } : {}),
      }),
    tag !== undefined ? { require: [FEATURES.tags] } : {},
  );
  const failed = answers.some((a) => "error" in a);
  if (boolOpt(args, "json")) {
    console.log(JSON.stringify(
      answers.map((a) =>
        "error" in a
          ? { host: a.host, error: a.error }
          : { host: a.host, sessions: a.value.sessions }
      ),
      null,
      2,
    ));
    return failed ? 1 : 0;
  }
  const color = useColor();
  const now = Date.now();
  const home = Deno.env.get("HOME");
  const rows: string[][] = [];
  for (const a of answers) {
    if ("error" in a) {
      rows.push([
        printable(a.host),
        "-",
        "-",
        paintStatus("unreachable", "exited", color),
        "-",
        "-",
      ]);
      continue;
    }
    for (const s of a.value.sessions) {
      const v = viewSession(s, {
        now,
        shortLength: a.value.shortLength,
        home: a.host === "local" ? home : undefined,
      });
      rows.push([
        printable(a.host),
        v.shortId,
        v.name === null ? "-" : printable(v.name),
        paintStatus(v.statusText, v.status, color),
        formatDuration(v.ageMs),
        v.dir,
      ]);
    }
  }
  console.log(table(["HOST", "ID", "NAME", "STATUS", "AGE", "DIR"], rows));
  for (const a of answers) {
    if ("error" in a) {
      console.error(printable(`claude-sessions: ${a.host}: unreachable: ${a.error}`));
    }
  }
  return failed ? 1 : 0;
}
