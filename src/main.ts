/**
 * claude-sessions CLI entry point: finds the command, loads only its module,
 * parses its arguments and runs it. Errors are reported once, here, as one
 * line on stderr.
 *
 * Exit codes: 0 ok, 1 error, 2 usage, 124 timeout (`wait`).
 *
 * @module
 */

import { VERSION } from "./version.ts";
import { type CommandSpec, helpText, parse, type Parsed, strOpt } from "./cli/_args.ts";
import { EXIT, UsageError } from "./cli/_errors.ts";
import { UserError } from "./errors.ts";
import { claimLauncher } from "./self.ts";
import { printable } from "./printable.ts";

/** What each command module exports. */
export interface CommandModule {
  spec: CommandSpec;
  run(args: Parsed): Promise<number | void>;
}

interface Entry {
  summary: string;
  aliases?: string[];
  load: () => Promise<CommandModule>;
}

/** Every command, in the order `--help` lists them. */
const COMMANDS: Record<string, Entry> = {
  new: {
    summary: "start a session (Claude Code in a PTY owned by the daemon)",
    aliases: ["start"],
    load: () => import("./cli/new.ts"),
  },
  ls: {
    summary: "list sessions",
    aliases: ["list"],
    load: () => import("./cli/ls.ts"),
  },
  kill: {
    summary: "stop sessions (their whole process group)",
    aliases: ["stop"],
    load: () => import("./cli/kill.ts"),
  },
  attach: {
    summary: "attach this terminal to a session (detach: Ctrl-B d)",
    load: () => import("./cli/attach.ts"),
  },
  watch: {
    summary: "a live full-screen table of every session, what waits for you first",
    load: () => import("./cli/watch.ts"),
  },
  next: {
    summary: "the session that has waited longest for you (print it or attach)",
    load: () => import("./cli/next.ts"),
  },
  tag: { summary: "add and remove a session's tags", load: () => import("./cli/tag.ts") },
  send: { summary: "type text or keys into a session", load: () => import("./cli/send.ts") },
  peek: { summary: "print a session's screen", load: () => import("./cli/peek.ts") },
  resume: {
    summary: "start an exited session again, continuing its conversation",
    load: () => import("./cli/resume.ts"),
  },
  hibernate: {
    summary: "stop idle Claude sessions to free their memory (woken by attach, send, wake)",
    load: () => import("./cli/hibernate.ts"),
  },
  wake: {
    summary: "wake hibernated sessions (claude --resume, where they were)",
    load: () => import("./cli/wake.ts"),
  },
  rm: { summary: "remove exited sessions (records and logs)", load: () => import("./cli/rm.ts") },
  status: { summary: "show the daemon's state", load: () => import("./cli/status.ts") },
  wait: { summary: "wait until a session reaches a status", load: () => import("./cli/wait.ts") },
  events: {
    summary: "stream session events as they happen",
    load: () => import("./cli/events.ts"),
  },
  notify: {
    summary: "send a test notification through the daemon's notifier",
    load: () => import("./cli/notify.ts"),
  },
  logs: {
    summary: "print a session's output (or input) from its I/O log",
    load: () => import("./cli/logs.ts"),
  },
  transcript: {
    summary: "print a session's conversation from Claude's transcript",
    load: () => import("./cli/transcript.ts"),
  },
  replay: {
    summary: "play a session's output back with its timing",
    load: () => import("./cli/replay.ts"),
  },
  export: {
    summary: "export a session's log (asciicast v2, or a .tar.gz bundle)",
    load: () => import("./cli/export.ts"),
  },
  daemon: { summary: "run the daemon", load: () => import("./cli/daemon.ts") },
  "stop-daemon": {
    summary: "stop the daemon (and its sessions) gracefully",
    load: () => import("./cli/stop_daemon.ts"),
  },
  "dial-stdio": {
    summary: "bridge stdin/stdout to the daemon (the transport of --host over ssh)",
    load: () => import("./cli/dial_stdio.ts"),
  },
  service: {
    summary: "install, remove, inspect or restart the user service (systemd/launchd)",
    load: () => import("./cli/service.ts"),
  },
  doctor: {
    summary: "check the install and say how to fix problems",
    load: () => import("./cli/doctor.ts"),
  },
};

function findCommand(name: string): [string, Entry] | null {
  if (COMMANDS[name]) return [name, COMMANDS[name]];
  for (const [n, e] of Object.entries(COMMANDS)) {
    if (e.aliases?.includes(name)) return [n, e];
  }
  return null;
}

function globalHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = [
    `claude-sessions ${VERSION} — run many Claude Code sessions under one daemon`,
    "",
    "Usage: claude-sessions <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([n, e]) =>
      `  ${n.padEnd(w)}  ${e.summary}${e.aliases ? ` (alias: ${e.aliases.join(", ")})` : ""}`
    ),
    "",
    "Sessions are named by full id, a unique id prefix, or their --name.",
    "Run `claude-sessions <command> --help` for a command's options.",
    "",
    "Environment: CLAUDE_SESSIONS_HOME (default ~/.claude-sessions) holds the",
    "socket, records, logs and config.jsonc. CLAUDE_SESSIONS_HOST (or -H/--host",
    "on a command) acts on another machine over ssh.",
    "Exit codes: 0 ok, 1 error, 2 usage, 3 waiting for permission (send --wait),",
    "124 timeout.",
  ];
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  // Before anything reads the environment: the launcher's own path must not
  // reach sessions.
  claimLauncher();
  const first = argv[0];
  if (first === undefined || first === "-h" || first === "--help") {
    console.log(globalHelp());
    return first === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (first === "-V" || first === "--version" || first === "version") {
    console.log(`claude-sessions ${VERSION}`);
    return EXIT.OK;
  }
  if (first === "help") {
    const topic = argv[1];
    if (!topic) {
      console.log(globalHelp());
      return EXIT.OK;
    }
    const found = findCommand(topic);
    if (!found) throw new UsageError(`unknown command "${topic}"`);
    console.log(helpText((await found[1].load()).spec));
    return EXIT.OK;
  }
  const found = findCommand(first);
  if (!found) {
    throw new UsageError(
      first.startsWith("-") ? `unknown option "${first}"` : `unknown command "${first}"`,
    );
  }
  const mod = await found[1].load();
  const parsed = parse(mod.spec, argv.slice(1));
  if (parsed.help) {
    console.log(helpText(mod.spec));
    return EXIT.OK;
  }
  if (mod.spec.remote !== false) {
    const { setTarget } = await import("./cli/_connect.ts");
    setTarget(strOpt(parsed, "host") ?? Deno.env.get("CLAUDE_SESSIONS_HOST"));
  }
  return (await mod.run(parsed)) ?? EXIT.OK;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (e instanceof UserError) {
      // Messages may echo what was typed, or names from the daemon.
      console.error(`claude-sessions: ${printable(e.message)}`);
      if (e.hint) console.error(`  ${printable(e.hint)}`);
      code = e.exitCode;
    } else {
      const err = e as Error;
      console.error(`claude-sessions: internal error: ${printable(String(err?.message ?? err))}`);
      if (Deno.env.get("CLAUDE_SESSIONS_DEBUG")) console.error(err?.stack);
      code = EXIT.ERROR;
    }
  }
  Deno.exit(code);
}
