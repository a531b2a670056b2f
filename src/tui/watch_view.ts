/**
 * What `watch` shows, as a pure function of its state: the order and filter
 * of the sessions, the columns that fit the terminal's width, and the whole
 * frame (header with counts per status, the table, the preview pane, the
 * message or prompt line, the keys). No I/O: `watch.ts` feeds it and writes
 * the frame.
 *
 * Statuses are data: a status this version does not know is counted, shown
 * plain and listed among the live sessions.
 *
 * Several hosts are one table: a row is a session of a host (a session id is
 * unique on its host only, so rows are told apart by host and id), with a
 * HOST column when there is more than one host; a host that cannot be
 * reached keeps its rows as last seen, marked so.
 *
 * @module
 */

import { LIVE_STATUSES, type SessionRecord, type SessionUsage } from "../protocol.ts";
import { statusSgr } from "../cli/_format.ts";
import {
  attentionOf,
  describeWait,
  exitSummary,
  formatDuration,
  oneLine,
  viewSession,
} from "../session_view.ts";
import { printable } from "../printable.ts";
import { shortBytes } from "../bytes.ts";
import { Canvas, type CursorSpot } from "./canvas.ts";
import { textWidth } from "./_width.ts";

/** A line being typed at the bottom (send, new, filter, a confirmation). */
export interface Prompt {
  /** What is asked, e.g. `send to 01M7ZA1Q (api): `. */
  label: string;
  text: string;
}

/** The connection to a host's daemon; `gaveUp`: retrying cannot help (the reason says why). */
export type ConnState =
  | { up: true }
  | { up: false; reason: string; retryInMs: number; since: number; gaveUp?: boolean };

/** One host's daemon, as followed. */
export interface HostView {
  /** `local` (this machine), or the host's name as given (`box`, `ssh://…`). */
  name: string;
  records: readonly SessionRecord[];
  /** Id prefix length that tells its sessions apart. */
  shortLength: number;
  conn: ConnState;
  /** Before its first snapshot. */
  connecting: boolean;
  /** Live sessions' usage by id; null when this daemon does not measure it. */
  usage: ReadonlyMap<string, SessionUsage> | null;
  /** Its home directory, shown as `~` (this machine's only). */
  home?: string;
}

/** A session of a host: one row. */
export interface WatchRow {
  /** Tells rows apart (see {@linkcode rowKey}). */
  key: string;
  host: HostView;
  rec: SessionRecord;
}

/** The key of a host's session (ids are unique on one host only; they never hold a newline). */
export function rowKey(host: string, id: string): string {
  return `${host}\n${id}`;
}

/** Everything a frame is drawn from. */
export interface WatchState {
  /** The hosts followed, in the order given (one: no HOST column). */
  hosts: readonly HostView[];
  /** The time durations are measured to (ms). */
  now: number;
  color: boolean;
  showExited: boolean;
  /** Words every listed session matches (name, id, tag, status, directory, host). */
  filter: string;
  /** The selected row's key. */
  selected: string | null;
  /** First listed session shown (the view keeps the selection in sight). */
  top: number;
  /** The preview pane: null when off; `lines` null until the screen came. */
  preview: { lines: string[] | null; note?: string } | null;
  /** The last outcome to tell (until the next key). */
  message: { text: string; error: boolean } | null;
  prompt: Prompt | null;
  help: boolean;
}

/** Known statuses in the order the header counts them; others follow, then `exited`. */
const COUNT_ORDER = ["waiting_permission", "waiting_input", "running", "starting"];

/** Statuses of a session working on its own (listed after those waiting for the user). */
const WORKING = new Set(["running", "starting"]);

/** Whether a session is listed only when exited sessions are shown. */
export function isExited(rec: SessionRecord): boolean {
  return rec.status === "exited";
}

/**
 * Sessions in the order `watch` lists them: waiting for the user first (a
 * permission before input, the longest waiting first), then working
 * (`running`, `starting`), then other statuses, oldest first; then exited
 * ones (the latest to end first). Hosts mixed, by the same rules.
 */
export function watchOrder(rows: readonly WatchRow[]): WatchRow[] {
  const rank = (r: SessionRecord) => {
    const a = attentionOf(r);
    if (a === "permission") return 0;
    if (a === "input") return 1;
    if (WORKING.has(r.status)) return 2;
    if (isExited(r)) return 4;
    return 3;
  };
  const since = (r: SessionRecord) => Date.parse(r.statusSince) || 0;
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return [...rows].sort(({ rec: a, host: ha }, { rec: b, host: hb }) => {
    const d = rank(a) - rank(b);
    if (d !== 0) return d;
    const ra = rank(a);
    if (ra <= 1) {
      const t = since(a) - since(b);
      if (t !== 0) return t;
    } else if (ra === 4) {
      const t = since(b) - since(a);
      if (t !== 0) return t;
    }
    return cmp(a.id, b.id) || cmp(ha.name, hb.name);
  });
}

/**
 * Whether `rec` matches every word of `filter` (case-insensitive, anywhere
 * in a field: id, name, status, directory, a tag, and `host` when given).
 */
export function matchesFilter(
  rec: SessionRecord,
  filter: string,
  home?: string,
  host?: string,
): boolean {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const fields = [rec.id, rec.name ?? "", rec.status, rec.cwd, ...(rec.tags ?? [])];
  if (home && rec.cwd.startsWith(home)) fields.push("~" + rec.cwd.slice(home.length));
  if (host !== undefined) fields.push(host);
  const lower = fields.map((f) => f.toLowerCase());
  return words.every((w) => lower.some((f) => f.includes(w)));
}

/** Every host's sessions, as rows. */
export function rowsOf(hosts: readonly HostView[]): WatchRow[] {
  return hosts.flatMap((host) =>
    host.records.map((rec) => ({ key: rowKey(host.name, rec.id), host, rec }))
  );
}

/** The sessions listed, in order. */
export function listed(state: Pick<WatchState, "hosts" | "showExited" | "filter">): WatchRow[] {
  const multi = state.hosts.length > 1;
  return watchOrder(rowsOf(state.hosts)).filter(({ rec, host }) =>
    (state.showExited || !isExited(rec)) &&
    matchesFilter(rec, state.filter, host.home, multi ? host.name : undefined)
  );
}

/** A session's first line of `text` that says something, on one line. */
function firstLine(text: string | null | undefined): string {
  const line = (text ?? "").split("\n").find((l) => l.trim() !== "") ?? "";
  return oneLine(line);
}

/**
 * What a session's row says in its last column: what it waits for (the
 * tool and what it would do), Claude's last message (its first line) when
 * it waits for input, how it ended when it exited.
 */
export function detailOf(rec: SessionRecord): string {
  const attention = attentionOf(rec);
  if (attention === "permission") {
    const w = rec.waitingFor;
    if (!w) return "permission";
    if (w.kind === "permission" && w.tool) {
      return oneLine(w.input ? `${w.tool}: ${w.input}` : w.tool);
    }
    return oneLine(describeWait(w));
  }
  if (attention === "input") {
    if (rec.lastError) return `turn failed: ${firstLine(rec.lastError)}`;
    return firstLine(rec.lastMessage);
  }
  if (isExited(rec)) return printable(exitSummary(rec));
  const bg = rec.backgroundTasks ?? 0;
  if (bg > 0) return `${bg} background agent${bg === 1 ? "" : "s"}`;
  return "";
}

/** The table's columns, in order; the last takes what is left. */
export type ColumnKey =
  | "host"
  | "id"
  | "name"
  | "status"
  | "for"
  | "mem"
  | "cpu"
  | "dir"
  | "tags"
  | "detail";

/** Every column, in order. */
export const COLUMNS: readonly ColumnKey[] = [
  "host",
  "id",
  "name",
  "status",
  "for",
  "mem",
  "cpu",
  "dir",
  "tags",
  "detail",
];

const TITLES: Record<ColumnKey, string> = {
  host: "HOST",
  id: "ID",
  name: "NAME",
  status: "STATUS",
  for: "FOR",
  mem: "MEM",
  cpu: "CPU",
  dir: "DIR",
  tags: "TAGS",
  detail: "WAITING FOR / LAST MESSAGE",
};

/** Widest each column grows (the rest is cut with "…"), and narrowest it is shrunk to. */
const MAX: Partial<Record<ColumnKey, number>> = { host: 16, name: 20, dir: 32, tags: 24 };
const MIN: Partial<Record<ColumnKey, number>> = {
  host: 5,
  name: 6,
  dir: 10,
  tags: 6,
  status: 10,
};
/** The detail column wants at least this much before others give way. */
const DETAIL_MIN = 16;
/** How columns give way, in order, when the terminal is too narrow. */
const GIVE_WAY: ["shrink" | "drop", ColumnKey][] = [
  ["drop", "cpu"],
  ["drop", "mem"],
  ["shrink", "dir"],
  ["drop", "dir"],
  ["shrink", "tags"],
  ["drop", "tags"],
  ["drop", "for"],
  ["shrink", "name"],
  ["shrink", "host"],
  ["shrink", "status"],
  ["drop", "name"],
];
/** Space between columns. */
const GAP = 2;
/** The selection mark before each row. */
const MARK = 2;

/** Of the columns `keys` (in the order of {@linkcode COLUMNS}), those that fit in `cols`, with their widths. */
export function fitColumns(
  cells: Partial<Record<ColumnKey, string>>[],
  cols: number,
  keys: readonly ColumnKey[],
): { key: ColumnKey; width: number }[] {
  const want = new Map<ColumnKey, number>();
  for (const k of keys) {
    let w = textWidth(TITLES[k]);
    for (const c of cells) w = Math.max(w, textWidth(c[k] ?? ""));
    want.set(k, Math.min(w, MAX[k] ?? Infinity));
  }
  const shown = new Set(keys);
  const avail = cols - MARK;
  const fixed = () => {
    let sum = 0;
    for (const k of shown) if (k !== "detail") sum += want.get(k)! + GAP;
    return sum;
  };
  for (const [how, k] of GIVE_WAY) {
    if (fixed() + DETAIL_MIN <= avail) break;
    if (!shown.has(k)) continue;
    if (how === "drop") shown.delete(k);
    else want.set(k, Math.min(want.get(k)!, MIN[k]!));
  }
  const out: { key: ColumnKey; width: number }[] = [];
  for (const k of keys) {
    if (!shown.has(k)) continue;
    out.push({ key: k, width: k === "detail" ? Math.max(0, avail - fixed()) : want.get(k)! });
  }
  return out;
}

/** The keys the bottom line offers, most useful first (those that do not fit are left out). */
const HINTS: [string, string][] = [
  ["⏎", "attach"],
  ["y/n", "allow/deny"],
  ["s", "send"],
  ["p", "preview"],
  ["k", "kill"],
  ["N", "new"],
  ["r", "resume"],
  ["/", "filter"],
  ["e", "exited"],
];
const HINTS_END: [string, string][] = [["?", "help"], ["q", "quit"]];

/** The help screen's lines. */
export const HELP_LINES: readonly string[] = [
  "Keys",
  "",
  "  ↑ ↓  Ctrl-P Ctrl-N  j   move (PgUp PgDn Home End too)",
  "  Enter  a            attach to the session (Ctrl-B d comes back here)",
  "  p                   preview: the session's screen below the table",
  "  s                   send a line of text to the session (Enter submits)",
  "  y  n                allow / deny the permission it waits for, without attaching",
  "  k                   kill the session (asks y/N)",
  "  N                   new session (asks the directory)",
  "  r                   resume an exited session",
  "  /                   filter by name, tag, status, directory, id or host (Esc clears)",
  "  e                   show or hide exited sessions",
  "  q  Ctrl-C           quit",
  "",
  "Sessions waiting for you come first: a permission before input, the",
  "longest waiting first; then those working; exited ones last (with e).",
  "With several hosts, each key acts on the selected row's host; N asks which.",
  "",
  "Any key closes this help.",
];

/** Styles (SGR parameters), or none without colour. */
function styler(color: boolean) {
  return (sgr: string) => (color ? sgr : "");
}

/** What a frame needs back: the canvas, where the cursor goes, and the top row kept in sight. */
export interface WatchFrame {
  canvas: Canvas;
  cursor: CursorSpot | null;
  top: number;
  /** How many listed sessions the table area shows at once. */
  pageRows: number;
}

/** Draws the whole `watch` screen for a terminal of `cols` × `rows`. */
export function drawWatch(state: WatchState, cols: number, rows: number): WatchFrame {
  const canvas = new Canvas(cols, rows);
  const st = styler(state.color);
  const list = listed(state);

  // Rows: header (and a line per host that is down, with several), titles, body (table,
  // and the preview pane), message, keys.
  const hints = rows >= 6;
  const footer = rows >= 4 ? 1 + (hints ? 1 : 0) : 0;
  const troubles = hostTroubles(state, Math.max(0, Math.min(MAX_TROUBLE_LINES, rows - 8)));
  const bodyTop = 2 + troubles.length;
  const bodyRows = Math.max(0, rows - bodyTop - footer);
  const previewRows = state.preview && !state.help ? Math.floor(bodyRows / 2) : 0;
  const tableRows = bodyRows - previewRows;

  drawHeader(canvas, state, st);
  troubles.forEach((t, i) => canvas.text(1 + i, 0, `  ${t}`, st("1;31")));

  let top = state.top;
  const selIndex = list.findIndex((r) => r.key === state.selected);
  if (state.help) {
    HELP_LINES.slice(0, Math.max(0, rows - bodyTop + 1)).forEach((line, i) =>
      canvas.text(bodyTop - 1 + i, 0, line, i === 0 ? st("1") : "")
    );
  } else {
    top = drawTable(canvas, state, list, selIndex, bodyTop, tableRows, st);
    if (previewRows > 0) {
      drawPreview(canvas, state, list[selIndex], bodyTop + tableRows, previewRows, st);
    }
  }

  let cursor: CursorSpot | null = null;
  if (footer > 0) {
    const row = rows - footer;
    if (state.prompt) {
      const { label, text } = state.prompt;
      const room = Math.max(1, cols - textWidth(label) - 1);
      let shown = text;
      while (textWidth(shown) > room) shown = shown.slice(1);
      const used = canvas.text(row, 0, label, st("1"));
      const more = canvas.text(row, used, shown);
      cursor = { row, col: Math.min(cols - 1, used + more) };
    } else if (state.message) {
      canvas.text(row, 0, state.message.text, state.message.error ? st("31") : "");
    }
    if (hints) drawHints(canvas, rows - 1, st);
  }
  return { canvas, cursor, top, pageRows: Math.max(1, tableRows) };
}

/** Most lines under the header saying which hosts are down (the last says how many more). */
const MAX_TROUBLE_LINES = 3;

/** Why a host is down (or not reached yet), as the header says it; null when it is up. */
function hostTrouble(h: HostView, multi: boolean): string | null {
  const who = h.name === "local" && !multi ? "daemon" : printable(h.name);
  if (h.conn.up) return h.connecting ? (multi ? `${who} connecting…` : "connecting…") : null;
  let why = printable(h.conn.reason);
  // The host is named already: not again with its address.
  if (multi) why = why.replace(/ \(ssh:\/\/[^)\s]*\)/g, "");
  return h.conn.gaveUp ? `${who}: ${why}` : `${who} unreachable, reconnecting: ${why}`;
}

/** With several hosts, a line for each that is down, at most `max` (the last says how many more). */
function hostTroubles(state: WatchState, max: number): string[] {
  if (state.hosts.length < 2) return [];
  const down = state.hosts.filter((h) => !h.conn.up).map((h) => hostTrouble(h, true)!);
  if (down.length <= max) return down;
  if (max === 0) return [];
  const rest = state.hosts.filter((h) => !h.conn.up).slice(max - 1).map((h) => h.name);
  const more = `${rest.length} ${max > 1 ? "more" : "hosts"} down: ${rest.join(", ")}`;
  return [...down.slice(0, max - 1), printable(more)];
}

function drawHeader(canvas: Canvas, state: WatchState, st: (s: string) => string): void {
  let x = canvas.text(0, 0, "claude-sessions watch", st("1"));
  const put = (text: string, style = "") => {
    x += canvas.text(0, x, text, style);
  };
  const multi = state.hosts.length > 1;
  // One daemon: whether it is there; several: those not reached yet (those down have a line).
  for (const h of state.hosts) {
    if (multi && !h.conn.up) continue;
    const t = hostTrouble(h, multi);
    if (t) put(`  ${t}`, h.conn.up ? "" : st("1;31"));
  }
  const counts = new Map<string, number>();
  let total = 0;
  for (const h of state.hosts) {
    for (const r of h.records) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    total += h.records.length;
  }
  const order = [
    ...COUNT_ORDER.filter((s) => counts.has(s)),
    ...[...counts.keys()].filter((s) => !COUNT_ORDER.includes(s) && s !== "exited").sort(),
    ...(counts.has("exited") ? ["exited"] : []),
  ];
  put(`  ${total} session${total === 1 ? "" : "s"}`);
  for (const s of order) {
    put(" · ");
    put(`${counts.get(s)} ${printable(s)}`, st(statusSgr(s)));
    if (s === "exited" && !state.showExited) put(" (hidden)");
  }
  if (state.filter) put(`  filter: ${printable(state.filter)}`, st("1"));
}

/** The usage a row shows: a live session's, as last measured. */
function usageOf(row: WatchRow): SessionUsage | undefined {
  if (!LIVE_STATUSES.includes(row.rec.status)) return undefined;
  return row.host.usage?.get(row.rec.id);
}

/** The columns a state has: HOST with several hosts, MEM and CPU when a daemon measures them. */
export function columnsOf(hosts: readonly HostView[]): ColumnKey[] {
  const measured = hosts.some((h) => h.usage !== null);
  return COLUMNS.filter((k) =>
    (k !== "host" || hosts.length > 1) && ((k !== "mem" && k !== "cpu") || measured)
  );
}

function drawTable(
  canvas: Canvas,
  state: WatchState,
  list: WatchRow[],
  selIndex: number,
  bodyTop: number,
  tableRows: number,
  st: (s: string) => string,
): number {
  const cells = list.map((row): Record<ColumnKey, string> => {
    const { rec, host } = row;
    const v = viewSession(rec, { now: state.now, shortLength: host.shortLength, home: host.home });
    const u = usageOf(row);
    const detail = detailOf(rec);
    return {
      host: printable(host.name),
      id: v.shortId,
      name: rec.name === null ? "-" : printable(rec.name),
      status: printable(rec.status),
      for: formatDuration(v.heldMs),
      mem: u ? shortBytes(u.rss) : "-",
      cpu: u?.cpu != null ? `${Math.round(u.cpu)}%` : "-",
      dir: v.dir,
      tags: printable(v.tags.join(",")) || "-",
      // A host that cannot be reached: its rows as last seen, said so.
      detail: host.conn.up ? detail : `unreachable${detail ? ` · ${detail}` : ""}`,
    };
  });
  const columns = fitColumns(cells, canvas.cols, columnsOf(state.hosts));
  let x = MARK;
  for (const c of columns) {
    canvas.text(bodyTop - 1, x, TITLES[c.key], st("1"), c.width);
    x += c.width + GAP;
  }
  // Keep the selection in sight.
  const n = list.length;
  let top = Math.min(state.top, Math.max(0, n - tableRows));
  if (selIndex >= 0) {
    if (selIndex < top) top = selIndex;
    if (selIndex >= top + tableRows) top = selIndex - tableRows + 1;
  }
  top = Math.max(0, top);
  if (n === 0 && tableRows > 0) {
    const all = state.hosts.flatMap((h) => h.records);
    const hidden = all.filter(isExited).length;
    const connecting = state.hosts.every((h) => h.connecting);
    let text: string;
    if (all.length === 0) text = connecting ? "" : "no sessions — N starts one";
    else if (state.filter) text = `no session matches "${printable(state.filter)}"`;
    else text = "no live sessions";
    if (text && hidden > 0 && !state.showExited) text += ` (e shows ${hidden} exited)`;
    canvas.text(bodyTop, MARK, text, st("2"));
  }
  for (let i = 0; i < tableRows && top + i < n; i++) {
    const k = top + i;
    const { rec, host } = list[k]!;
    const c = cells[k]!;
    const row = bodyTop + i;
    const selected = k === selIndex;
    const sel = (s: string) => (selected && state.color ? (s ? `7;${s}` : "7") : s);
    if (selected) {
      canvas.text(row, 0, ">", st("1"));
      canvas.paint(row, 0, canvas.cols, sel(""));
    }
    let cx = MARK;
    for (const col of columns) {
      let style = "";
      if (!host.conn.up) style = st("2");
      else if (col.key === "status") style = st(statusSgr(rec.status));
      else if (col.key === "detail" && !attentionOf(rec)) style = st("2");
      else if (col.key === "detail" && attentionOf(rec) === "permission") style = st("1");
      canvas.text(row, cx, c[col.key], sel(style), col.width);
      cx += col.width + GAP;
    }
  }
  return top;
}

function drawPreview(
  canvas: Canvas,
  state: WatchState,
  row: WatchRow | undefined,
  at: number,
  rows: number,
  st: (s: string) => string,
): void {
  const p = state.preview!;
  let title = "── preview ";
  if (row) {
    const v = viewSession(row.rec, { now: state.now, shortLength: row.host.shortLength });
    const where = state.hosts.length > 1 ? `${printable(row.host.name)} · ` : "";
    title = `── ${where}${v.label} · ${printable(row.rec.status)} `;
  }
  const used = canvas.text(at, 0, title, st("2"));
  canvas.text(at, used, "─".repeat(Math.max(0, canvas.cols - used)), st("2"));
  const room = rows - 1;
  if (!row) {
    canvas.text(at + 1, 0, "no session selected", st("2"));
    return;
  }
  if (p.note) {
    canvas.text(at + 1, 0, p.note, st("2"));
    return;
  }
  if (!p.lines) {
    canvas.text(at + 1, 0, "…", st("2"));
    return;
  }
  const lines = p.lines.slice(-room);
  lines.forEach((line, i) => canvas.ansi(at + 1 + i, 0, line, canvas.cols, state.color));
}

function drawHints(canvas: Canvas, row: number, st: (s: string) => string): void {
  const width = (items: [string, string][]) =>
    items.reduce((w, [k, a]) => w + textWidth(k) + 1 + textWidth(a) + 2, 0);
  const end = width(HINTS_END);
  const items: [string, string][] = [];
  for (const h of HINTS) {
    if (width([...items, h]) + end > canvas.cols) break;
    items.push(h);
  }
  let x = 0;
  for (const [k, a] of [...items, ...HINTS_END]) {
    x += canvas.text(row, x, k, st("1"));
    x += canvas.text(row, x, ` ${a}  `, st("2"));
  }
}
