/**
 * Whose files these are. A home — and every file in it that the daemon reads
 * or runs something from — must belong to the user the daemon runs as:
 * another user who owns the home, or any directory above it, or who planted
 * a file in it while it was open, could make the daemon run their commands
 * (`claude.command` in a planted `config.jsonc`) or read its sessions.
 *
 * The rules (like OpenSSH's StrictModes):
 * - the home is a directory owned by you (its mode is tightened to 0700);
 * - every directory above it is owned by you or root, and not writable by
 *   group or others unless sticky (like /tmp); a symbolic link on the way is
 *   owned by you or root;
 * - its directories (`sessions/`, `logs/`, `spool/`) and files are yours and
 *   are not symbolic links (`config.jsonc` may be a link to a file of yours).
 *
 * Used by the CLI before it creates a home or starts a daemon in it, and by
 * the daemon at start and for each file it reads.
 *
 * @module
 */

import type { Paths } from "./paths.ts";

/** A home or a file in it that is not safe to use; the message says why and what to do. */
export class OwnershipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OwnershipError";
  }
}

let passwd: Map<number, string> | null = null;

/** The name of user `uid` (from /etc/passwd), or null when unknown. */
export function userName(uid: number): string | null {
  if (!passwd) {
    passwd = new Map();
    try {
      for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
        const f = line.split(":");
        const id = Number(f[2]);
        if (f[0] && f[2] !== "" && Number.isInteger(id) && !passwd.has(id)) passwd.set(id, f[0]);
      }
    } catch { /* no passwd file (macOS keeps most users elsewhere): uids only */ }
  }
  return passwd.get(uid) ?? null;
}

/** "alice (uid 1000)", or "uid 1000" when the name is unknown. */
export function userLabel(uid: number): string {
  const name = userName(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

/** The user this process runs as (-1 where there are no uids). */
export function myUid(): number {
  return Deno.uid() ?? -1;
}

const USE_YOUR_OWN =
  "use a home of your own: unset CLAUDE_SESSIONS_HOME (default ~/.claude-sessions) " +
  "or set it to a directory you own";

function components(path: string): string[] {
  const out: string[] = [];
  for (const c of path.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") out.pop();
    else out.push(c);
  }
  return out;
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

/**
 * Checks the way to `home` and the home itself (when it exists), without
 * changing anything.
 * @throws {OwnershipError} naming the offending path, its owner and what to do
 */
export async function checkHomePath(home: string, uid: number = myUid()): Promise<void> {
  if (uid < 0) return; // no uids on this platform
  const trusted = (owner: number | null) => owner === uid || owner === 0;
  // Symbolic links on the way: whoever owns one can point it elsewhere.
  let at = "";
  let deepest = "/";
  for (const c of components(home)) {
    at += `/${c}`;
    const st = await lstatOrNull(at);
    if (!st) break;
    deepest = at;
    if (st.isSymlink && !trusted(st.uid)) {
      throw new OwnershipError(
        `${at} (on the way to the home ${home}) is a symbolic link owned by ` +
          `${userLabel(st.uid!)}, who can point it anywhere; ${USE_YOUR_OWN}`,
      );
    }
  }
  // The directories it really is in.
  let real: string;
  try {
    real = await Deno.realPath(deepest);
  } catch (e) {
    throw new OwnershipError(
      `cannot resolve ${deepest} (on the way to the home ${home}): ${(e as Error).message}`,
    );
  }
  const missing = components(home).slice(components(deepest).length);
  const homeExists = missing.length === 0;
  const dirs = ["/"];
  let d = "";
  for (const c of components(real)) dirs.push(d += `/${c}`);
  const above = homeExists ? dirs.slice(0, -1) : dirs;
  for (const dir of above) {
    const st = await Deno.stat(dir);
    if (!trusted(st.uid)) {
      throw new OwnershipError(
        `the home ${home} is inside ${dir}, which is owned by ${userLabel(st.uid!)}, ` +
          `not by you (${userLabel(uid)}) or root: its owner could replace the home; ` +
          USE_YOUR_OWN,
      );
    }
    const mode = st.mode ?? 0;
    if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      throw new OwnershipError(
        `the home ${home} is inside ${dir}, which others can write to ` +
          `(mode ${(mode & 0o7777).toString(8)}, not sticky): they could replace the home; ` +
          `${USE_YOUR_OWN}, or remove write access for others (chmod go-w ${dir})`,
      );
    }
  }
  if (!homeExists) return;
  const st = await Deno.stat(real);
  if (!st.isDirectory) {
    throw new OwnershipError(`the home ${home} is not a directory`);
  }
  if (st.uid !== uid) {
    throw new OwnershipError(
      `the home ${home}${real !== home ? ` (${real})` : ""} is owned by ${
        userLabel(st.uid!)
      }, not by you (${userLabel(uid)}): a daemon will not use another user's directory; ` +
        USE_YOUR_OWN,
    );
  }
}

/**
 * Checks what the daemon keeps in an existing home: its directories and
 * files must be yours, and none but `config.jsonc` a symbolic link.
 * @throws {OwnershipError} naming the first offending path
 */
export async function checkHomeContents(p: Paths, uid: number = myUid()): Promise<void> {
  if (uid < 0) return;
  const entries: [string, "dir" | "file" | "socket"][] = [
    [p.sessionsDir, "dir"],
    [p.logsDir, "dir"],
    [p.spoolDir, "dir"],
    [p.daemonLog, "file"],
    [p.pidFile, "file"],
    [p.lockFile, "file"],
    [p.socket, "socket"],
  ];
  for (const [path, kind] of entries) {
    const st = await lstatOrNull(path);
    if (!st) continue;
    if (st.uid !== uid) throw foreignFile(path, st.uid!, uid);
    if (st.isSymlink) {
      throw new OwnershipError(
        `${path} is a symbolic link; the daemon does not follow links in its home. ` +
          `Remove it (rm ${path}) and run the command again`,
      );
    }
    if (kind === "dir" && !st.isDirectory) {
      throw new OwnershipError(
        `${path} is not a directory; move it away and run the command again`,
      );
    }
    if (kind === "file" && !st.isFile) {
      throw new OwnershipError(
        `${path} is not a regular file; remove it and run the command again`,
      );
    }
  }
}

function foreignFile(path: string, owner: number, uid: number): OwnershipError {
  return new OwnershipError(
    `${path} is owned by ${userLabel(owner)}, not by you (${userLabel(uid)}): ` +
      `another user may have put it there while the home was open to others. ` +
      `Check it, then remove it (or chown it to yourself) and run the command again`,
  );
}

/**
 * Reads a file the daemon acts on, only if it is a regular file (following
 * a symbolic link) owned by this user. A FIFO or device is never opened.
 * @throws {Deno.errors.NotFound} when there is no such file
 * @throws {OwnershipError} when it is someone else's, or not a regular file
 */
export async function readOwnTextFile(path: string, uid: number = myUid()): Promise<string> {
  const st = await Deno.stat(path);
  if (!st.isFile) throw new OwnershipError(`${path} is not a regular file`);
  if (uid >= 0 && st.uid !== uid) throw foreignFile(path, st.uid!, uid);
  return await Deno.readTextFile(path);
}

/**
 * Makes sure `p.home` is safe to use, creating it (mode 0700) when missing
 * and tightening a looser mode of an existing one. `log` hears what changed.
 * @throws {OwnershipError} when the home, the way to it or a file in it belongs to someone else
 */
export async function prepareHome(
  p: Paths,
  log: (msg: string) => void = () => {},
  uid: number = myUid(),
): Promise<void> {
  await checkHomePath(p.home, uid);
  await Deno.mkdir(p.home, { recursive: true, mode: 0o700 });
  // Created just now, or checked above: either way, check what is there now.
  await checkHomePath(p.home, uid);
  const st = await Deno.stat(p.home);
  if (st.mode !== null && (st.mode & 0o077) !== 0) {
    await Deno.chmod(p.home, 0o700);
    log(`tightened permissions of ${p.home} to 0700`);
  }
  await checkHomeContents(p, uid);
}
