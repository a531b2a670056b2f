/**
 * The main thread's handle on the PTY reactor thread (`_pty_reactor_worker.ts`):
 * registers PTY masters, routes what the thread reads to each one's handler,
 * and sends it commands through a pipe it polls. Started on first use, ended
 * when the last PTY is removed.
 *
 * The thread's messages come as `postMessage`s and, for small rounds of
 * output, through a shared slot (`_pty_reactor_lane.ts`: a quicker wakeup);
 * both are numbered and handled strictly in their order.
 *
 * @module
 */

import * as fs from "node:fs";
import { C, errno, libc, wakePipe } from "./_platform.ts";
import {
  ACK_STEP_BYTES,
  CMD,
  CMD_BYTES,
  type ReactorMessage,
  type ReactorPost,
} from "./_pty_reactor_protocol.ts";
import { Lane } from "./_pty_reactor_lane.ts";
import { WORKER_BUNDLES, workerUrl } from "../worker_url.ts";

/** What a registered PTY master is told. */
export interface ReactorHandler {
  /** Output read from the master (owned by the callee). */
  data(chunk: Uint8Array): void;
  /** EOF, EIO or hang-up: the master will not be read again. */
  end(): void;
  /** The master accepts writes again (after {@linkcode PtyReactor.wantWrite}). */
  writable(): void;
}

/** The process's PTY reactor. */
export class PtyReactor {
  static #current: PtyReactor | null = null;
  #worker: Worker;
  #cmdRead: number;
  #cmdWrite: number;
  #handlers = new Map<number, ReactorHandler>();
  /** Output handled and not yet acknowledged to the thread, by fd. */
  #unacked = new Map<number, number>();
  #removals = new Map<number, () => void>();
  #backlog: Uint8Array[] = [];
  #stopped = false;
  #lane = new Lane();
  /** Sequence number of the thread's next message to handle; those that came early wait. */
  #next = 0;
  #early = new Map<number, ReactorMessage>();

  private constructor() {
    [this.#cmdRead, this.#cmdWrite] = wakePipe();
    this.#worker = new Worker(
      workerUrl(import.meta.url, "./_pty_reactor_worker.ts", WORKER_BUNDLES.pty),
      { type: "module" },
    );
    this.#worker.onmessage = (e: MessageEvent<ReactorPost>) => this.#arrived(e.data.seq, e.data);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#fatal(e.message);
    };
    this.#worker.postMessage({ cmdFd: this.#cmdRead, lane: this.#lane.buffer });
    void this.#watchLane();
  }

  /** Handles what the lane gets, until it is closed. */
  async #watchLane(): Promise<void> {
    while (await this.#lane.filled()) this.#arrived(-1, null);
  }

  /**
   * A message numbered `seq` came (or, with null, maybe a round in the lane):
   * handles every message that is next in order.
   */
  #arrived(seq: number, msg: ReactorMessage | null): void {
    if (msg) this.#early.set(seq, msg);
    while (true) {
      const round = this.#lane.take();
      if (round) this.#early.set(round.seq, { op: "data", fds: round.fds, data: round.data });
      const next = this.#early.get(this.#next);
      if (!next) return;
      this.#early.delete(this.#next);
      this.#next++;
      this.#receive(next);
    }
  }

  /** The running reactor (started if needed). */
  static get(): PtyReactor {
    if (!PtyReactor.#current || PtyReactor.#current.#stopped) {
      PtyReactor.#current = new PtyReactor();
    }
    return PtyReactor.#current;
  }

  /** Starts watching a master fd (non-blocking). */
  add(fd: number, handler: ReactorHandler): void {
    this.#handlers.set(fd, handler);
    this.#command(CMD.ADD, fd);
  }

  /** Stops reading a master until {@linkcode PtyReactor.resume}. */
  pause(fd: number): void {
    this.#command(CMD.PAUSE, fd);
  }

  /** Resumes reading a paused master. */
  resume(fd: number): void {
    this.#command(CMD.RESUME, fd);
  }

  /**
   * Whether a master is watched (an attached client, recent input): read at
   * once, not once a quiet tick (see the worker).
   */
  live(fd: number, on: boolean): void {
    this.#command(CMD.LIVE, fd, false, on ? 1 : 0);
  }

  /** Asks to be told when a full master accepts writes again. */
  wantWrite(fd: number): void {
    this.#command(CMD.WANT_WRITE, fd);
  }

  /**
   * Stops watching a master; resolves once the reactor has let go of it (only
   * then may it be closed: its number could be reused).
   */
  remove(fd: number): Promise<void> {
    if (!this.#handlers.has(fd) || this.#stopped) {
      this.#handlers.delete(fd);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#removals.set(fd, resolve);
      this.#command(CMD.REMOVE, fd);
    });
  }

  #receive(msg: ReactorMessage): void {
    switch (msg.op) {
      case "data": {
        msg.fds.forEach((fd, i) => {
          const data = msg.data[i]!;
          this.#handlers.get(fd)?.data(data);
          // Handled: the thread may read that much more of this PTY.
          const n = (this.#unacked.get(fd) ?? 0) + data.length;
          if (n >= ACK_STEP_BYTES) {
            this.#unacked.delete(fd);
            this.#command(CMD.ACK, fd, false, n);
          } else this.#unacked.set(fd, n);
        });
        return;
      }
      case "end":
        this.#handlers.get(msg.fd)?.end();
        return;
      case "writable":
        this.#handlers.get(msg.fd)?.writable();
        return;
      case "removed": {
        this.#handlers.delete(msg.fd);
        this.#unacked.delete(msg.fd);
        const done = this.#removals.get(msg.fd);
        this.#removals.delete(msg.fd);
        done?.();
        if (this.#handlers.size === 0) this.#stop();
        return;
      }
      case "stopped":
        this.#release();
        return;
      case "fatal":
        this.#fatal(msg.message);
        this.#release();
        return;
    }
  }

  /** Ends the thread once nothing is watched, so the process may exit. */
  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // The thread leaves its loop on STOP and says so; then the pipe can go.
    this.#command(CMD.STOP, 0, true);
  }

  #release(): void {
    this.#lane.close();
    this.#worker.terminate();
    for (const fd of [this.#cmdRead, this.#cmdWrite]) {
      try {
        fs.closeSync(fd);
      } catch { /* closed */ }
    }
  }

  #fatal(message: string): void {
    console.error(`${new Date().toISOString()} pty reactor failed: ${message}`);
    this.#stopped = true;
    this.#lane.close();
    for (const h of this.#handlers.values()) h.end();
    for (const done of this.#removals.values()) done();
    this.#handlers.clear();
    this.#removals.clear();
    this.#unacked.clear();
  }

  #command(op: number, fd: number, force = false, arg = 0): void {
    if (this.#stopped && !force) return;
    const rec = new Uint8Array(CMD_BYTES);
    rec[0] = op;
    const view = new DataView(rec.buffer);
    view.setInt32(1, fd, true);
    view.setInt32(5, arg, true);
    this.#backlog.push(rec);
    this.#flushCommands();
  }

  #flushCommands(): void {
    const s = libc();
    while (this.#backlog.length > 0) {
      const rec = this.#backlog[0]!;
      const n = Number(s.write(this.#cmdWrite, rec, BigInt(CMD_BYTES)));
      if (n === CMD_BYTES) {
        this.#backlog.shift();
        continue;
      }
      if (n < 0 && errno() === C.EAGAIN) {
        // The pipe is full (the thread is behind by thousands of commands):
        // try again shortly rather than block the daemon.
        setTimeout(() => this.#flushCommands(), 1);
        return;
      }
      throw new Error(`cannot command the pty reactor (errno ${errno()})`);
    }
  }
}
