/**
 * Command-line parsing on `node:util` `parseArgs`, with generated `--help`.
 *
 * @module
 */

import { parseArgs } from "node:util";
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
 * Parses `argv` for `spec`.
 * @throws {UsageError} on unknown options, missing values or wrong positional counts
 */
export function parse(spec: CommandSpec, argv: string[]): Parsed {
  const dd = argv.indexOf("--");
  const before = dd === -1 ? argv : argv.slice(0, dd);
  const rest = dd === -1 ? [] : argv.slice(dd + 1);
  if (dd !== -1 && !spec.dashDash) {
    throw new UsageError(`"${spec.name}" takes no arguments after --`, spec.name);
  }
  const options: Record<
    string,
    { type: "boolean" | "string"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type };
    if (o.short) options[name].short = o.short;
    if (o.multiple) options[name].multiple = true;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: before, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(cleanParseError((e as Error).message), spec.name);
  }
  const help = parsed.values.help === true;
  if (!help) {
    const n = parsed.positionals.length;
    if (n < spec.positionals.min) {
      throw new UsageError(
        `missing ${spec.positionals.names ?? "argument"} (usage: claude-sessions ${spec.usage})`,
        spec.name,
      );
    }
    if (n > spec.positionals.max) {
      throw new UsageError(
        `unexpected argument "${
          parsed.positionals[spec.positionals.max]
        }" (usage: claude-sessions ${spec.usage})`,
        spec.name,
      );
    }
  }
  return {
    values: parsed.values as Parsed["values"],
    positionals: parsed.positionals,
    rest,
    help,
  };
}

function cleanParseError(msg: string): string {
  // node's messages carry a trailing hint meant for scripts; keep the first sentence.
  const first = msg.split(". ")[0] ?? msg;
  return first.replace(/^Unknown option/, "unknown option").replace(/^Option/, "option");
}

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
  rows.push(["-h, --help", "show this help"]);
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
