/**
 * Command-line parsing, with generated `--help`.
 *
 * @module
 */

import { UsageError } from "./_errors.ts";

/** One option of a command. */
export interface OptionSpec {
  type: "boolean" | "string";
  short?: string;
  /** Placeholder shown in help for string options, e.g. `NAME`. */
  arg?: string;
  multiple?: boolean;
  description: string;
}

/** A command's interface, used for parsing and for `--help`. */
export interface CommandSpec {
  name: string;
  aliases?: string[];
  /** Usage line after `claude-sessions `, e.g. `new [DIR] [--name NAME] [-- ARGS…]`. */
  usage: string;
  summary: string;
  /** Extra paragraphs shown by `--help`. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Allowed number of positionals. */
  positionals: { min: number; max: number; names?: string };
  /** Whether arguments after `--` are accepted (returned as `rest`). */
  dashDash?: boolean;
  /**
   * False for commands that only make sense on this machine (the daemon
   * itself, its service, doctor): they take no `--host`.
   */
  remote?: boolean;
  /**
   * Arguments `-WORD` (WORD starting with a letter or digit) are positionals,
   * not short options (`tag ID +T -T`); long options still work.
   */
  signedWords?: boolean;
}

/** Parsed arguments. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Arguments after `--`. */
  rest: string[];
  help: boolean;
}

/**
 * Parses `argv` for `spec`: `--name value`, `--name=value`, `-n value`,
 * boolean flags (`-ab` groups them), positionals, and arguments after `--`.
 * (Hand-written: `node:util` alone costs more start-up time than the rest of
 * a command.)
 * @throws {UsageError} on unknown options, missing values or wrong positional counts
 */
export function parse(spec: CommandSpec, argv: string[]): Parsed {
  const dd = argv.indexOf("--");
  const before = dd === -1 ? argv : argv.slice(0, dd);
  const rest = dd === -1 ? [] : argv.slice(dd + 1);
  if (dd !== -1 && !spec.dashDash) {
    throw new UsageError(`"${spec.name}" takes no arguments after --`, spec.name);
  }
  const options: Record<string, OptionSpec> = {
    ...spec.options,
    ...(spec.remote === false ? {} : { host: HOST_OPTION }),
    help: { type: "boolean", short: "h", description: "show this help" },
  };
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) if (o.short) byShort.set(o.short, name);
  const label = (name: string) => {
    const o = options[name]!;
    return `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? " <value>" : ""}`;
  };
  const fail = (msg: string): never => {
    throw new UsageError(msg, spec.name);
  };
  const values: Parsed["values"] = {};
  const positionals: string[] = [];
  const set = (name: string, value: string | boolean) => {
    const o = options[name]!;
    if (o.multiple) {
      const prev = values[name];
      values[name] = [...(Array.isArray(prev) ? prev : []), String(value)];
    } else {
      values[name] = value;
    }
  };
  for (let i = 0; i < before.length; i++) {
    const arg = before[i]!;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const o = options[name];
      if (!o) fail(`unknown option '--${name}'`);
      if (o!.type === "boolean") {
        if (eq !== -1) fail(`option '${label(name)}' does not take an argument`);
        set(name, true);
      } else if (eq !== -1) {
        set(name, arg.slice(eq + 1));
      } else {
        const v = before[i + 1];
        if (v === undefined) fail(`option '${label(name)}' argument missing`);
        if (v!.startsWith("-") && v!.length > 1) {
          fail(`option '${label(name)}' argument is ambiguous (use --${name}=${v})`);
        }
        set(name, v!);
        i++;
      }
    } else if (spec.signedWords && /^-[A-Za-z0-9]/.test(arg)) {
      positionals.push(arg);
    } else if (arg.startsWith("-") && arg.length > 1) {
      // -abc: boolean shorts grouped; a string option takes the rest or the next argument.
      for (let k = 1; k < arg.length; k++) {
        const name = byShort.get(arg[k]!);
        if (!name) fail(`unknown option '-${arg[k]}'`);
        if (options[name!]!.type === "boolean") {
          set(name!, true);
          continue;
        }
        let v: string | undefined = arg.slice(k + 1);
        if (v === "") {
          v = before[i + 1];
          if (v === undefined) fail(`option '${label(name!)}' argument missing`);
          if (v!.startsWith("-") && v!.length > 1) {
            fail(`option '${label(name!)}' argument is ambiguous (use --${name}=${v})`);
          }
          i++;
        }
        set(name!, v!);
        break;
      }
    } else {
      positionals.push(arg);
    }
  }
  const help = values.help === true;
  if (!help) {
    const n = positionals.length;
    if (n < spec.positionals.min) {
      fail(
        `missing ${spec.positionals.names ?? "argument"} (usage: claude-sessions ${spec.usage})`,
      );
    }
    if (n > spec.positionals.max) {
      fail(
        `unexpected argument "${
          positionals[spec.positionals.max]
        }" (usage: claude-sessions ${spec.usage})`,
      );
    }
  }
  return { values, positionals, rest, help };
}

/** `--host`, which every command that can act on another machine takes. */
export const HOST_OPTION: OptionSpec = {
  type: "string",
  short: "H",
  arg: "HOST",
  description:
    "act on another machine: ssh://[user@]host[:port] or a name in config hosts (also $CLAUDE_SESSIONS_HOST; local: this one)",
};

/** Renders `--help` for a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: claude-sessions ${spec.usage}`, "", spec.summary];
  if (spec.aliases?.length) lines.push(`Alias: ${spec.aliases.join(", ")}`);
  if (spec.details) lines.push("", spec.details.trim());
  const opts = Object.entries(spec.options);
  lines.push("", "Options:");
  const rows: [string, string][] = opts.map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : "    "}--${name}${
      o.type === "string" ? ` ${o.arg ?? "VALUE"}` : ""
    }`,
    o.description,
  ]);
  if (spec.remote !== false) rows.push([`-H, --host ${HOST_OPTION.arg}`, HOST_OPTION.description]);
  // With signed words, -h is a word (tag: remove the tag "h").
  rows.push([spec.signedWords ? "    --help" : "-h, --help", "show this help"]);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [a, b] of rows) lines.push(`  ${a.padEnd(w)}  ${b}`);
  return lines.join("\n");
}

/** The string value of an option, if given. */
export function strOpt(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

/** Whether a boolean option was given. */
export function boolOpt(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** Every value of a repeatable option (empty when not given). */
export function listOpt(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}
