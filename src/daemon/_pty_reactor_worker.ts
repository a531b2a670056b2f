/**
 * The PTY reactor thread: one synchronous poll(2) loop over every PTY master
 * of the process, so that no session ever holds a thread of Deno's blocking
 * pool (which has only a few dozen: one blocked reader per session would
 * starve every file operation after some thirty sessions).
 *
 * Commands arrive as fixed-size records (see `CMD_BYTES`) on a pipe that is
 * also part of the poll set, so a command wakes the loop; the records are
 * written atomically (far below PIPE_BUF) and read in multiples of their
 * size, so they are never split.
 *
 * Flow control: at most `WINDOW_BYTES` of a PTY's output are handed over and
 * not yet acknowledged (`ACK`); past that the PTY is not read until the main
 * thread catches up, so the program blocks instead of memory growing. The loop never yields to this worker's event loop:
 * it needs none (output leaves by postMessage, which does not wait).
 *
 * Quiet ticks: a PTY nobody watches (not `LIVE`) whose output only trickles
 * (under `PTY_BUSY_BYTES` a `PTY_BUSY_WINDOW_MS`) is not polled for
 * `PTY_QUIET_TICK_MS` after it was read, and every such PTY rests until the
 * same moment: ten agents printing a line each every 100 ms wake this thread
 * (and the main thread) a few times a tick instead of once a line. Output
 * waits in the kernel meanwhile; a flood or a watched PTY is read at once.
 *
 * Worker -> main: `data` (what one round of the loop read from every PTY, in
 * chunks of ≤ 64 KiB, one message transferring them all), `end` (EOF, EIO or hang-up
 * with nothing left), `writable` (POLLOUT after WANT_WRITE), `removed`. Each
 * carries a sequence number; a small round goes through the shared slot of
 * `_pty_reactor_lane.ts` instead of a message when the slot is free.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { C, errno, libc, POLL } from "./_platform.ts";
import {
  CMD,
  CMD_BYTES,
  type ReactorMessage,
  type ReactorPost,
  WINDOW_BYTES,
} from "./_pty_reactor_protocol.ts";
import { Lane } from "./_pty_reactor_lane.ts";
import { PTY_BUSY_BYTES, PTY_BUSY_WINDOW_MS, PTY_QUIET_TICK_MS } from "./limits.ts";

const CHUNK = 64 * 1024;
/** Bytes read from one PTY per round, so that one busy session cannot starve the others. */
const BURST = 256 * 1024;

interface Watched {
  paused: boolean;
  wantWrite: boolean;
  /** Output handed over and not yet acknowledged. */
  inflight: number;
  /** Hung up while not being read: not polled again until it is (poll would keep saying so). */
  hup: boolean;
  /** Watched (an attached client, recent input): read at once. */
  live: boolean;
  /** Printing at least PTY_BUSY_BYTES a window: read at once. */
  busy: boolean;
  /** Bytes read in the current busy window, and when it began. */
  winBytes: number;
  winStart: number;
}

/** Whether a PTY waits for the quiet tick (only trickling output, nobody watching). */
function quiet(w: Watched): boolean {
  return !w.live && !w.busy;
}

/** Counts output towards the PTY's busy window; says whether it is busy now. */
function measure(w: Watched, n: number, now: number): void {
  w.winBytes += n;
  if (w.winBytes >= PTY_BUSY_BYTES) {
    w.busy = true;
  } else if (now - w.winStart >= PTY_BUSY_WINDOW_MS) {
    w.busy = false;
  } else return;
  if (now - w.winStart >= PTY_BUSY_WINDOW_MS) {
    w.winBytes = 0;
    w.winStart = now;
  }
}

/** Whether a PTY's output is wanted now. */
function reading(w: Watched): boolean {
  return !w.paused && w.inflight < WINDOW_BYTES;
}

/** Output read in this round of the loop, not yet posted (one message a round). */
let outFds: number[] = [];
let outData: Uint8Array[] = [];

/** Sequence number of the next message (the main thread handles them in this order). */
let seq = 0;
let lane: Lane | null = null;

function sendData(): void {
  if (outFds.length === 0) return;
  const n = seq++;
  if (!lane?.put(n, outFds, outData)) {
    const msg: ReactorPost = { op: "data", fds: outFds, data: outData, seq: n };
    self.postMessage(msg, outData.map((d) => d.buffer as ArrayBuffer));
  }
  outFds = [];
  outData = [];
}

/** Posts a message, after the output read before it. */
function post(msg: ReactorMessage): void {
  sendData();
  self.postMessage({ ...msg, seq: seq++ });
}

self.onmessage = (e: MessageEvent<{ cmdFd: number; lane?: SharedArrayBuffer }>) => {
  self.onmessage = null;
  if (e.data.lane) lane = new Lane(e.data.lane);
  try {
    run(e.data.cmdFd);
    post({ op: "stopped" });
  } catch (err) {
    post({ op: "fatal", message: (err as Error)?.stack ?? String(err) });
  }
  self.close();
};

function run(cmdFd: number): void {
  const s = libc();
  const fds = new Map<number, Watched>();
  const cmdBuf = new Uint8Array(CMD_BYTES * 455);
  const cmdView = new DataView(cmdBuf.buffer);
  const readBuf = new Uint8Array(CHUNK);
  let pollBuf = new Uint8Array(8 * 64);
  let running = true;
  /** Until when quiet PTYs rest (performance.now()); 0: they are polled. */
  let restUntil = 0;

  while (running) {
    let now = performance.now();
    if (restUntil !== 0 && now >= restUntil) restUntil = 0;
    let resting = false; // a quiet PTY left out of this poll
    const order = [cmdFd];
    const wanted: number[] = [POLL.IN];
    for (const [fd, w] of fds) {
      let events = w.wantWrite && !w.hup ? POLL.OUT : 0;
      if (reading(w)) {
        if (restUntil !== 0 && quiet(w)) resting = true;
        else events |= POLL.IN;
      }
      if (events === 0) continue;
      order.push(fd);
      wanted.push(events);
    }
    if (pollBuf.length < order.length * 8) pollBuf = new Uint8Array(order.length * 16);
    const view = new DataView(pollBuf.buffer);
    order.forEach((fd, i) => {
      view.setInt32(i * 8, fd, true);
      view.setInt16(i * 8 + 4, wanted[i]!, true);
      view.setInt16(i * 8 + 6, 0, true);
    });
    const timeout = resting ? Math.max(1, Math.ceil(restUntil - now)) : -1;
    const r = s.pollSync(pollBuf, BigInt(order.length), timeout);
    if (r < 0) {
      if (errno() === C.EINTR) continue;
      throw new Error(`poll failed (errno ${errno()})`);
    }

    // Commands first: a fd removed now is not read below.
    const cmdEvents = view.getInt16(6, true);
    if ((cmdEvents & (POLL.HUP | POLL.ERR | POLL.NVAL)) !== 0 && (cmdEvents & POLL.IN) === 0) {
      break; // the command pipe is gone: nobody can stop us any other way
    }
    if ((cmdEvents & POLL.IN) !== 0) {
      while (true) {
        const n = Number(s.read(cmdFd, cmdBuf, BigInt(cmdBuf.length)));
        if (n <= 0) break;
        for (let at = 0; at + CMD_BYTES <= n; at += CMD_BYTES) {
          const op = cmdBuf[at]!;
          const fd = cmdView.getInt32(at + 1, true);
          if (op === CMD.ADD) {
            fds.set(fd, {
              paused: false,
              wantWrite: false,
              inflight: 0,
              hup: false,
              live: false,
              busy: false,
              winBytes: 0,
              winStart: performance.now(),
            });
          } else if (op === CMD.ACK) {
            const w = fds.get(fd);
            if (w) {
              w.inflight = Math.max(0, w.inflight - cmdView.getInt32(at + 5, true));
              if (reading(w)) w.hup = false;
            }
          } else if (op === CMD.REMOVE) {
            fds.delete(fd);
            post({ op: "removed", fd });
          } else if (op === CMD.PAUSE) {
            const w = fds.get(fd);
            if (w) w.paused = true;
          } else if (op === CMD.RESUME) {
            const w = fds.get(fd);
            if (w) {
              w.paused = false;
              if (reading(w)) w.hup = false;
            }
          } else if (op === CMD.LIVE) {
            const w = fds.get(fd);
            if (w) w.live = cmdView.getInt32(at + 5, true) !== 0;
          } else if (op === CMD.WANT_WRITE) {
            const w = fds.get(fd);
            if (w) w.wantWrite = true;
          } else if (op === CMD.STOP) running = false;
        }
        if (n < cmdBuf.length) break;
      }
      if (!running) break;
    }

    now = performance.now();
    let readQuiet = false; // a quiet PTY was read: they all rest a tick
    for (let i = 1; i < order.length; i++) {
      const fd = order[i]!;
      const revents = view.getInt16(i * 8 + 6, true);
      const w = fds.get(fd);
      if (!w || revents === 0) continue;
      if ((revents & POLL.OUT) !== 0 && w.wantWrite) {
        w.wantWrite = false;
        post({ op: "writable", fd });
      }
      if (!reading(w)) {
        if ((revents & (POLL.HUP | POLL.ERR | POLL.NVAL)) !== 0) w.hup = true;
        continue;
      }
      if ((revents & (POLL.IN | POLL.HUP | POLL.ERR | POLL.NVAL)) === 0) continue;
      let burst = 0;
      let ended = false;
      while (burst < BURST && w.inflight < WINDOW_BYTES) {
        const n = Number(s.read(fd, readBuf, BigInt(readBuf.length)));
        if (n > 0) {
          burst += n;
          w.inflight += n;
          outFds.push(fd);
          outData.push(readBuf.slice(0, n));
          continue;
        }
        const err = n < 0 ? errno() : 0;
        if (n < 0 && (err === C.EAGAIN || err === C.EINTR)) {
          // Nothing more now; a hang-up with nothing left to read is the end.
          if (burst === 0 && (revents & (POLL.HUP | POLL.ERR | POLL.NVAL)) !== 0) ended = true;
          break;
        }
        ended = true; // 0 (EOF) or EIO (Linux: every slave descriptor closed)
        break;
      }
      if (ended) {
        fds.delete(fd);
        post({ op: "end", fd });
        continue;
      }
      measure(w, burst, now);
      if (burst > 0 && quiet(w)) readQuiet = true;
    }
    if (readQuiet && restUntil === 0) restUntil = now + PTY_QUIET_TICK_MS;
    sendData();
  }
}
