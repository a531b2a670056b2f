/**
 * Messages between the daemon's main thread and its screen worker.
 *
 * @module
 */

/** Main thread -> worker. `sid` is a per-process screen number. */
export type ToWorker =
  | { op: "open"; sid: number; cols: number; rows: number; scrollback: number }
  /** Several sessions' output at once; with `ack`, one `acks` answers once all of it is parsed. */
  | { op: "feeds"; sids: number[]; seqs: number[]; chunks: Uint8Array[]; ack: boolean }
  | { op: "resize"; sid: number; cols: number; rows: number }
  | { op: "snapshot"; sid: number; req: number }
  | {
    op: "peek";
    sid: number;
    req: number;
    ansi: boolean;
    lines: number | null;
    /** The screen the program last showed (for a program that has ended). */
    final?: boolean;
  }
  | { op: "close"; sid: number };

/** Worker -> main thread, in the order the worker handled things. */
export type ToMain =
  /** Every chunk of a `feeds` is parsed: the last seq of each screen in it. */
  | { op: "acks"; sids: number[]; seqs: number[] }
  | { op: "snapshot"; req: number; data: string }
  | { op: "peek"; req: number; text: string }
  | { op: "error"; message: string };
