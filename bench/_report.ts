/**
 * The benchmark's table: one row per figure, claude-sessions beside tmux and
 * the floors, the ratios, and each target met or missed (benchmarks print
 * "target missed"; they never fail on a timing).
 *
 * @module
 */

import type { Stat } from "./_lib.ts";

/** One figure of the table. */
export interface Row {
  /** What is measured. */
  figure: string;
  /** claude-sessions, formatted. */
  ours: string;
  /** tmux, formatted ("—" when not measured). */
  tmux: string;
  /** The floors, formatted. */
  floor: string;
  /** Ratios, formatted. */
  ratio: string;
  /** The target and whether it is met. */
  target: string;
}

/** A measurement with its spread: `median (min–max)`, or just the value when measured once. */
export function fmt(s: Stat | null | undefined, unit: string, digits = 1): string {
  if (!s) return "—";
  const v = (x: number) => x.toFixed(digits);
  if (s.n === 1) return `${v(s.median)} ${unit}`;
  return `${v(s.median)} ${unit} (${v(s.min)}–${v(s.max)}, n=${s.n})`;
}

/** `a / b` of the medians, or null when either is missing. */
export function ratio(a: Stat | null | undefined, b: Stat | null | undefined): number | null {
  if (!a || !b || b.median === 0) return null;
  return a.median / b.median;
}

/** A ratio as `0.88×`, or "—". */
export function times(r: number | null, digits = 2): string {
  return r === null ? "—" : `${r.toFixed(digits)}×`;
}

/**
 * Whether `value` meets `op limit`, as "met" or "target missed (…)" saying by
 * how much; "—" when there is no value.
 */
export function verdict(value: number | null, op: "<=" | ">=", limit: number): string {
  if (value === null) return "not measured";
  const ok = op === "<=" ? value <= limit : value >= limit;
  if (ok) return "met";
  const by = op === "<=" ? value / limit : limit / value;
  return `target missed (${by.toFixed(2)}× off)`;
}

/** A Markdown table of the rows. */
export function markdown(rows: Row[]): string {
  const head = ["figure", "claude-sessions", "tmux", "floor", "ratio", "target"];
  const esc = (s: string) => s.replaceAll("|", "\\|");
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) =>
      `| ${[r.figure, r.ours, r.tmux, r.floor, r.ratio, r.target].map(esc).join(" | ")} |`
    ),
  ];
  return lines.join("\n");
}

/** The rows as plain text for a terminal: one block per figure. */
export function plain(rows: Row[]): string {
  return rows.map((r) =>
    [
      r.figure,
      `  claude-sessions  ${r.ours}`,
      `  tmux             ${r.tmux}`,
      `  floor            ${r.floor}`,
      `  ratio            ${r.ratio}`,
      `  target           ${r.target}`,
    ].join("\n")
  ).join("\n");
}
