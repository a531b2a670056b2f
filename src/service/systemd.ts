/**
 * The systemd user manager: `claude-sessions.socket` (socket activation) and
 * `claude-sessions.service` in `~/.config/systemd/user`, driven with
 * `systemctl --user`.
 *
 * @module
 */

import { BackendError, type BackendState, type ServiceBackend } from "./_backend.ts";
import { firstLine, type Runner } from "./_run.ts";
import { type RenderInput, renderSystemdUnits, SERVICE_UNIT, SOCKET_UNIT } from "./render.ts";

/** The systemd user units directory: `$XDG_CONFIG_HOME/systemd/user`. */
export function systemdUserDir(env: (k: string) => string | undefined): string {
  const xdg = env("XDG_CONFIG_HOME");
  const base = xdg && xdg.startsWith("/") ? xdg : `${env("HOME") ?? ""}/.config`;
  return `${base}/systemd/user`;
}

/** systemd, as a {@linkcode ServiceBackend}. */
export class SystemdBackend implements ServiceBackend {
  readonly name = "systemd" as const;
  readonly dir: string;
  readonly logHint = `journalctl --user -u ${SERVICE_UNIT}`;
  readonly #run: Runner;

  constructor(dir: string, run: Runner) {
    this.dir = dir;
    this.#run = run;
  }

  render(input: RenderInput) {
    return renderSystemdUnits(input);
  }

  socketIn(installed: Map<string, string | null>): string | null {
    const line = /^ListenStream=(.*)$/m.exec(installed.get(SOCKET_UNIT) ?? "")?.[1]?.trim();
    // An absolute path with no specifier but %% (what install writes), else unknown.
    if (!line || !line.startsWith("/") || line.replaceAll("%%", "").includes("%")) return null;
    return line.replaceAll("%%", "%");
  }

  async state(): Promise<BackendState> {
    const props = "LoadState,ActiveState,SubState,UnitFileState,MainPID,Result";
    const out = await this.#systemctl(
      "show",
      `--property=${props}`,
      SOCKET_UNIT,
      SERVICE_UNIT,
    );
    const [sock, svc] = parseShow(out);
    const get = (m: Map<string, string> | undefined, k: string) => m?.get(k) ?? "";
    const loaded = get(svc, "LoadState") === "loaded" && get(sock, "LoadState") === "loaded";
    const pid = Number(get(svc, "MainPID")) || null;
    const svcActive = get(svc, "ActiveState");
    const sockActive = get(sock, "ActiveState");
    return {
      loaded,
      enabled: get(sock, "UnitFileState") === "enabled",
      running: svcActive === "active" || svcActive === "reloading",
      listening: sockActive === "active",
      failed: svcActive === "failed" || sockActive === "failed",
      pid,
      detail: loaded
        ? `${SOCKET_UNIT} ${sockActive} (${get(sock, "SubState")}), ` +
          `${SERVICE_UNIT} ${svcActive} (${get(svc, "SubState")})` +
          (pid ? `, pid ${pid}` : "")
        : `${SERVICE_UNIT} not loaded`,
    };
  }

  async register(): Promise<void> {
    await this.#systemctl("daemon-reload");
    await this.#systemctl("enable", SOCKET_UNIT);
  }

  async start(): Promise<void> {
    await this.#resetFailed();
    await this.#systemctl("start", SOCKET_UNIT);
    await this.#systemctl("start", SERVICE_UNIT);
  }

  async restart(): Promise<void> {
    await this.#resetFailed();
    // After daemon-reload an active socket unit still has its old address
    // (and a changed ListenStream= leaves it listening nowhere, or on the old
    // path): only a restart of the socket unit applies the unit file. It
    // stops the service first (Requires=), then both start again.
    await this.#systemctl("restart", SOCKET_UNIT, SERVICE_UNIT);
  }

  async stop(): Promise<void> {
    await this.#systemctl("disable", "--now", SOCKET_UNIT, SERVICE_UNIT);
  }

  async forget(): Promise<void> {
    await this.#systemctl("daemon-reload");
    await this.#resetFailed();
  }

  async #resetFailed(): Promise<void> {
    // Fails when neither unit is failed (or loaded); nothing to do then.
    await this.#run("systemctl", ["--user", "reset-failed", SOCKET_UNIT, SERVICE_UNIT]);
  }

  async #systemctl(...args: string[]): Promise<string> {
    const r = await this.#run("systemctl", ["--user", ...args]);
    if (r.code !== 0) {
      throw new BackendError(`systemctl --user ${args.join(" ")} failed: ${firstLine(r)}`);
    }
    return r.stdout;
  }
}

/** Parses `systemctl show` output: one property map per unit, in order. */
export function parseShow(text: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = [];
  let cur: Map<string, string> | null = null;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      cur = null;
      continue;
    }
    if (!cur) {
      cur = new Map();
      blocks.push(cur);
    }
    const i = line.indexOf("=");
    if (i > 0) cur.set(line.slice(0, i), line.slice(i + 1));
  }
  return blocks;
}
