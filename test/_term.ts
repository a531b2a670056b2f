/**
 * A terminal for end-to-end tests: runs a CLI command (e.g. `attach`) inside
 * a PTY the test owns, and interprets what it draws with a headless terminal
 * emulator, so tests can wait until the user would *see* something. Every
 * wait is woken by output, never by a timer (timeouts are only safety nets).
 *
 * @module
 */

import { Pty } from "../src/daemon/pty.ts";
import { ptyLaunchArgv } from "../src/daemon/_platform.ts";
import { Screen } from "../src/daemon/screen.ts";
import { TIMED_OUT, within } from "../src/async.ts";
import { MAIN } from "./_harness.ts";

/**
 * Starts `command` with `pty`'s terminal as its standard streams and
 * controlling terminal, in exactly the environment `env`.
 */
export function spawnOnTerminal(
  pty: Pty,
  command: string[],
  env: Record<string, string>,
): Deno.ChildProcess {
  const argv = ptyLaunchArgv(pty.path, command[0]!, command.slice(1));
  return new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** A command running on a test-owned terminal. */
export class TermClient {
  readonly pty: Pty;
  readonly child: Deno.ChildProcess;
  readonly screen: Screen;
  /** Whether output is interpreted (false: only a tail of raw text is kept, like a fast terminal). */
  readonly emulate: boolean;
  #raw: string[] = [];
  #rawTail = "";
  #listeners = new Set<(text: string) => void>();
  #waiters: (() => void)[] = [];
  #ended = false;
  /** Bumped on every output chunk, so a wait started after a check cannot miss one. */
  #gen = 0;
  #decoder = new TextDecoder();
  /** Resolves with the exit status once the command ends and its output is read. */
  readonly exited: Promise<Deno.CommandStatus>;

  private constructor(pty: Pty, child: Deno.ChildProcess, screen: Screen, emulate: boolean) {
    this.pty = pty;
    this.child = child;
    this.screen = screen;
    this.emulate = emulate;
    let ended!: () => void;
    const endedP = new Promise<void>((r) => (ended = r));
    pty.startReading({
      onData: (chunk) => {
        const text = this.#decoder.decode(chunk, { stream: true });
        if (emulate) {
          screen.feed(chunk);
          this.#raw.push(text);
        } else {
          this.#rawTail = (this.#rawTail + text).slice(-65536);
        }
        for (const fn of this.#listeners) fn(text);
        this.#wake();
      },
      onEnd: () => {
        this.#ended = true;
        ended();
        this.#wake();
      },
    });
    this.exited = (async () => {
      const st = await child.status;
      pty.releaseSlave();
      await within(endedP, 2000);
      await screen.settled();
      this.#wake();
      return st;
    })();
  }

  /** Runs `claude-sessions <args>` on a new terminal of the given size. */
  static spawn(
    args: string[],
    env: Record<string, string>,
    size: { cols: number; rows: number } = { cols: 100, rows: 30 },
    emulate = true,
  ): TermClient {
    return TermClient.spawnArgv(
      [Deno.execPath(), "run", "-A", "--quiet", MAIN, ...args],
      env,
      size,
      emulate,
    );
  }

  /** Runs any command on a new terminal of the given size. */
  static spawnArgv(
    command: string[],
    env: Record<string, string>,
    size: { cols: number; rows: number } = { cols: 100, rows: 30 },
    emulate = true,
  ): TermClient {
    const pty = Pty.open(size.cols, size.rows);
    const screen = new Screen(size.cols, size.rows, 1000, (paused) => {
      if (paused) pty.pause();
      else pty.resume();
    });
    return new TermClient(pty, spawnOnTerminal(pty, command, env), screen, emulate);
  }

  /** Calls `fn` with each piece of output (as text); returns the function that stops. */
  onOutput(fn: (text: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * What the command wrote, as text (escape sequences included): all of it
   * when emulating, else the last 64 KiB.
   */
  get raw(): string {
    return this.emulate ? this.#raw.join("") : this.#rawTail;
  }

  /** The visible screen as plain text (after everything received is parsed). */
  text(): Promise<string> {
    return this.screen.peek();
  }

  /** Waits until the visible screen matches `re`. */
  async waitForScreen(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const gen = this.#gen;
      const text = await this.text();
      if (re.test(text)) return text;
      if (this.#ended && gen === this.#gen) {
        throw new Error(`terminal ended without showing ${re}; screen:\n${text}`);
      }
      if (Date.now() > deadline) throw new Error(`screen never showed ${re}; screen:\n${text}`);
      await this.#after(gen, deadline - Date.now());
    }
  }

  /** Waits until the raw output matches `re`. */
  async waitForRaw(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const gen = this.#gen;
      if (re.test(this.raw)) return;
      if (this.#ended) throw new Error(`terminal ended without writing ${re}`);
      if (Date.now() > deadline) throw new Error(`terminal never wrote ${re}`);
      await this.#after(gen, deadline - Date.now());
    }
  }

  /**
   * Resolves when output containing `needle` arrives after this call (the
   * output before it does not count); fails after `timeoutMs`.
   */
  nextOutput(needle: string, timeoutMs = 10_000): Promise<void> {
    let seen = "";
    let stop = () => {};
    const p = new Promise<void>((resolve) => {
      stop = this.onOutput((text) => {
        seen = (seen + text).slice(-needle.length - 4096);
        if (seen.includes(needle)) resolve();
      });
    });
    return within(p, timeoutMs).then((r) => {
      stop();
      if (r === TIMED_OUT) throw new Error(`no "${needle}" within ${timeoutMs} ms`);
    });
  }

  /** Types bytes (as a user would). */
  type(text: string | Uint8Array): void {
    this.pty.write(typeof text === "string" ? new TextEncoder().encode(text) : text);
  }

  /** Resizes the terminal (the command gets SIGWINCH). */
  resize(cols: number, rows: number): void {
    this.pty.resize(cols, rows);
    this.screen.resize(cols, rows);
  }

  /** Waits for the command to end, then closes the terminal. */
  async close(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    const st = await within(this.exited, timeoutMs);
    if (st === TIMED_OUT) {
      await this.kill();
      throw new Error(`the command did not end within ${timeoutMs} ms (killed it)`);
    }
    await this.pty.close();
    this.screen.dispose();
    return st;
  }

  /** Kills the command (if still running) and closes the terminal. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.exited;
    await this.pty.close();
    this.screen.dispose();
  }

  #wake(): void {
    this.#gen++;
    for (const fn of this.#waiters.splice(0)) fn();
  }

  /** Waits for output newer than generation `gen` (returns at once if there already is). */
  #after(gen: number, ms: number): Promise<unknown> {
    if (this.#gen !== gen) return Promise.resolve();
    return within(new Promise<void>((r) => this.#waiters.push(r)), ms);
  }
}
