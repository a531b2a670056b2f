/**
 * The daemon's V8 flags: applied by re-executing the daemon in place once
 * at start, before anything else is loaded.
 *
 * @module
 */

import { IS_MAC, reexec } from "./_platform.ts";
import { V8_FLAGS } from "./limits.ts";

/** Set in the environment of a daemon that has re-executed itself with {@linkcode V8_FLAGS}. */
const REEXEC_MARK = "CLAUDE_SESSIONS_DAEMON_V8";

/**
 * Makes sure the daemon runs with {@linkcode V8_FLAGS} (they bound the
 * garbage collector's young generation, which otherwise dominates the
 * daemon's memory under load): once per start, re-executes the same command
 * line in place (same pid, descriptors and environment, so service managers
 * and socket activation are unaffected) with them added to `DENO_V8_FLAGS`.
 * Where that is not possible it says so through `log` and runs as it is.
 */
export function withMemoryFlags(log: (msg: string) => void): void {
  if (Deno.env.get(REEXEC_MARK) !== undefined) {
    Deno.env.delete(REEXEC_MARK);
    return;
  }
  const env = Deno.env.toObject();
  const given = env.DENO_V8_FLAGS ?? "";
  const missing = V8_FLAGS.filter((f) => !given.includes(f.split("=")[0]!));
  if (missing.length === 0 || IS_MAC) return;
  env.DENO_V8_FLAGS = [given, ...missing].filter((f) => f !== "").join(",");
  env[REEXEC_MARK] = "1";
  const why = reexec(env);
  log(`running without the V8 flags ${missing.join(",")}: ${why}`);
}
