/**
 * Every bound on what the daemon holds in memory, in one place. Each buffer
 * that grows with what a program or a client does has a limit here; past it
 * the daemon applies back-pressure (stops reading a PTY or a socket, so the
 * writer blocks) or drops a client that does not read — it never grows.
 * Everything is released once the burst has passed.
 *
 * Worst case, in bytes, for `S` sessions and `C` connected clients (the
 * README's "Limits" says the same):
 *
 * ```text
 * base (~60 MiB: runtime, code; ~25 MiB more once the worker threads start)
 *   + S × ( PTY_READ_AHEAD_BYTES                     256 KiB  output read, not yet handled
 *         + 2 × SCREEN_HIGH_WATER                    256 KiB  output queued for the screen model (sent, and kept)
 *         + (rows + scrollback) × cols × ~40         2.6 MiB at 120×40, scrollback 500: the screen model
 *         + MAX_QUEUED_INPUT )                       4 MiB    input a program has not read
 *   + 2 × min(S × log.maxBufferBytes, LOG_BUFFER_TOTAL_BYTES)   32 MiB  log lines waiting for the disk, and their encoding
 *   + C × ( MAX_MESSAGE_BYTES + MAX_CLIENT_BACKLOG ) 17 MiB  a request being read, replies not yet taken
 * ```
 *
 * plus the garbage collector's slack. The screen model's term is what it
 * holds while output flows; once output pauses it keeps only
 * {@linkcode SCREEN_HOT_LINES} lines of scrollback in the emulator's form
 * and the rest as text: (rows + 100) × cols × ~14 + ~150 per older line
 * (about 0.3 MB a session, 1.6 MB with 10 000 lines of scrollback). The
 * input term is only reached by programs that do not read their input, the
 * client term by clients that do not read their replies. Measured peaks are
 * in {@linkcode MEMORY} (and the README); the stress suite checks them.
 *
 * @module
 */

import { MAX_MESSAGE_BYTES } from "../protocol.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Output of one PTY that the reactor thread may hand over before the main
 * thread has handled it: reading that PTY stops there.
 */
export const PTY_READ_AHEAD_BYTES = 256 * KiB;

/**
 * How late output of a session nobody watches may be read while it only
 * trickles: such PTYs are read together once a tick instead of once a line
 * (the daemon wakes once for many sessions' lines). A session with an
 * attached client, one sent input within `PTY_LIVE_MS`, or one printing at
 * least `PTY_BUSY_BYTES` a `PTY_BUSY_WINDOW_MS` is read at once.
 */
export const PTY_QUIET_TICK_MS = 100;
/** How long input to a session makes it read at once (its echo, `send`'s confirmation). */
export const PTY_LIVE_MS = 2000;
/** Output rate (bytes per window) above which a PTY is read at once (a flood). */
export const PTY_BUSY_BYTES = 16 * KiB;
/** The window of {@linkcode PTY_BUSY_BYTES}. */
export const PTY_BUSY_WINDOW_MS = 100;

/**
 * Output fed to a session's screen model and not yet parsed, above which
 * reading the session's PTY pauses (back-pressure on the program) …
 */
export const SCREEN_HIGH_WATER = 128 * KiB;
/** … and below which it resumes. */
export const SCREEN_LOW_WATER = 32 * KiB;

/** Default lines of scrollback of each session's screen model (`scrollback` in the config). */
export const DEFAULT_SCROLLBACK = 500;

/**
 * Scrollback lines the screen model keeps in the emulator's own form (12
 * bytes a cell, the full width: ~1.7 KB a line at 120 columns), reflowed on
 * resize; older ones are kept as their text (~0.1–0.3 KB a line). See
 * `_emulator.ts`.
 */
export const SCREEN_HOT_LINES = 100;

/** Input queued for a program that does not read it; more is refused. */
export const MAX_QUEUED_INPUT = 4 * MiB;

/**
 * Log bytes waiting for the disk, all sessions together. Past it, the
 * sessions with the most waiting are held back (as past one session's
 * `log.maxBufferBytes`), until it is down to half.
 */
export const LOG_BUFFER_TOTAL_BYTES = 16 * MiB;
/** Log bytes written to a file in one write (copied together first). */
export const LOG_WRITE_BATCH_BYTES = 256 * KiB;

/** A session holding less than this waiting is never held back for the total. */
export const LOG_BUFFER_SHARE_MIN = 256 * KiB;

/** Longest protocol line (a request) the daemon reads; longer ones are discarded. */
export { MAX_MESSAGE_BYTES };

/** Replies and pushes waiting for one client, beyond which it is disconnected. */
export const MAX_CLIENT_BACKLOG = 16 * MiB;

/** Output waiting for an attached client beyond which it skips ahead (gets a redraw later). */
export const ATTACH_LAG_BYTES = 4 * MiB;

/**
 * V8 flags the daemon runs with (it re-executes itself with them, see
 * `withMemoryFlags` in `main.ts`): a young generation of at most 1 MiB per
 * semi-space, per thread, instead of up to 16 MiB (under a flood of output,
 * three threads' worth of garbage was most of the daemon's memory); and
 * `gc()`, with which each thread collects what a burst left once it is
 * quiet (`_gc.ts`).
 */
export const V8_FLAGS = ["--max-semi-space-size=1", "--expose-gc"];

/**
 * Measured bounds on the daemon's resident memory, with margin, checked by
 * the stress suite (`deno task stress`).
 */
export const MEMORY = {
  /** Through a fuzz run: 50 000 random or garbage protocol lines, some huge. */
  fuzzPeakMiB: 150,
  /** With 50 sessions flooding output. */
  floodPeakMiB: 400,
} as const;
