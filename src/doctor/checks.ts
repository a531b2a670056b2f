/**
 * `doctor`'s checks: each looks at one thing and says ✓ (ok), ✗ (fail, with
 * a fix) or – (does not apply here). A check is one entry in
 * {@linkcode CHECKS}; add one by appending it.
 *
 * @module
 */

import type { Paths } from "../paths.ts";
import { ConfigError, defaultConfig, type LoadedConfig } from "../config.ts";
import { selfCommand, selfKind, shellQuote } from "../self.ts";
import { VERSION } from "../version.ts";
import { TIMED_OUT, within } from "../async.ts";
import { connectOrStart } from "../cli/_connect.ts";
import { Client } from "../client/client.ts";
import { resourceLines } from "../cli/status.ts";
import { hookCommand } from "../hooks.ts";
import { exists } from "../exists.ts";
import { formatBytes } from "../bytes.ts";
import { probeDaemon, type Service, type ServiceStatus } from "../service/service.ts";
import { findNotifier, notifyStatus } from "../notifier.ts";
import type { NotifyStatus } from "../protocol.ts";
import { type LoginShellAnswer, loginShellFinds, profileLine, userShell } from "./login_shell.ts";

/** Outcome of one check. */
export interface CheckResult {
  status: "ok" | "fail" | "skip";
  /** What was found. */
  detail: string;
  /** How to fix a failure. */
  fix?: string;
}

/** What the checks look at. */
export interface DoctorContext {
  paths: Paths;
  env: (name: string) => string | undefined;
  /** The service (manager detection and status). */
  service: () => Promise<Service>;
  /** The configuration (loaded once). */
  config(): Promise<LoadedConfig | ConfigError>;
  /** Service status (taken once, after the daemon check). */
  serviceStatus(): Promise<ServiceStatus>;
  /** Asks a new login shell what it runs for a command (tests replace it). */
  loginShell?: typeof loginShellFinds;
}

/** One check. */
export interface Check {
  /** Stable id, in `--json`. */
  id: string;
  /** Short title shown beside the mark. */
  title: string;
  run(ctx: DoctorContext): Promise<CheckResult>;
}

/** Minimum free space where the session logs go. */
export const MIN_FREE_BYTES = 200 * 1024 * 1024;
/** The oldest Deno the project runs on. */
export const MIN_DENO = [2, 9] as const;

const ok = (detail: string): CheckResult => ({ status: "ok", detail });
const fail = (detail: string, fix: string): CheckResult => ({ status: "fail", detail, fix });
const skip = (detail: string): CheckResult => ({ status: "skip", detail });

/** The program itself: version, binary or launcher, and the Deno under it. */
export const programCheck: Check = {
  id: "program",
  title: "claude-sessions",
  run() {
    const kind = selfKind();
    const self = selfCommand()[0] ?? "?";
    if (kind === "binary") return Promise.resolve(ok(`${VERSION}, compiled binary ${self}`));
    const deno = `deno ${Deno.version.deno} (${Deno.execPath()})`;
    const [major = 0, minor = 0] = Deno.version.deno.split(".").map(Number);
    if (major < MIN_DENO[0] || (major === MIN_DENO[0] && minor < MIN_DENO[1])) {
      return Promise.resolve(fail(
        `${VERSION} on ${deno}, older than ${MIN_DENO.join(".")}`,
        "re-run ./install.sh from the checkout (it installs a current Deno)",
      ));
    }
    return Promise.resolve(
      ok(
        kind === "launcher"
          ? `${VERSION}, launcher ${self} on ${deno}`
          : `${VERSION}, from source on ${deno}`,
      ),
    );
  },
};

/** `claude-sessions` on PATH is this program: as a new terminal's login shell finds it. */
export const pathCheck: Check = {
  id: "path",
  title: "on PATH",
  async run(ctx) {
    const kind = selfKind();
    const self = selfCommand()[0] ?? "";
    const onPath = await which("claude-sessions", ctx.env("PATH") ?? "");
    if (kind === "source") {
      return onPath
        ? ok(`claude-sessions is ${onPath} (this run is from source)`)
        : skip("running from source; ./install.sh installs claude-sessions on PATH");
    }
    const home = ctx.env("HOME") ?? "";
    const shell = await userShell(ctx.env);
    const login = await (ctx.loginShell ?? loginShellFinds)("claude-sessions", {
      shell,
      home,
      env: ctx.env,
    });
    return await judgePath(self, home, login, onPath);
  },
};

/**
 * The PATH verdict for the installed program `self`, from what a new login
 * shell finds (`onPath`, this process's own PATH, only when the shell could
 * not be asked).
 */
export async function judgePath(
  self: string,
  home: string,
  login: LoginShellAnswer,
  onPath: string | null,
): Promise<CheckResult> {
  const dir = self.slice(0, self.lastIndexOf("/"));
  const shellName = login.shell.split("/").pop();
  let found: string | null;
  let who: string;
  let note = "";
  if ("error" in login) {
    found = onPath;
    who = "PATH";
    note = ` (a login shell could not be asked: ${login.error})`;
  } else {
    found = login.found;
    who = `a new ${shellName} login shell`;
  }
  if (!found) {
    const { file, line } = await profileLine(login.shell, dir, home);
    return fail(
      `${who} does not find claude-sessions: ${dir} is not on its PATH${note}`,
      `add this line to ${file}, then open a new terminal: ${line}`,
    );
  }
  if ((await realPath(found)) !== (await realPath(self))) {
    return fail(
      `${who} finds ${found} before this one (${self})${note}`,
      `remove ${found}, or put ${dir} earlier on PATH`,
    );
  }
  return ok(`${found}${"error" in login ? note : ` (as a new ${shellName} login shell finds it)`}`);
}

/** Claude Code is found and answers `--version`. */
export const claudeCheck: Check = {
  id: "claude",
  title: "claude",
  async run(ctx) {
    const loaded = await ctx.config();
    const command = loaded instanceof ConfigError
      ? defaultConfig().claude.command
      : loaded.config.claude.command;
    const fix = "install Claude Code (npm install -g @anthropic-ai/claude-code), " +
      "or set claude.command in config.jsonc to its absolute path";
    const path = command.includes("/") ? command : await which(command, ctx.env("PATH") ?? "");
    if (!path || !(await isExecutable(path))) {
      return fail(`"${command}" is not ${command.includes("/") ? "executable" : "on PATH"}`, fix);
    }
    const child = new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await within(child.output(), 15_000);
    if (out === TIMED_OUT) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      return fail(`${path} --version did not answer within 15s`, fix);
    }
    const text = new TextDecoder().decode(out.stdout).trim().split("\n")[0] ?? "";
    if (!out.success) return fail(`${path} --version exited ${out.code}`, fix);
    return ok(`${text || "(no version printed)"} (${path})`);
  },
};

/**
 * The home's permissions: private to the user. Runs after the daemon check,
 * since a daemon that starts tightens a looser mode (see Files in the README).
 */
export const homeCheck: Check = {
  id: "home",
  title: "home",
  async run(ctx) {
    const p = ctx.paths;
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(p.home);
    } catch {
      return ok(`${p.home} does not exist yet (created on first use, mode 0700)`);
    }
    if (!st.isDirectory) {
      return fail(
        `${p.home} is not a directory`,
        `move it away: mv ${shellQuote(p.home)} ${shellQuote(`${p.home}.old`)}`,
      );
    }
    const uid = Deno.uid();
    if (uid !== null && st.uid !== null && st.uid !== uid) {
      return fail(
        `${p.home} belongs to uid ${st.uid}, not you (${uid})`,
        `sudo chown -R ${uid} ${shellQuote(p.home)}`,
      );
    }
    for (const dir of [p.home, p.sessionsDir, p.logsDir]) {
      let mode: number | null = null;
      try {
        mode = (await Deno.stat(dir)).mode;
      } catch { /* made on first use */ }
      if (mode !== null && (mode & 0o077) !== 0) {
        return fail(
          `${dir} is mode ${(mode & 0o777).toString(8)}: readable by others`,
          `chmod 700 ${shellQuote(dir)}`,
        );
      }
    }
    return ok(`${p.home} (mode 700)`);
  },
};

/** config.jsonc parses. */
export const configCheck: Check = {
  id: "config",
  title: "config",
  async run(ctx) {
    const loaded = await ctx.config();
    if (loaded instanceof ConfigError) {
      return fail(loaded.message, "fix the file at that line and column");
    }
    if (loaded.mtime === null) return ok("no config.jsonc (defaults)");
    if (loaded.warnings.length > 0) {
      return ok(`${ctx.paths.config}; warnings: ${loaded.warnings.join("; ")}`);
    }
    return ok(ctx.paths.config);
  },
};

/** The daemon answers on the socket (started, as any command would, when none runs). */
export const daemonCheck: Check = {
  id: "daemon",
  title: "daemon",
  async run(ctx) {
    const p = ctx.paths;
    let probe = await probeDaemon(p.socket);
    let started = "";
    if (!probe.answering) {
      // As any command would: through the service when it is installed for
      // this home, else in the background.
      try {
        (await connectOrStart(p)).close();
      } catch (e) {
        return fail(
          `nothing answers on ${p.socket} (${probe.note}) and it cannot start: ${
            (e as Error).message
          }`,
          `see ${p.daemonLog} (under systemd: journalctl --user -u claude-sessions), ` +
            "or run: claude-sessions daemon --foreground",
        );
      }
      probe = await probeDaemon(p.socket);
      if (!probe.answering) {
        return fail(
          `started, but nothing answers on ${p.socket} (${probe.note})`,
          `see ${p.daemonLog} (under systemd: journalctl --user -u claude-sessions)`,
        );
      }
      started = "started it; ";
    }
    const what = `${started}pid ${probe.pid}, version ${probe.version}, ${probe.live} live, ` +
      `on ${p.socket}${probe.socketActivated ? " (socket-activated)" : ""}`;
    if (probe.version !== VERSION) {
      return fail(
        `${what}: it is not this version (${VERSION})`,
        "restart it (this stops its sessions): claude-sessions service restart",
      );
    }
    return ok(what);
  },
};

/** How long the hooks check waits for the daemon to take a probe event. */
export const HOOK_PROBE_TIMEOUT_MS = 5000;

/**
 * Hooks deliver: the exact command sessions' hooks run spools a probe event,
 * quickly, and the daemon takes it from the spool.
 */
export const hooksCheck: Check = {
  id: "hooks",
  title: "hooks",
  async run(ctx) {
    const spool = ctx.paths.spoolDir;
    try {
      await Deno.stat(spool);
    } catch {
      return fail(`no hook spool at ${spool}`, "start the daemon: claude-sessions daemon");
    }
    // On a full disk the hook command cannot spool anything (it fails
    // silently, as it must): that is the disk's fault, not the hooks'.
    const space = await freeSpace(spool);
    if (space && space.free < FULL_DISK_BYTES) {
      return fail(
        `hooks cannot spool events: the disk holding ${spool} is full ` +
          `(${formatBytes(space.free)} free on ${space.mount})`,
        `free space on ${space.mount}, or remove old sessions: claude-sessions rm ID…`,
      );
    }
    // A well-formed id no session has: the daemon consumes and ignores it.
    const id = "0".repeat(10) + [...crypto.getRandomValues(new Uint8Array(16))]
      .map((b) => "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[b % 32]).join("");
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(spool);
    } catch (e) {
      return fail(`cannot watch ${spool}: ${(e as Error).message}`, "check inotify limits");
    }
    try {
      const consumed = (async () => {
        for await (const ev of watcher) {
          if (ev.kind === "remove" && ev.paths.some((p) => p.endsWith(`-${id}.hook`))) return;
        }
      })();
      const t0 = performance.now();
      const child = new Deno.Command("/bin/sh", {
        args: ["-c", hookCommand(spool, id)],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(
        new TextEncoder().encode(
          '{"hook_event_name":"Notification","notification_type":"doctor_probe"}',
        ),
      );
      await w.close();
      const out = await child.output();
      const hookMs = performance.now() - t0;
      if (out.code !== 0 || out.stdout.length > 0) {
        return fail(
          `the hook command exited ${out.code}${out.stdout.length ? " and printed output" : ""}`,
          "report this: the hook command must exit 0 and print nothing",
        );
      }
      if (await within(consumed, HOOK_PROBE_TIMEOUT_MS) === TIMED_OUT) {
        return fail(
          `a probe event was spooled (in ${hookMs.toFixed(0)} ms) but the daemon did not take it ` +
            `within ${HOOK_PROBE_TIMEOUT_MS / 1000}s`,
          `see ${ctx.paths.daemonLog} (or journalctl --user -u claude-sessions)`,
        );
      }
      return ok(
        `a probe event reached the daemon in ${(performance.now() - t0).toFixed(0)} ms ` +
          `(the hook command took ${hookMs.toFixed(0)} ms)`,
      );
    } finally {
      try {
        watcher.close();
      } catch { /* closed */ }
    }
  },
};

/** The service manager's view. */
export const serviceCheck: Check = {
  id: "service",
  title: "service",
  async run(ctx) {
    let st: ServiceStatus;
    try {
      st = await ctx.serviceStatus();
    } catch (e) {
      return fail(
        `cannot read the service's state: ${(e as Error).message}`,
        "check that your service manager answers (Linux: systemctl --user status)",
      );
    }
    if (st.manager === "none") {
      return ok(`no service manager (${st.reason}): commands start the daemon on demand`);
    }
    if (st.error !== null) {
      return fail(
        `cannot read the service's state: ${st.error}`,
        "check that your service manager answers (Linux: systemctl --user status)",
      );
    }
    if (!st.installed) return skip(`not installed (optional): claude-sessions service install`);
    if (!st.current) {
      return fail(
        `${st.manager} service files differ from this install (${st.files.join(", ")})`,
        "claude-sessions service install",
      );
    }
    const state = st.state!;
    if (state.failed) {
      return fail(
        `${st.manager}: ${state.detail}`,
        `see ${st.logs}; then: claude-sessions service restart`,
      );
    }
    if (st.daemon.answering && !st.managed) {
      return fail(
        `installed, but the daemon (pid ${st.daemon.pid}) runs outside it`,
        "claude-sessions service restart (stops its sessions)",
      );
    }
    if (!state.enabled) {
      return fail(`${st.manager}: not enabled at login`, "claude-sessions service install");
    }
    return ok(`${st.manager}: ${state.detail}`);
  },
};

/** How long the notifier check waits for the daemon's answer. */
const NOTIFY_ASK_TIMEOUT_MS = 5000;

/**
 * The notifier the daemon uses (asked through `status`), and whether
 * notifications are on; as this shell would find it when the daemon does
 * not answer.
 */
export const notifierCheck: Check = {
  id: "notifier",
  title: "notifier",
  async run(ctx) {
    const fromDaemon = await daemonNotify(ctx.paths.socket);
    if (fromDaemon) return judgeNotifier(fromDaemon, "the daemon uses it");
    const loaded = await ctx.config();
    const cfg = loaded instanceof ConfigError ? defaultConfig().notify : loaded.config.notify;
    const env: Record<string, string> = {};
    for (const k of ["PATH", "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"]) {
      const v = ctx.env(k);
      if (v !== undefined) env[k] = v;
    }
    const runtime = ctx.env("XDG_RUNTIME_DIR");
    if (runtime !== undefined) env.XDG_RUNTIME_DIR = runtime;
    const st = notifyStatus(cfg, await findNotifier(cfg, env, which));
    return judgeNotifier(st, "as this shell finds it: the daemon did not say");
  },
};

/**
 * How the daemon enforces resource limits (a systemd scope, a cgroup, or
 * itself), as it says in `status`; a CPU limit it cannot enforce fails.
 */
export const limitsCheck: Check = {
  id: "limits",
  title: "limits",
  async run(ctx) {
    let st;
    try {
      const client = await Client.connect(ctx.paths.socket);
      try {
        st = await client.request("status", {});
      } finally {
        client.close();
      }
    } catch (e) {
      return skip(`the daemon does not answer: ${(e as Error).message}`);
    }
    const r = st.resources;
    if (!r) return skip("the daemon is of a version without resource limits");
    const what = resourceLines(r)[0]![1]!;
    if (r.limits.cpu !== null && r.enforcement === "daemon") {
      return fail(
        `${what}; limits.cpu is not enforced without a cgroup`,
        "run the daemon where it gets a cgroup: as the systemd user service (its unit has " +
          "Delegate=yes), under a user systemd manager, or as root with cgroup v1; or drop limits.cpu",
      );
    }
    return ok(what);
  },
};

/** Free space below which a disk counts as full (a hook event is a few KiB). */
const FULL_DISK_BYTES = 64 * 1024;

/** Free bytes on the filesystem holding `path` (or its closest existing parent), by df. */
async function freeSpace(path: string): Promise<{ free: number; mount: string } | null> {
  let dir = path;
  while (dir.length > 1 && !(await exists(dir))) dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
  const out = await new Deno.Command("df", {
    args: ["-Pk", dir],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().catch(() => null);
  const line = out?.success
    ? new TextDecoder().decode(out.stdout).trim().split("\n")[1]
    : undefined;
  const cols = line?.split(/\s+/) ?? [];
  const free = Number(cols[3]) * 1024;
  if (!line || !Number.isFinite(free)) return null;
  return { free, mount: cols.slice(5).join(" ") };
}

/** The daemon's notifier (`status`), or null when it does not answer or predates notifications. */
async function daemonNotify(socket: string): Promise<NotifyStatus | null> {
  const ask = (async () => {
    const c = await Client.connect(socket);
    try {
      return (await c.request("status", {})).notify ?? null;
    } finally {
      c.close();
    }
  })();
  const r = await within(ask.catch(() => null), NOTIFY_ASK_TIMEOUT_MS);
  return r === TIMED_OUT ? null : r;
}

/** The notifier verdict for what the daemon reports; `who` says whose view it is. */
export function judgeNotifier(st: NotifyStatus, who: string): CheckResult {
  if (!st.enabled) return skip("notifications are off (notify.enabled is false)");
  if (st.on.length === 0) return skip("notifications are off (notify.on is empty)");
  const on = `on ${st.on.join(", ")}`;
  const route = "set notify.command to send them elsewhere (ntfy, Slack…), " +
    "or notify.enabled to false";
  if (st.notifier === "command") {
    return ok(`${st.detail} (${on}; killed after ${st.timeoutSeconds}s; ${who})`);
  }
  if (st.notifier === null) {
    if (!st.desktop) {
      return skip(`no desktop session and no notify.command: ${st.detail}; ${route}`);
    }
    return fail(
      st.detail,
      Deno.build.os === "darwin"
        ? "brew install terminal-notifier, or " + route
        : "install libnotify (Debian/Ubuntu: sudo apt install libnotify-bin; " +
          "Fedora: sudo dnf install libnotify), or " + route,
    );
  }
  const what = `${st.notifier} (${st.detail})`;
  if (st.problem) {
    if (!st.desktop) return skip(`${what}, but no desktop session: ${st.problem}; ${route}`);
    return fail(
      `${what}, but ${st.problem}`,
      "give the daemon your desktop session's bus: systemctl --user import-environment " +
        "DBUS_SESSION_BUS_ADDRESS, then claude-sessions service restart; or " + route,
    );
  }
  return ok(`${what}, ${on} (${who})`);
}

/** Free space where session logs are written. */
export const diskCheck: Check = {
  id: "disk",
  title: "disk",
  async run(ctx) {
    const p = ctx.paths;
    const space = await freeSpace(p.logsDir);
    if (!space) return skip(`cannot tell the free space of ${p.logsDir} (df failed)`);
    const { free, mount } = space;
    const logs = await dirSize(p.logsDir);
    const what = `${formatBytes(free)} free on ${mount}; session logs use ${formatBytes(logs)}`;
    if (free < MIN_FREE_BYTES) {
      return fail(what, `free space on ${mount}, or remove old sessions: claude-sessions rm ID…`);
    }
    return ok(what);
  },
};

/** Every check, in the order shown. */
export const CHECKS: Check[] = [
  programCheck,
  pathCheck,
  claudeCheck,
  configCheck,
  daemonCheck,
  homeCheck,
  hooksCheck,
  serviceCheck,
  limitsCheck,
  notifierCheck,
  diskCheck,
];

/** A finished check. */
export interface CheckReport extends CheckResult {
  id: string;
  title: string;
}

/** Runs the checks in order; a check that throws fails with its message. */
export async function runChecks(
  ctx: DoctorContext,
  checks: Check[] = CHECKS,
): Promise<CheckReport[]> {
  const out: CheckReport[] = [];
  for (const c of checks) {
    let r: CheckResult;
    try {
      r = await c.run(ctx);
    } catch (e) {
      r = fail(`check failed: ${(e as Error).message}`, "report this as a bug, with the message");
    }
    out.push({ id: c.id, title: c.title, ...r });
  }
  return out;
}

/** Finds an executable on a PATH string, or null. */
export async function which(name: string, path: string): Promise<string | null> {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = `${dir}/${name}`;
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

async function realPath(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return path;
  }
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) total += await dirSize(path);
      else if (e.isFile) total += (await Deno.stat(path).catch(() => ({ size: 0 }))).size;
    }
  } catch { /* none yet */ }
  return total;
}

export { formatBytes };
