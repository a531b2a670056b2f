/**
 * Commands to the PTY reactor thread and its messages back.
 *
 * @module
 */

import { PTY_READ_AHEAD_BYTES } from "./limits.ts";

/** Bytes of one command record: op (u8), fd (int32 LE), argument (int32 LE). */
export const CMD_BYTES = 9;

/** Command op codes (first byte of a record). */
export const CMD = {
  ADD: 1,
  REMOVE: 2,
  PAUSE: 3,
  RESUME: 4,
  WANT_WRITE: 5,
  /** The main thread has handled `argument` more bytes of the fd's output. */
  ACK: 6,
  /** Argument 1: the fd is watched (read at once); 0: it is not (read once a quiet tick while it trickles). */
  LIVE: 7,
  STOP: 9,
} as const;

/**
 * Output of one PTY the reactor may have handed over and not yet seen
 * acknowledged: reading stops there, so a busy main thread is never flooded
 * and a paused PTY stops within this many bytes.
 */
export const WINDOW_BYTES = PTY_READ_AHEAD_BYTES;

/** The main thread acknowledges output in steps of this many bytes (well below the window). */
export const ACK_STEP_BYTES = WINDOW_BYTES / 4;

/** Reactor thread -> main thread. */
export type ReactorMessage =
  /** Output read in one round of the loop, every PTY's together, in order (`fds[i]` read `data[i]`). */
  | { op: "data"; fds: number[]; data: Uint8Array[] }
  | { op: "end"; fd: number }
  | { op: "writable"; fd: number }
  | { op: "removed"; fd: number }
  | { op: "stopped" }
  | { op: "fatal"; message: string };

/** A message as the reactor posts it: numbered, so that the main thread handles them in order. */
export type ReactorPost = ReactorMessage & { seq: number };
