/** The claude-sessions release version. Kept in step with `deno.json`. */
export const VERSION = "0.1.0";

/**
 * Version of the JSON protocol spoken on the daemon socket. Bumped on any
 * incompatible change; the CLI refuses to talk to a daemon of another version.
 */
export const PROTOCOL_VERSION = 1;
