/**
 * `status [--json]`: the daemon's state.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectExisting } from "./_connect.ts";
import { formatBytes, formatUptime } from "./_format.ts";
import type { ResourceStatus } from "../protocol.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import type { NotifyStatus } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "status",
  usage: "status [--json]",
  summary:
    "Show the daemon's pid, version, uptime, socket, session counts, limits and what sessions use.",
  details: `
Also: how limits are enforced (a systemd scope, a cgroup v2 or v1, or the
daemon itself) and where, the limits new sessions get, limits.maxLive and
hibernation, the memory and CPU all live sessions use together, and the
machine's free memory. Exits 1 with a hint when no daemon answers (it does
not start one).`,
  options: {
    json: { type: "boolean", description: "print as JSON" },
  },
  positionals: { min: 0, max: 0 },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const client = await connectExisting(paths());
  let st;
  try {
    st = await client.request("status", {});
  } finally {
    client.close();
  }
  if (boolOpt(args, "json")) {
    console.log(JSON.stringify(st, null, 2));
    return 0;
  }
  const counts = Object.entries(st.sessions.byStatus)
    .filter(([k]) => k !== "exited")
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
  const lines = [
    ["daemon", `running (pid ${st.pid})`],
    ["version", `${st.version} (protocol ${st.protocol})`],
    ["uptime", formatUptime(st.uptimeMs)],
    ["socket", `${st.socket}${st.socketActivated ? " (socket-activated)" : ""}`],
    ["home", st.home],
    [
      "sessions",
      `${st.sessions.live} live${counts ? ` (${counts})` : ""}, ${st.sessions.exited} exited`,
    ],
  ];
  if (st.notify) lines.push(["notify", notifyLine(st.notify)]);
  if (st.resources) lines.push(...resourceLines(st.resources));
  for (const w of st.configWarnings) lines.push(["config", w]);
  const held = st.logHeldBack ?? [];
  if (held.length > 0) {
    const bytes = held.reduce((n, h) => n + h.bytes, 0);
    lines.push([
      "logging",
      `held back for ${held.length} session(s): ${held[0]!.error} (${formatBytes(bytes)} ` +
      `waiting in memory; the output is held, nothing is lost; it is written once the disk has space)`,
    ]);
  }
  if (st.recordsFailing) {
    lines.push(["records", `cannot be written: ${st.recordsFailing} (retrying)`]);
  }
  for (const [k, v] of lines) console.log(`${k!.padEnd(9)} ${printable(v!)}`);
  return 0;
}

/** How the daemon notifies, in one line. */
export function notifyLine(n: NotifyStatus): string {
  if (!n.enabled) return "off (notify.enabled is false)";
  const who = n.notifier === null
    ? `none: ${n.detail}`
    : n.notifier === "command"
    ? n.detail
    : `${n.notifier} (${n.detail})`;
  return `${who}${n.problem ? `, but ${n.problem}` : ""} (on ${n.on.join(", ") || "nothing"})`;
}

const ENFORCED_BY: Record<ResourceStatus["enforcement"], string> = {
  systemd: "the kernel, through systemd",
  cgroup_v2: "the kernel (cgroup v2)",
  cgroup_v1: "the kernel (cgroup v1)",
  daemon: "the daemon (no cgroup)",
};

/** The `limits`, `hibernate` and `usage` lines. */
export function resourceLines(r: ResourceStatus): string[][] {
  const per = [
    r.limits.memory !== null ? `memory ${formatBytes(r.limits.memory)}` : null,
    r.limits.cpu !== null ? `cpu ${r.limits.cpu}%` : null,
  ].filter((x) => x !== null);
  const bounds = per.length > 0 ? `${per.join(", ")} per session` : "no memory or cpu limit";
  const live = r.maxLive > 0
    ? `; at most ${r.maxLive} live (beyond: ${
      r.whenFull === "hibernate" ? "hibernate the idlest" : "queue"
    })`
    : "";
  const u = r.usage;
  return [
    [
      "limits",
      `${bounds}${live}; enforced by ${ENFORCED_BY[r.enforcement]}: ${r.enforcementDetail}`,
    ],
    [
      "hibernate",
      r.hibernateAfterMinutes > 0
        ? `Claude sessions idle ${r.hibernateAfterMinutes} min`
        : "off (hibernate.afterMinutes)",
    ],
    [
      "usage",
      `${formatBytes(u.rss)}${u.cpu !== null ? `, ${u.cpu}% CPU` : ""} in ${u.sessions} live ` +
      `session(s) (${u.processes} processes); machine: ${formatBytes(r.machine.available)} of ` +
      `${formatBytes(r.machine.total)} available`,
    ],
  ];
}
