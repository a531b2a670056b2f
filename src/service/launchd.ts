/**
 * launchd (macOS): the agent `com.claude-sessions.daemon` in
 * `~/Library/LaunchAgents`, loaded into the user's GUI domain with
 * `launchctl bootstrap gui/$UID`.
 *
 * @module
 */

import { BackendError, type BackendState, type ServiceBackend } from "./_backend.ts";
import { firstLine, type Runner } from "./_run.ts";
import { LAUNCHD_LABEL, type RenderInput, renderLaunchdPlist } from "./render.ts";

/** launchd, as a {@linkcode ServiceBackend}. */
export class LaunchdBackend implements ServiceBackend {
  readonly name = "launchd" as const;
  readonly dir: string;
  readonly logHint: string;
  readonly #run: Runner;
  readonly #domain: string;

  /**
   * @param userHome the user's home directory (`$HOME`)
   * @param daemonLog where the agent's stdout and stderr go
   */
  constructor(userHome: string, uid: number, daemonLog: string, run: Runner) {
    this.dir = `${userHome}/Library/LaunchAgents`;
    this.logHint = daemonLog;
    this.#run = run;
    this.#domain = `gui/${uid}`;
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
      await this.#launchctl("bootstrap", this.#domain, this.#plist);
    }
  }

  async restart(): Promise<void> {
    // bootout + bootstrap (not kickstart -k) so that a changed plist is read.
    if ((await this.state()).loaded) await this.#launchctl("bootout", this.#target);
    await this.#launchctl("bootstrap", this.#domain, this.#plist);
  }

  async stop(): Promise<void> {
    if ((await this.state()).loaded) await this.#launchctl("bootout", this.#target);
  }

  async forget(): Promise<void> {}

  async #launchctl(...args: string[]): Promise<void> {
    const r = await this.#run("launchctl", args);
    if (r.code !== 0) {
      throw new BackendError(`launchctl ${args.join(" ")} failed: ${firstLine(r)}`);
    }
  }
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
