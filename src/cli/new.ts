/**
 * `new [DIR] [--name NAME] [-- ARGS…]`: start a session.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import type { SessionRecord } from "../protocol.ts";
import { listOpt, strOpt } from "./_args.ts";
import { FEATURES } from "../protocol.ts";
import { connectOrStart, remoteTarget } from "./_connect.ts";
import { reportStarted } from "./_started.ts";
import { CliError, UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { parseBytes, parsePercent } from "../bytes.ts";

/** `--memory`/`--cpu`: a value, "none" (null), or absent (undefined). */
export function parseLimit(
  text: string | undefined,
  kind: "memory" | "cpu",
): number | null | undefined {
  if (text === undefined) return undefined;
  if (text.trim().toLowerCase() === "none") return null;
  const v = kind === "memory" ? parseBytes(text) : parsePercent(text);
  if (v === null) {
    throw new UsageError(
      kind === "memory"
        ? `invalid --memory "${text}": expected a size such as 2G or 512M, or "none"`
        : `invalid --cpu "${text}": expected a percentage of one core such as 150%, or "none"`,
      "new",
    );
  }
  return v;
}

/** Command interface. */
export const spec: CommandSpec = {
  name: "new",
  aliases: ["start"],
  usage:
    "new [DIR] [--name NAME] [--tag TAG]… [--resume CONV_ID | --session-id UUID] [--size COLSxROWS] [--memory SIZE] [--cpu PERCENT] [--attach] [--json] [-- ARGS…]",
  summary: "Start a session in DIR (default: the current directory) and print its id.",
  details: `
The program is config claude.command (default "claude") with config
claude.args, then ARGS. The session's environment is this command's
environment plus CLAUDE_SESSIONS_ID and CLAUDE_SESSIONS_HOME; TERM defaults
to xterm-256color. Starts the daemon when none is running.

--memory and --cpu bound the session's whole process tree instead of config
limits.memory and limits.cpu ("none": no limit). Beyond config
limits.maxLive the session is queued (status "queued", said on stderr) and
starts when a slot frees.`,
  options: {
    name: {
      type: "string",
      short: "n",
      arg: "NAME",
      description: "name the session (unique among live sessions)",
    },
    tag: {
      type: "string",
      short: "t",
      arg: "TAG",
      multiple: true,
      description: "tag the session (repeatable; see: claude-sessions tag --help)",
    },
    size: {
      type: "string",
      arg: "COLSxROWS",
      description: "terminal size (default: this terminal's, else 120x40)",
    },
    json: { type: "boolean", description: "print the session record as JSON" },
    attach: { type: "boolean", short: "a", description: "attach to it right away" },
    resume: {
      type: "string",
      short: "r",
      arg: "CONV_ID",
      description: "continue a Claude conversation (refused if a live session has it open)",
    },
    "session-id": {
      type: "string",
      arg: "UUID",
      description: "give the new Claude conversation this id",
    },
    memory: {
      type: "string",
      arg: "SIZE",
      description: 'memory limit, e.g. 2G or 512M, or "none" (default: config limits.memory)',
    },
    cpu: {
      type: "string",
      arg: "PERCENT",
      description:
        'CPU limit in percent of one core, e.g. 150%, or "none" (default: config limits.cpu)',
    },
  },
  positionals: { min: 0, max: 1, names: "DIR" },
  dashDash: true,
};

/** Says on stderr that a session waits for a slot (limits.maxLive). */
export function noteQueued(session: SessionRecord): void {
  if (session.status !== "queued") return;
  const why = session.history.at(-1)?.detail;
  console.error(
    `claude-sessions: note: queued${why ? ` (${why})` : ""}: it starts when a slot frees`,
  );
}

/** Parses "120x40". */
export function parseSize(text: string): { cols: number; rows: number } {
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(text);
  const cols = m ? Number(m[1]) : 0;
  const rows = m ? Number(m[2]) : 0;
  if (!m || cols < 1 || rows < 1 || cols > 1000 || rows > 1000) {
    throw new UsageError(`invalid --size "${text}": expected COLSxROWS, e.g. 120x40`, "new");
  }
  return { cols, rows };
}

/**
 * Checks DIR before anything starts; returns it absolute. (Synchronous: two
 * quick system calls, without the async ops' round trips on `new`'s start.)
 */
export function checkDir(dir: string | undefined): string {
  const cwd = Deno.cwd();
  const abs = dir === undefined ? cwd : dir.startsWith("/") ? dir : `${cwd}/${dir}`;
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(abs);
  } catch {
    throw new CliError(`no such directory: ${dir ?? abs}`);
  }
  if (!st.isDirectory) throw new CliError(`not a directory: ${dir ?? abs}`);
  return Deno.realPathSync(abs);
}

/** DIR for a session on another machine: absolute there, or `~/…` (its home there). */
function remoteDir(args: Parsed, host: string): string {
  const dir = args.positionals[0];
  if (dir === undefined) {
    throw new UsageError(`give the directory on ${host} (an absolute path, or ~/…)`, "new");
  }
  return checkRemoteDir(dir, host);
}

/**
 * Checks a directory on another machine: absolute there, or `~`/`~/…` (its
 * home there); its daemon checks that it exists.
 * @throws {UsageError} for anything else
 */
export function checkRemoteDir(dir: string, host: string): string {
  if (!dir.startsWith("/") && dir !== "~" && !dir.startsWith("~/")) {
    throw new UsageError(
      `the directory on ${host} must be absolute (or ~/…): "${dir}" would depend on this machine's current directory`,
      "new",
    );
  }
  return dir;
}

/** The local terminal's size, when there is one. */
export function terminalSize(): { cols: number; rows: number } | null {
  for (const f of [Deno.stdout, Deno.stdin, Deno.stderr]) {
    try {
      if (f.isTerminal()) {
        const { columns, rows } = Deno.consoleSize();
        if (columns > 0 && rows > 0) return { cols: columns, rows };
      }
    } catch { /* not a terminal */ }
  }
  return null;
}

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const remote = remoteTarget();
  // On another machine, DIR is a path there: its daemon checks it.
  const cwd = remote === null ? checkDir(args.positionals[0]) : remoteDir(args, remote);
  const sizeOpt = strOpt(args, "size");
  const size = sizeOpt ? parseSize(sizeOpt) : terminalSize();
  const memory = parseLimit(strOpt(args, "memory"), "memory");
  const cpu = parseLimit(strOpt(args, "cpu"), "cpu");
  const tags = listOpt(args, "tag");
  const client = await connectOrStart(paths(), tags.length > 0 ? { require: [FEATURES.tags] } : {});
  try {
    // Here, the session gets this command's environment; on another
    // machine, the daemon's own there (this one's PATH and HOME mean nothing there).
    const params: Parameters<typeof client.request<"new">>[1] = remote === null
      ? { cwd, env: Deno.env.toObject() }
      : { cwd };
    const name = strOpt(args, "name");
    if (name !== undefined) params.name = name;
    if (args.rest.length > 0) params.args = args.rest;
    if (tags.length > 0) params.tags = tags;
    const resume = strOpt(args, "resume");
    if (resume !== undefined) params.resume = resume;
    const sessionId = strOpt(args, "session-id");
    if (sessionId !== undefined) params.sessionId = sessionId;
    if (size) {
      params.cols = size.cols;
      params.rows = size.rows;
    }
    if (memory !== undefined) params.memory = memory;
    if (cpu !== undefined) params.cpu = cpu;
    const { session, notices } = await client.request("new", params);
    for (const n of notices ?? []) console.error(`claude-sessions: note: ${n}`);
    noteQueued(session);
    return await reportStarted(client, session, args);
  } finally {
    client.close();
  }
}
