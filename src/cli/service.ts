/**
 * `service install|uninstall|status|restart`: the user service that runs the
 * daemon (systemd user units with socket activation, or a launchd agent).
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { CliError, UsageError } from "./_errors.ts";
import { Service, ServiceError, type ServiceStatus } from "../service/service.ts";
import { printable } from "../printable.ts";

const ACTIONS = ["install", "uninstall", "status", "restart"] as const;
type Action = typeof ACTIONS[number];

/** Command interface. */
export const spec: CommandSpec = {
  name: "service",
  usage: "service install|uninstall|status|restart [--json]",
  summary: "Manage the user service that runs the daemon (systemd or launchd).",
  details: `
install    write the service files for this program and this home, and start
           the service: on Linux, claude-sessions.socket and
           claude-sessions.service in ~/.config/systemd/user (the socket starts
           the daemon on first use); on macOS, the launchd agent
           ~/Library/LaunchAgents/com.claude-sessions.daemon.plist. A daemon
           already running with live sessions is left running; the output
           says how to switch over. Re-running it updates the files.
uninstall  stop the service (its daemon stops its sessions) and remove its files
status     the service manager's view (or why it cannot be asked) and what
           answers on the socket
           (exits 0 whatever the state; --json for scripts)
restart    restart the daemon (its sessions are stopped), through the service
           when installed, else directly

Without systemd as the init system (containers, WSL without systemd) there is
no service: every command starts the daemon on demand. install then says so
(exit 0) and stops an idle daemon of another version; status says so. CLAUDE_SESSIONS_SERVICE_MANAGER=systemd|launchd|none
overrides the detection.`,
  options: {
    json: { type: "boolean", description: "status: print as JSON" },
  },
  positionals: { min: 1, max: 1, names: "ACTION (install, uninstall, status or restart)" },
  remote: false,
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const action = args.positionals[0] as Action;
  if (!ACTIONS.includes(action)) {
    throw new UsageError(
      `unknown action "${action}" (install, uninstall, status or restart)`,
      "service",
    );
  }
  if (boolOpt(args, "json") && action !== "status") {
    throw new UsageError("--json goes with: service status", "service");
  }
  const service = await Service.forThisMachine();
  const say = (line: string) => console.log(printable(line));
  try {
    switch (action) {
      case "install":
        await service.install(say);
        return 0;
      case "uninstall":
        await service.uninstall(say);
        return 0;
      case "restart":
        await service.restart(say);
        return 0;
      case "status": {
        const st = await service.status();
        if (boolOpt(args, "json")) console.log(JSON.stringify(st, null, 2));
        else console.log(formatStatus(st).split("\n").map(printable).join("\n"));
        return 0;
      }
    }
  } catch (e) {
    if (e instanceof ServiceError) throw new CliError(e.message, 1, e.hint);
    throw e;
  }
}

/** The human form of `service status`. */
export function formatStatus(st: ServiceStatus): string {
  const rows: [string, string][] = [
    ["manager", st.manager === "none" ? `none (${st.reason})` : st.manager],
  ];
  if (st.manager !== "none") {
    rows.push([
      "installed",
      st.installed ? (st.current ? "yes" : "yes, but outdated (run: service install)") : "no",
    ]);
    for (const f of st.files) rows.push(["file", f]);
    if (st.state) {
      rows.push(["enabled", st.state.enabled ? "yes (starts at login)" : "no"]);
      rows.push(["state", st.state.detail]);
    } else if (st.error !== null) {
      rows.push(["state", `unknown: ${st.error}`]);
    }
  }
  rows.push([
    "daemon",
    st.daemon.answering
      ? `running (pid ${st.daemon.pid}, version ${st.daemon.version}, ${st.daemon.live} live${
        st.managed ? ", under the service" : st.manager === "none" ? "" : ", outside the service"
      }${st.daemon.socketActivated ? ", socket-activated" : ""})`
      : `not answering${st.daemon.note ? ` (${st.daemon.note})` : ""}`,
  ]);
  rows.push(["logs", st.logs]);
  rows.push(["summary", st.summary]);
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join("\n");
}
