/**
 * `config.jsonc`: JSON with comments, optional. Every key has a default; a
 * missing file means all defaults. Unknown keys are warned about, never fatal;
 * a syntax error or a value of the wrong type is an error naming the file,
 * line and column.
 *
 * @module
 */

import { DEFAULT_SCROLLBACK } from "./daemon/limits.ts";
import {
  findNodeAtLocation,
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import { parseDetachKey } from "./keys.ts";
import { OwnershipError, readOwnTextFile } from "./ownership.ts";
import { parseBytes, parsePercent } from "./bytes.ts";

/** The effective configuration (defaults merged with the file). */
export interface Config {
  claude: {
    /** Program started for each session. */
    command: string;
    /** Arguments always passed to it, before the user's `-- ARGS`. */
    args: string[];
    /**
     * Inject status hooks (`--settings`): true, false, or "auto" (when the
     * command's name starts with "claude").
     */
    hooks: boolean | "auto";
  };
  resume: {
    /** Resume sessions that were live when the daemon stopped or died, at its next start. */
    onDaemonStart: boolean;
  };
  kill: {
    /** Seconds between SIGHUP, SIGTERM and SIGKILL when stopping a session. */
    graceSeconds: number;
  };
  /** Lines of scrollback in each session's screen model. */
  scrollback: number;
  /** Key that detaches `attach`: a prefix and a key ("C-b d"), or one control key. */
  detachKey: string;
  log: LogConfig;
  /** Other machines, by name (`--host NAME`): see {@linkcode HostConfig}. */
  hosts: Record<string, HostConfig>;
  notify: NotifyConfig;
  limits: LimitsConfig;
  hibernate: {
    /**
     * Minutes a Claude session may sit idle (see the README) before it is
     * hibernated; 0: never.
     */
    afterMinutes: number;
  };
}

/** One entry of `hosts`. */
export interface HostConfig {
  /** `ssh://[user@]host[:port]`. */
  url: string;
  /** The program on that host (default: `claude-sessions` on its PATH, else `~/.local/bin/`). */
  command?: string;
  /** `CLAUDE_SESSIONS_HOME` on that host (default: its own default). */
  home?: string;
  /** More arguments for `ssh` (e.g. `["-i", "~/.ssh/id_box"]`). */
  ssh?: string[];
}

/** The statuses a notification can be raised for. */
export const NOTIFY_STATUSES = ["waiting_permission", "waiting_input"] as const;
/** One of {@linkcode NOTIFY_STATUSES}. */
export type NotifyStatusName = typeof NOTIFY_STATUSES[number];

/** Notification settings (`notify.*`). */
export interface NotifyConfig {
  /** Whether the daemon raises notifications at all. */
  enabled: boolean;
  /** The statuses that raise one. */
  on: NotifyStatusName[];
  /** Run with `/bin/sh -c` instead of the desktop notifier; null: the desktop notifier. */
  command: string | null;
  /** A notifier still running after this many seconds is killed. */
  timeoutSeconds: number;
}

/** Resource limits (`limits.*`). */
export interface LimitsConfig {
  /** Memory per session in bytes (its whole process tree); null: none. */
  memory: number | null;
  /** CPU per session in percent of one core; null: none. */
  cpu: number | null;
  /** At most this many sessions with a live process; 0: no bound. */
  maxLive: number;
  /** Beyond `maxLive`: queue the new one, or hibernate the idlest session to make room. */
  whenFull: "queue" | "hibernate";
  /**
   * How limits are enforced: `auto` (systemd, else a cgroup, else the
   * daemon), or one of them.
   */
  enforcement: "auto" | "systemd" | "cgroup" | "daemon";
}

/** Session I/O log settings (`log.*`). */
export interface LogConfig {
  /** Whether session I/O is logged at all. */
  enabled: boolean;
  /** Size at which `<id>.jsonl` is rotated. */
  maxBytes: number;
  /** Rotated archives kept per session. */
  keep: number;
  /** Logs of sessions exited longer ago than this are deleted (0: never). */
  retentionDays: number;
  /** Log bytes a session may have waiting for the disk before its output is paused. */
  maxBufferBytes: number;
}

type Kind =
  | "string"
  | "string[]"
  | "number"
  | "integer"
  | "boolean"
  | "boolean|auto"
  | "hosts"
  | "size"
  | "percent"
  | "enum";

interface KeySpec {
  kind: Kind;
  /** The values an `enum` takes. */
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Extra validation: an error message, or null when the value is fine. */
  check?: (value: unknown) => string | null;
  doc: string;
}

/** Every known key (dotted path), its type and documentation. */
export const CONFIG_KEYS: Record<string, KeySpec> = {
  "claude.command": { kind: "string", doc: "program run in each session (default: claude)" },
  "claude.args": { kind: "string[]", doc: "arguments always passed to it (default: [])" },
  "claude.hooks": {
    kind: "boolean|auto",
    doc: 'inject status hooks: true, false or "auto" (command named claude*; default: "auto")',
  },
  "resume.onDaemonStart": {
    kind: "boolean",
    doc: "resume sessions the daemon stopped or lost, when it starts again (default: true)",
  },
  "kill.graceSeconds": {
    kind: "number",
    min: 0,
    max: 60,
    doc: "seconds between SIGHUP, SIGTERM and SIGKILL when stopping (default: 2)",
  },
  scrollback: {
    kind: "integer",
    min: 0,
    max: 1_000_000,
    doc: `lines of scrollback in each session's screen model (default: ${DEFAULT_SCROLLBACK})`,
  },
  detachKey: {
    kind: "string",
    check: (v) => {
      try {
        parseDetachKey(v as string);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    },
    doc:
      'key that detaches attach: "C-b d" (prefix, then key) or one control key (default: "C-b d")',
  },
  "log.enabled": { kind: "boolean", doc: "log every session's I/O (default: true)" },
  "log.maxBytes": {
    kind: "integer",
    min: 1024,
    doc: "size at which <id>.jsonl is rotated (default: 16 MiB)",
  },
  "log.keep": {
    kind: "integer",
    min: 0,
    max: 1000,
    doc: "rotated archives kept per session (default: 5)",
  },
  "log.retentionDays": {
    kind: "number",
    min: 0,
    doc: "delete logs of sessions exited longer ago; 0 keeps them forever (default: 30)",
  },
  hosts: {
    kind: "hosts",
    doc: 'other machines: name → "ssh://[user@]host[:port]" or {url, command, home, ssh}',
  },
  "log.maxBufferBytes": {
    kind: "integer",
    min: 65536,
    doc: "log bytes waiting for the disk before a session's output is paused (default: 8 MiB)",
  },
  "notify.enabled": {
    kind: "boolean",
    doc: "notify when a session waits for you (default: true)",
  },
  "notify.on": {
    kind: "string[]",
    check: (v) => {
      const bad = (v as string[]).find((s) => !(NOTIFY_STATUSES as readonly string[]).includes(s));
      return bad === undefined
        ? null
        : `"notify.on" takes ${NOTIFY_STATUSES.join(" and ")}, not "${bad}"`;
    },
    doc: 'statuses that notify (default: ["waiting_permission", "waiting_input"])',
  },
  "notify.command": {
    kind: "string",
    doc: "run with /bin/sh -c instead of the desktop notifier (default: none)",
  },
  "notify.timeoutSeconds": {
    kind: "number",
    min: 1,
    max: 600,
    doc: "kill a notifier still running after this many seconds (default: 10)",
  },
  "limits.memory": {
    kind: "size",
    doc: 'memory per session, e.g. "2G"; null: none (default: null)',
  },
  "limits.cpu": {
    kind: "percent",
    doc: 'CPU per session in percent of one core, e.g. "150%"; null: none (default: null)',
  },
  "limits.maxLive": {
    kind: "integer",
    min: 0,
    max: 100_000,
    doc: "at most this many sessions with a live process; 0: no bound (default: 0)",
  },
  "limits.whenFull": {
    kind: "enum",
    values: ["queue", "hibernate"],
    doc: 'beyond maxLive: "queue" the new session, or "hibernate" the idlest (default: "queue")',
  },
  "limits.enforcement": {
    kind: "enum",
    values: ["auto", "systemd", "cgroup", "daemon"],
    doc: 'how limits are enforced: "auto", "systemd", "cgroup" or "daemon" (default: "auto")',
  },
  "hibernate.afterMinutes": {
    kind: "number",
    min: 0,
    doc: "hibernate a Claude session idle this many minutes; 0: never (default: 0)",
  },
};

/** The built-in defaults. */
export function defaultConfig(): Config {
  return {
    claude: { command: "claude", args: [], hooks: "auto" },
    resume: { onDaemonStart: true },
    kill: { graceSeconds: 2 },
    scrollback: DEFAULT_SCROLLBACK,
    detachKey: "C-b d",
    log: {
      enabled: true,
      maxBytes: 16 * 1024 * 1024,
      keep: 5,
      retentionDays: 30,
      maxBufferBytes: 8 * 1024 * 1024,
    },
    hosts: {},
    notify: {
      enabled: true,
      on: ["waiting_permission", "waiting_input"],
      command: null,
      timeoutSeconds: 10,
    },
    limits: { memory: null, cpu: null, maxLive: 0, whenFull: "queue", enforcement: "auto" },
    hibernate: { afterMinutes: 0 },
  };
}

/** A config file that cannot be used; the message names file:line:column. */
export class ConfigError extends Error {
  /** @param message `path:line:col: what is wrong` */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A loaded configuration and the warnings found while loading it. */
export interface LoadedConfig {
  config: Config;
  warnings: string[];
  /** Modification time of the file (ms), or null when there is no file. */
  mtime: number | null;
}

/**
 * Reads and validates `path`. A missing file yields the defaults. The file
 * (or what a symbolic link there points to) must be a regular file owned by
 * this user: it says what program the daemon runs.
 * @throws {ConfigError} on a syntax error or a wrongly typed value, or a file of another user's
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  let mtime: number | null = null;
  try {
    const stat = await Deno.stat(path);
    mtime = stat.mtime?.getTime() ?? 0;
    text = await readOwnTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { config: defaultConfig(), warnings: [], mtime: null };
    }
    if (e instanceof OwnershipError) throw new ConfigError(e.message);
    throw new ConfigError(`${path}: cannot read: ${(e as Error).message}`);
  }
  return { ...parseConfig(text, path), mtime };
}

/**
 * Parses and validates config text.
 * @throws {ConfigError} on a syntax error or a wrongly typed value
 */
export function parseConfig(text: string, path: string): { config: Config; warnings: string[] } {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
    allowEmptyContent: true,
  });
  const first = errors[0];
  if (first) {
    throw new ConfigError(
      `${where(path, text, first.offset)}: ${describeParseError(printParseErrorCode(first.error))}`,
    );
  }
  const config = defaultConfig();
  const warnings: string[] = [];
  if (!root) return { config, warnings };
  if (root.type !== "object") {
    throw new ConfigError(`${where(path, text, root.offset)}: the file must hold a JSON object`);
  }
  walk(root, "", text, path, warnings);
  for (const key of Object.keys(CONFIG_KEYS)) {
    const node = findNodeAtLocation(root, key.split("."));
    if (!node) continue;
    const value = readValue(node, key, text, path);
    const problem = CONFIG_KEYS[key]!.check?.(value);
    if (problem) throw new ConfigError(`${where(path, text, node.offset)}: ${problem}`);
    assign(config, key, value);
  }
  return { config, warnings };
}

function walk(node: Node, prefix: string, text: string, path: string, warnings: string[]): void {
  for (const prop of node.children ?? []) {
    const keyNode = prop.children?.[0];
    const valueNode = prop.children?.[1];
    if (!keyNode || !valueNode) continue;
    const key = prefix + String(keyNode.value);
    if (key in CONFIG_KEYS) continue;
    const isGroup = Object.keys(CONFIG_KEYS).some((k) => k.startsWith(key + "."));
    if (isGroup) {
      if (valueNode.type !== "object") {
        throw new ConfigError(`${where(path, text, valueNode.offset)}: "${key}" must be an object`);
      }
      walk(valueNode, key + ".", text, path, warnings);
    } else {
      warnings.push(`${where(path, text, keyNode.offset)}: unknown key "${key}" (ignored)`);
    }
  }
}

function readValue(node: Node, key: string, text: string, path: string): unknown {
  const spec = CONFIG_KEYS[key]!;
  const at = where(path, text, node.offset);
  const fail = (what: string): never => {
    throw new ConfigError(`${at}: "${key}" must be ${what}`);
  };
  switch (spec.kind) {
    case "string":
      if (node.type !== "string") fail("a string");
      if ((node.value as string).length === 0) fail("a non-empty string");
      return node.value;
    case "string[]":
      if (node.type !== "array") fail("an array of strings");
      for (const item of node.children ?? []) {
        if (item.type !== "string") fail("an array of strings");
      }
      return (node.children ?? []).map((c) => c.value as string);
    case "boolean":
      if (node.type !== "boolean") fail("true or false");
      return node.value;
    case "boolean|auto":
      if (node.type !== "boolean" && node.value !== "auto") fail('true, false or "auto"');
      return node.value;
    case "hosts":
      return readHosts(node, text, path);
    case "size":
    case "percent": {
      if (node.type === "null") return null;
      const what = spec.kind === "size"
        ? 'a size such as "2G" or "512M" (or a number of bytes), or null'
        : 'a percentage of one core such as "150%" (or a number), or null';
      if (node.type === "number") {
        const n = node.value as number;
        if (!(n > 0) || (spec.kind === "size" && !Number.isSafeInteger(n))) fail(what);
        return n;
      }
      if (node.type !== "string") fail(what);
      const parsed = spec.kind === "size"
        ? parseBytes(node.value as string)
        : parsePercent(node.value as string);
      return parsed ?? fail(what);
    }
    case "enum":
      if (node.type !== "string" || !spec.values!.includes(node.value as string)) {
        fail(`one of ${spec.values!.map((v) => `"${v}"`).join(", ")}`);
      }
      return node.value;
    case "number":
    case "integer": {
      if (node.type !== "number") fail("a number");
      const n = node.value as number;
      if (spec.kind === "integer" && !Number.isInteger(n)) fail("an integer");
      if (spec.min !== undefined && n < spec.min) fail(`at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) fail(`at most ${spec.max}`);
      return n;
    }
  }
}

function assign(config: Config, key: string, value: unknown): void {
  const parts = key.split(".");
  // deno-lint-ignore no-explicit-any
  let obj: any = config;
  for (const part of parts.slice(0, -1)) obj = obj[part];
  obj[parts[parts.length - 1]!] = value;
}

const HOST_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `hosts`: name → `"ssh://…"` or `{url, command?, home?, ssh?}`. */
function readHosts(node: Node, text: string, path: string): Record<string, HostConfig> {
  if (node.type !== "object") {
    throw new ConfigError(`${where(path, text, node.offset)}: "hosts" must be an object`);
  }
  const out: Record<string, HostConfig> = {};
  for (const prop of node.children ?? []) {
    const [k, v] = prop.children ?? [];
    if (!k || !v) continue;
    const name = String(k.value);
    const at = where(path, text, v.offset);
    if (!HOST_NAME_RE.test(name) || name === "local" || name === "all") {
      throw new ConfigError(
        `${
          where(path, text, k.offset)
        }: invalid host name "${name}": use letters, digits, ".", "_" or "-" ("local" and "all" are taken)`,
      );
    }
    const entry: HostConfig = { url: "" };
    if (v.type === "string") {
      entry.url = v.value as string;
    } else if (v.type === "object") {
      for (const f of v.children ?? []) {
        const [fk, fv] = f.children ?? [];
        if (!fk || !fv) continue;
        const field = String(fk.value);
        const fat = where(path, text, fv.offset);
        if (field === "url" || field === "command" || field === "home") {
          if (fv.type !== "string" || (fv.value as string) === "") {
            throw new ConfigError(`${fat}: "hosts.${name}.${field}" must be a non-empty string`);
          }
          entry[field] = fv.value as string;
        } else if (field === "ssh") {
          if (fv.type !== "array" || (fv.children ?? []).some((c) => c.type !== "string")) {
            throw new ConfigError(`${fat}: "hosts.${name}.ssh" must be an array of strings`);
          }
          entry.ssh = (fv.children ?? []).map((c) => c.value as string);
        } else {
          throw new ConfigError(
            `${
              where(path, text, fk.offset)
            }: unknown key "hosts.${name}.${field}" (url, command, home, ssh)`,
          );
        }
      }
    } else {
      throw new ConfigError(`${at}: "hosts.${name}" must be "ssh://…" or an object with "url"`);
    }
    if (!/^ssh:\/\/[^/\s]+\/?$/.test(entry.url)) {
      throw new ConfigError(`${at}: "hosts.${name}" needs a url ssh://[user@]host[:port]`);
    }
    out[name] = entry;
  }
  return out;
}

/** `path:line:column` (1-based) of a character offset in `text`. */
function where(path: string, text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return `${path}:${line}:${col}`;
}

function describeParseError(code: string): string {
  // "InvalidSymbol" -> "invalid symbol"
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}
