/**
 * Human-readable output: durations, tables, paths, colours.
 *
 * @module
 */

import type { SessionStatus } from "../protocol.ts";

export { formatDuration } from "../session_view.ts";

/** "1h 2m 3s" — precise, for uptime. */
export function formatUptime(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  parts.push(`${s}s`);
  return parts.join(" ");
}

/** Whether to colour stdout (a terminal, and NO_COLOR unset). */
export function useColor(): boolean {
  return Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
}

const COLORS: Record<SessionStatus, string> = {
  queued: "\x1b[2m",
  hibernated: "\x1b[36m",
  starting: "\x1b[2m",
  running: "\x1b[32m",
  waiting_input: "\x1b[33m",
  waiting_permission: "\x1b[1;31m",
  exited: "\x1b[2m",
};

/** A status word, coloured when `color`. */
export function paintStatus(text: string, status: SessionStatus, color: boolean): string {
  return color ? `${COLORS[status]}${text}\x1b[0m` : text;
}

/** Renders rows as aligned columns. `widths` of cells exclude escape sequences. */
export function table(header: string[], rows: string[][]): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(w[i]! - visible(c))))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export { formatBytes } from "../bytes.ts";
