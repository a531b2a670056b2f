/**
 * The daemon process: takes the home's lock, loads the config and records,
 * listens (or serves the socket systemd passed), and runs until SIGTERM,
 * SIGINT or a `shutdown` request, then stops every session cleanly.
 *
 * The daemon writes exactly one line to stdout, once it is ready to serve;
 * everything else goes to stderr.
 *
 * @module
 */

import { type Paths, paths as resolvePaths } from "../paths.ts";
import { ConfigError, loadConfig, type LoadedConfig } from "../config.ts";
import { PROTOCOL_VERSION, VERSION } from "../version.ts";
import { tryLockHome } from "./lock.ts";
import { RecordStore } from "./store.ts";
import { Manager } from "./manager.ts";
import { type Listen, Server } from "./server.ts";
import { createHandlers } from "./api.ts";
import { Attachments } from "./attach.ts";
import { StatusWatcher } from "./status.ts";
import { IS_MAC, trimMemory } from "./_platform.ts";
import { Collector } from "./_gc.ts";
import { Notifier } from "./notify.ts";
import { Notifications } from "./notifications.ts";
import { Governor } from "./governor.ts";
import { OwnershipError, prepareHome } from "../ownership.ts";

/** How often memory the allocator keeps free is given back. */
const TRIM_MS = 1000;
/** Binary frames ignored (no reply is possible) that are logged per client. */
const IGNORED_FRAMES_LOGGED = 10;

/** Exit status of a daemon that could not start. */
export class DaemonStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DaemonStartError";
  }
}

/** Writes one line to the daemon's log (stderr; journald under systemd). */
export function daemonLog(msg: string): void {
  console.error(`${new Date().toISOString()} ${msg}`);
}

/**
 * Creates the home and its directories, mode 0700 (tightening a looser
 * home), after checking that they are this user's (see `ownership.ts`).
 * @throws {DaemonStartError} when the home or something in it is another user's
 */
export async function ensureHome(p: Paths): Promise<void> {
  try {
    await prepareHome(p, daemonLog);
  } catch (e) {
    if (e instanceof OwnershipError) throw new DaemonStartError(e.message);
    throw e;
  }
  for (const dir of [p.sessionsDir, p.logsDir]) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  }
}

/** The inherited listening fd when systemd socket activation names this process. */
export function activationFd(): number | null {
  const pid = Deno.env.get("LISTEN_PID");
  const fds = Number(Deno.env.get("LISTEN_FDS") ?? "0");
  if (pid !== String(Deno.pid) || !(fds >= 1)) return null;
  for (const k of ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]) Deno.env.delete(k);
  return 3;
}

/** Whether something accepts connections on a unix socket path. */
export async function socketAnswers(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function readPid(path: string): Promise<number | null> {
  try {
    const n = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * Runs the daemon until it is told to stop.
 * @throws {DaemonStartError} when it cannot start (another daemon, bad config, socket in use)
 */
export async function runDaemon(): Promise<void> {
  const p = resolvePaths();
  let notifier: Notifier;
  try {
    notifier = Notifier.fromEnv();
  } catch (e) {
    throw new DaemonStartError((e as Error).message);
  }
  const notify = (state: string): void => {
    try {
      notifier.send(state);
    } catch (e) {
      daemonLog(`cannot notify systemd: ${(e as Error).message}`);
    }
  };
  const maxSocket = IS_MAC ? 103 : 107;
  if (new TextEncoder().encode(p.socket).length > maxSocket) {
    throw new DaemonStartError(
      `socket path too long for a unix socket (${p.socket}); set CLAUDE_SESSIONS_HOME to a shorter directory`,
    );
  }
  await ensureHome(p);

  const lock = await tryLockHome(p.lockFile);
  if (!lock) {
    const pid = await readPid(p.pidFile);
    throw new DaemonStartError(
      `a daemon is already running for ${p.home}${pid ? ` (pid ${pid})` : ""}`,
    );
  }

  let config: LoadedConfig;
  try {
    config = await loadConfig(p.config);
  } catch (e) {
    lock.release();
    if (e instanceof ConfigError) throw new DaemonStartError(`config error: ${e.message}`);
    throw e;
  }
  for (const w of config.warnings) daemonLog(`warning: ${w}`);

  const inherited = activationFd();
  let listen: Listen;
  if (inherited !== null) {
    listen = { kind: "fd", fd: inherited };
  } else {
    listen = { kind: "path", path: p.socket };
    let exists = false;
    try {
      await Deno.lstat(p.socket);
      exists = true;
    } catch { /* none */ }
    if (exists) {
      if (await socketAnswers(p.socket)) {
        lock.release();
        throw new DaemonStartError(
          `${p.socket} is already being listened on (by a systemd socket unit?); ` +
            `start the daemon through it (claude-sessions service restart) or stop it first`,
        );
      }
      await Deno.remove(p.socket);
      daemonLog(`removed stale socket ${p.socket}`);
    }
  }

  const store = new RecordStore(p, daemonLog);
  const manager = new Manager(p, store, config, daemonLog);
  const started = new Date().toISOString();
  let shutdownPromise: Promise<void> | null = null;

  const attachments = new Attachments();
  manager.setAttachedCount((id) => attachments.count(id));
  const governor = new Governor(manager, daemonLog);
  manager.subscribe((ev) => {
    if (ev.event !== "exited") return;
    const s = manager.byId(ev.id);
    if (s) attachments.sessionExited(s);
  });
  const notifications = new Notifications({
    config: () => manager.config.notify,
    record: (id) => manager.byId(id)?.record,
    attached: (id) => attachments.count(id),
    publish: (ev) => manager.publish(ev),
    log: daemonLog,
    env: () => Deno.env.toObject(),
    sampleDir: p.home,
  });
  manager.subscribe((ev) => notifications.onEvent(ev));
  const handlers = createHandlers({
    manager,
    attachments,
    notifications,
    governor,
    daemonInfo: () => ({
      pid: Deno.pid,
      version: VERSION,
      protocol: PROTOCOL_VERSION,
      started,
      socket: p.socket,
      home: p.home,
      socketActivated: listen.kind === "fd",
    }),
    requestShutdown: () => {
      // Let the reply go out first.
      setTimeout(() => void shutdown("shutdown requested"), 0);
    },
  });
  const server = new Server(handlers, daemonLog);
  // Frames get no reply: the ones ignored are logged, the first few of each client.
  const ignoredFrames = new WeakMap<object, number>();
  server.onBinary((frame, conn) => {
    const why = attachments.frame(frame, conn);
    if (!why) return;
    const n = (ignoredFrames.get(conn) ?? 0) + 1;
    ignoredFrames.set(conn, n);
    if (n <= IGNORED_FRAMES_LOGGED) daemonLog(`client #${conn.serial}: ${why}`);
    if (n === IGNORED_FRAMES_LOGGED) {
      daemonLog(`client #${conn.serial}: further ignored frames are not logged`);
    }
  });
  try {
    await server.listen(listen);
  } catch (e) {
    lock.release();
    throw new DaemonStartError(`cannot listen on ${p.socket}: ${(e as Error).message}`);
  }
  if (listen.kind === "path") await Deno.chmod(p.socket, 0o600);
  const socketIno = listen.kind === "path" ? (await Deno.lstat(p.socket)).ino : null;

  await Deno.writeTextFile(`${p.pidFile}.tmp`, `${Deno.pid}\n`, { mode: 0o600 });
  await Deno.rename(`${p.pidFile}.tmp`, p.pidFile);

  // Clients that connect meanwhile wait: no request is answered before every
  // session is known and the status sources are watched.
  await manager.restore();
  const status = new StatusWatcher(p.spoolDir, (id) => {
    const s = manager.byId(id);
    return s?.live ? s : undefined;
  }, daemonLog);
  manager.setStatusWatcher(status);
  await status.start();
  await manager.autoResume();
  governor.start();
  server.open();
  // Memory freed after a burst goes back to the system (garbage collected first).
  const collector = new Collector();
  const trim = setInterval(() => {
    collector.check();
    trimMemory();
  }, TRIM_MS);
  Deno.unrefTimer(trim as unknown as number);

  const shutdown = (why: string): Promise<void> => {
    if (shutdownPromise) return shutdownPromise;
    shutdownPromise = (async () => {
      daemonLog(`shutting down (${why})`);
      notify("STOPPING=1");
      server.stopAccepting();
      notifications.close();
      governor.close();
      await manager.shutdown();
      status.close();
      if (listen.kind === "path") {
        // Only remove the socket if it is still ours. An inherited
        // (socket-activated) socket belongs to systemd and is never removed.
        try {
          if ((await Deno.lstat(p.socket)).ino === socketIno) await Deno.remove(p.socket);
        } catch { /* gone */ }
      }
      await Deno.remove(p.pidFile).catch(() => {});
      lock.release();
      daemonLog("stopped");
      // Last: clients waiting in stop-daemon see the connection close.
      await server.closeClients();
    })();
    return shutdownPromise;
  };

  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => void shutdown(sig));
  }
  Deno.addSignalListener("SIGHUP", () => {
    daemonLog("SIGHUP: reloading config, reopening session logs");
    manager.logs.reopen();
    manager.reloadConfig().catch(() => {/* logged; previous config kept */});
  });

  daemonLog(
    `claude-sessions ${VERSION} daemon started (pid ${Deno.pid}, ` +
      `${listen.kind === "fd" ? "socket-activated" : "listening"} on ${p.socket})`,
  );
  console.log(`ready pid=${Deno.pid} socket=${p.socket}`);
  // Type=notify: systemd considers the service started from here on.
  notify(`READY=1\nSTATUS=serving on ${p.socket}`);

  await server.stopped;
  await shutdown("listener closed");
}
