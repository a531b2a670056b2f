/**
 * Which service manager this machine offers the user: launchd on macOS,
 * systemd where it is the init system and the user's manager answers, none
 * otherwise (containers, WSL without systemd), in which case the CLI starts
 * the daemon on demand.
 *
 * `CLAUDE_SESSIONS_SERVICE_MANAGER=systemd|launchd|none` overrides the
 * detection.
 *
 * @module
 */

import type { ServiceBackend } from "./_backend.ts";
import { LaunchdBackend } from "./launchd.ts";
import { firstLine, type Runner } from "./_run.ts";
import { SystemdBackend, systemdUserDir } from "./systemd.ts";

/** Environment variable that overrides the detection. */
export const MANAGER_ENV = "CLAUDE_SESSIONS_SERVICE_MANAGER";

/** A usable manager, or why there is none. */
export type Detected =
  | { backend: ServiceBackend; reason: null }
  | { backend: null; reason: string };

/** What detection looks at (the real machine by default; tests pass their own). */
export interface DetectEnv {
  os: string;
  env: (name: string) => string | undefined;
  uid: number;
  /** Whether a path exists. */
  exists: (path: string) => boolean;
  /** Name of process 1, when readable. */
  initName: () => string | null;
  run: Runner;
  /** Where the daemon's log goes under launchd. */
  daemonLog: string;
}

/** Detects the service manager. */
export async function detectManager(d: DetectEnv): Promise<Detected> {
  const forced = d.env(MANAGER_ENV);
  const home = d.env("HOME") ?? "";
  const systemd = () => new SystemdBackend(systemdUserDir(d.env), d.run);
  const launchd = () => new LaunchdBackend(home, d.uid, d.daemonLog, d.run);
  if (forced === "systemd") return { backend: systemd(), reason: null };
  if (forced === "launchd") return { backend: launchd(), reason: null };
  if (forced === "none") return { backend: null, reason: `${MANAGER_ENV}=none` };
  if (forced) {
    return { backend: null, reason: `${MANAGER_ENV}="${forced}" is not systemd, launchd or none` };
  }
  if (d.os === "darwin") return { backend: launchd(), reason: null };
  // sd_booted(3): systemd is the init system exactly when this directory exists.
  if (!d.exists("/run/systemd/system")) {
    const init = d.initName();
    return {
      backend: null,
      reason: `systemd is not the init system here${init ? `: PID 1 is ${init}` : ""}`,
    };
  }
  const r = await d.run("systemctl", ["--user", "show-environment"]);
  if (r.code !== 0) {
    return {
      backend: null,
      reason: `systemd runs, but your user manager does not answer (${firstLine(r)})`,
    };
  }
  return { backend: systemd(), reason: null };
}
