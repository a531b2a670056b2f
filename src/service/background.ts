/**
 * Starting the daemon in the background, detached from the terminal, when
 * no service manager does it.
 *
 * @module
 */

import type { Paths } from "../paths.ts";
import { selfCommand } from "../self.ts";
import { TIMED_OUT, within } from "../async.ts";
import { OwnershipError, prepareHome } from "../ownership.ts";
import { UserError } from "../errors.ts";

/**
 * Starts `claude-sessions daemon --foreground` detached in the background,
 * its stderr appended to `daemon.log`, and returns once it is ready (it
 * prints one line on stdout when it serves).
 * @throws {UserError} with the daemon's own error when it fails to start
 */
export async function startDaemonBackground(p: Paths): Promise<{ pid: number }> {
  // Before anything is created or written in it (daemon.log included).
  try {
    await prepareHome(p);
  } catch (e) {
    if (e instanceof OwnershipError) throw new UserError(`cannot start a daemon: ${e.message}`);
    throw e;
  }
  // Keep the daemon's log from growing without bound: one previous generation.
  try {
    if ((await Deno.stat(p.daemonLog)).size > 4 * 1024 * 1024) {
      await Deno.rename(p.daemonLog, `${p.daemonLog}.1`);
    }
  } catch { /* no log yet */ }
  let offset = 0;
  try {
    offset = (await Deno.stat(p.daemonLog)).size;
  } catch { /* no log yet */ }
  const self = selfCommand();
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log=$1; shift; umask 077; exec "$@" daemon --foreground </dev/null 2>>"$log"',
      "sh",
      p.daemonLog,
      ...self,
    ],
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const reader = child.stdout.getReader();
  let got = "";
  const dec = new TextDecoder();
  const deadline = Date.now() + 30_000;
  while (!got.includes("\n")) {
    const r = await within(reader.read(), Math.max(0, deadline - Date.now()));
    if (r === TIMED_OUT) {
      throw new UserError(`the daemon did not become ready within 30s; see ${p.daemonLog}`);
    }
    if (r.done) break;
    got += dec.decode(r.value, { stream: true });
  }
  if (got.startsWith("ready")) {
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    child.unref();
    return { pid: child.pid };
  }
  await child.status;
  let why = "";
  try {
    const f = await Deno.open(p.daemonLog);
    await f.seek(offset, Deno.SeekMode.Start);
    const bytes = new Uint8Array(64 * 1024);
    const n = (await f.read(bytes)) ?? 0;
    f.close();
    why = dec.decode(bytes.subarray(0, n)).trim().split("\n").filter(Boolean).slice(-3).join("; ");
  } catch { /* no log */ }
  // Another daemon may have won a race to start; that is fine.
  throw new UserError(`the daemon failed to start${why ? `: ${why.replace(/^\S+Z /gm, "")}` : ""}`);
}
