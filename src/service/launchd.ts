/**
 * launchd (macOS): the agent `com.claude-sessions.daemon` in
 * `~/Library/LaunchAgents`, loaded into the user's GUI domain with
 * `launchctl bootstrap gui/$UID`.
 *
 * @module
 */

import { BackendError, type BackendState, type ServiceBackend } from "./_backend.ts";
import { firstLine, type Runner, type RunResult } from "./_run.ts";
import { LAUNCHD_LABEL, type RenderInput, renderLaunchdPlist, xmlUnescape } from "./render.ts";
import { paths } from "../paths.ts";

/** Timing of the waits around `bootout` (see {@linkcode LaunchdBackend}). */
export interface LaunchdTiming {
  /** Pause between two looks at the agent, or two `bootstrap` attempts. */
  pollMs: number;
  /** How long launchd may take to release the label after `bootout`. */
  releaseTimeoutMs: number;
  /** `bootstrap` attempts while launchd answers "Input/output error". */
  bootstrapTries: number;
}

const DEFAULT_TIMING: LaunchdTiming = { pollMs: 100, releaseTimeoutMs: 10_000, bootstrapTries: 5 };

/**
 * launchd, as a {@linkcode ServiceBackend}.
 *
 * `launchctl bootout` returns before launchd has released the agent's label:
 * the job is torn down asynchronously, and a `bootstrap` meanwhile fails with
 * "5: Input/output error". launchctl offers nothing to wait on, so after a
 * bootout this backend looks at the agent (`launchctl print`) until it is
 * gone, a few times a second and for a bounded time, and retries a
 * `bootstrap` that fails that way a few times. This is the one place where
 * the program polls.
 */
export class LaunchdBackend implements ServiceBackend {
  readonly name = "launchd" as const;
  readonly dir: string;
  readonly logHint: string;
  readonly #run: Runner;
  readonly #domain: string;
  readonly #timing: LaunchdTiming;

  /**
   * @param userHome the user's home directory (`$HOME`)
   * @param daemonLog where the agent's stdout and stderr go
   * @param timing the waits around bootout (tests shorten them)
   */
  constructor(
    userHome: string,
    uid: number,
    daemonLog: string,
    run: Runner,
    timing: Partial<LaunchdTiming> = {},
  ) {
    this.dir = `${userHome}/Library/LaunchAgents`;
    this.logHint = daemonLog;
    this.#run = run;
    this.#domain = `gui/${uid}`;
    this.#timing = { ...DEFAULT_TIMING, ...timing };
  }

  get #plist(): string {
    return `${this.dir}/${LAUNCHD_LABEL}.plist`;
  }

  get #target(): string {
    return `${this.#domain}/${LAUNCHD_LABEL}`;
  }

  render(input: RenderInput) {
    return [renderLaunchdPlist(input)];
  }

  socketIn(installed: Map<string, string | null>): string | null {
    const home = /<key>CLAUDE_SESSIONS_HOME<\/key>\s*<string>([^<]*)<\/string>/.exec(
      installed.get(`${LAUNCHD_LABEL}.plist`) ?? "",
    )?.[1];
    return home && home.startsWith("/") ? paths(xmlUnescape(home)).socket : null;
  }

  async state(): Promise<BackendState> {
    const r = await this.#run("launchctl", ["print", this.#target]);
    if (r.code !== 0) {
      return {
        loaded: false,
        enabled: false,
        running: false,
        listening: false,
        failed: false,
        pid: null,
        detail: `${LAUNCHD_LABEL} not loaded`,
      };
    }
    return parsePrint(r.stdout);
  }

  async register(): Promise<void> {
    // launchd reads the plist when it is bootstrapped (start/restart) and at login.
  }

  async start(): Promise<void> {
    if ((await this.state()).loaded) {
      await this.#launchctl("kickstart", this.#target);
    } else {
      await this.#bootstrap();
    }
  }

  async restart(): Promise<void> {
    // bootout + bootstrap (not kickstart -k) so that a changed plist is read.
    if ((await this.state()).loaded) await this.#bootout();
    await this.#bootstrap();
  }

  async stop(): Promise<void> {
    // Waits for the release too, so that an install right after works.
    if ((await this.state()).loaded) await this.#bootout();
  }

  async forget(): Promise<void> {}

  /** Unloads the agent and returns once launchd has released its label. */
  async #bootout(): Promise<void> {
    await this.#launchctl("bootout", this.#target);
    const deadline = Date.now() + this.#timing.releaseTimeoutMs;
    while ((await this.#run("launchctl", ["print", this.#target])).code === 0) {
      if (Date.now() >= deadline) {
        throw new BackendError(
          `launchd still has ${LAUNCHD_LABEL} ${
            this.#timing.releaseTimeoutMs / 1000
          }s after launchctl bootout`,
        );
      }
      await pause(this.#timing.pollMs);
    }
  }

  /** Loads the agent, retrying while launchd is still releasing its label. */
  async #bootstrap(): Promise<void> {
    const args = ["bootstrap", this.#domain, this.#plist];
    for (let attempt = 1;; attempt++) {
      const r = await this.#run("launchctl", args);
      if (r.code === 0) return;
      if (attempt >= this.#timing.bootstrapTries || !isReleasePending(r)) {
        const tries = attempt > 1 ? ` (${attempt} attempts)` : "";
        throw new BackendError(`launchctl ${args.join(" ")} failed${tries}: ${firstLine(r)}`);
      }
      await pause(this.#timing.pollMs * attempt);
    }
  }

  async #launchctl(...args: string[]): Promise<void> {
    const r = await this.#run("launchctl", args);
    if (r.code !== 0) {
      throw new BackendError(`launchctl ${args.join(" ")} failed: ${firstLine(r)}`);
    }
  }
}

/**
 * `bootstrap` failed because launchd has not finished releasing the label
 * ("Bootstrap failed: 5: Input/output error"; launchctl exits 5).
 */
export function isReleasePending(r: RunResult): boolean {
  return r.code === 5 || /\b5: Input\/output error/.test(`${r.stderr}\n${r.stdout}`);
}

/** Waits `ms` (only for the bounded retries around bootout, see above). */
function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads `launchctl print` output for a loaded agent. */
export function parsePrint(text: string): BackendState {
  const field = (name: string) =>
    new RegExp(`^\\s*${name} = (.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
  const state = field("state");
  const pid = Number(field("pid")) || null;
  const lastExit = field("last exit code");
  const running = state === "running";
  const failed = !running && lastExit !== "" && lastExit !== "0" && !/never/.test(lastExit);
  return {
    loaded: true,
    enabled: true,
    running,
    listening: false,
    failed,
    pid: running ? pid : null,
    detail: `${LAUNCHD_LABEL} ${state || "loaded"}` + (running && pid ? `, pid ${pid}` : "") +
      (lastExit ? `, last exit code ${lastExit}` : ""),
  };
}
