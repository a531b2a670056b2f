/**
 * What can go wrong talking to the daemon, as errors a caller can tell apart
 * and report in one line (each is a {@linkcode UserError}).
 *
 * @module
 */

import { UserError } from "../errors.ts";

/** Any failure of the client library. */
export class ClientError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, 1, hint);
    this.name = "ClientError";
  }
}

/** No daemon answers on the socket. */
export class NoDaemonError extends ClientError {
  /** Why not, alone (e.g. "no socket", or what ssh said). */
  readonly why: string;
  constructor(socket: string, why: string) {
    super(`no daemon is answering on ${socket} (${why})`, "start one with: claude-sessions daemon");
    this.name = "NoDaemonError";
    this.why = why;
  }
}

/** The daemon answered a request with an error. */
export class DaemonError extends ClientError {
  /** The protocol error code (see `ErrorCode`). */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "DaemonError";
    this.code = code;
  }
}

/** The connection ended (the daemon went away, dropped this client, or it was closed). */
export class ConnectionLostError extends ClientError {
  constructor(reason: string) {
    super(reason);
    this.name = "ConnectionLostError";
  }
}

/** The daemon speaks another protocol version. */
export class ProtocolMismatchError extends ClientError {
  constructor(daemonVersion: string, daemonProtocol: number, ours: number) {
    super(
      `the daemon (version ${daemonVersion}) speaks protocol ${daemonProtocol}; ` +
        `this client speaks ${ours}`,
      "restart the daemon: claude-sessions stop-daemon, then run your command again",
    );
    this.name = "ProtocolMismatchError";
  }
}

/** The daemon lacks features the caller needs (it is older than the client). */
export class MissingFeaturesError extends ClientError {
  /** The features it lacks. */
  readonly missing: string[];
  constructor(missing: string[], daemonVersion: string, pid: number) {
    super(
      `the daemon (version ${daemonVersion}, pid ${pid}) is older than this client: it lacks ` +
        `${missing.map((f) => `"${f}"`).join(", ")}, needed here`,
      "restart it once no session is live (claude-sessions stop-daemon; the next command starts " +
        "this version), or upgrade it: claude-sessions service restart (this stops its sessions)",
    );
    this.name = "MissingFeaturesError";
    this.missing = missing;
  }
}

/** An event subscription's consumer fell too far behind; events were dropped. */
export class EventsOverflowError extends ClientError {
  constructor(limit: number) {
    super(`events came faster than they were read: over ${limit} waiting; some were dropped`);
    this.name = "EventsOverflowError";
  }
}
