/**
 * What `service` needs from a service manager (systemd or launchd).
 *
 * @module
 */

import type { RenderInput, ServiceFile } from "./render.ts";

/** The manager's view of the service. */
export interface BackendState {
  /** The manager knows the service (its files are loaded). */
  loaded: boolean;
  /** It starts at login. */
  enabled: boolean;
  /** The daemon runs under the manager. */
  running: boolean;
  /** systemd: the socket unit is listening (the daemon starts on first use). */
  listening: boolean;
  /** The manager reports a failure (last run failed, or the unit is in `failed`). */
  failed: boolean;
  /** The daemon's pid under the manager, when running. */
  pid: number | null;
  /** One line, in the manager's own words. */
  detail: string;
}

/** A service manager. */
export interface ServiceBackend {
  /** `systemd` or `launchd`. */
  readonly name: "systemd" | "launchd";
  /** Directory the service files are written to. */
  readonly dir: string;
  /** Where the daemon's own log goes when it runs under this manager. */
  readonly logHint: string;
  /** The files for one install. */
  render(input: RenderInput): ServiceFile[];
  /**
   * The socket that installed files (by name; null when missing) have the
   * daemon serve, or null when they do not say (e.g. none installed).
   */
  socketIn(installed: Map<string, string | null>): string | null;
  /** Asks the manager for the service's state. */
  state(): Promise<BackendState>;
  /** Makes the manager read freshly written files, and enables start at login. */
  register(): Promise<void>;
  /** Starts the service (no-op when it runs). */
  start(): Promise<void>;
  /**
   * Restarts the service under the manager (starting it when stopped), so
   * that it runs as its files now say: systemd restarts the socket unit too
   * (an active socket unit keeps its old address across daemon-reload),
   * launchd reloads the agent.
   */
  restart(): Promise<void>;
  /** Stops the service and disables start at login (before its files are removed). */
  stop(): Promise<void>;
  /** After its files were removed: lets the manager forget them. */
  forget(): Promise<void>;
}

/** A manager command failed. */
export class BackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}
