/**
 * Commands to the PTY reactor thread and its messages back.
 *
 * @module
 */

/** Command op codes (first byte of a 5-byte record; then the fd, int32 LE). */
export const CMD = {
  ADD: 1,
  REMOVE: 2,
  PAUSE: 3,
  RESUME: 4,
  WANT_WRITE: 5,
  STOP: 9,
} as const;

/** Reactor thread -> main thread. */
export type ReactorMessage =
  | { op: "data"; fd: number; data: Uint8Array }
  | { op: "end"; fd: number }
  | { op: "writable"; fd: number }
  | { op: "removed"; fd: number }
  | { op: "stopped" }
  | { op: "fatal"; message: string };
