import assert from "node:assert/strict";
import type { SessionRecord } from "../protocol.ts";
import { testRecord } from "../_test_record.ts";
import {
  type ColumnKey,
  detailOf,
  drawWatch,
  fitColumns,
  listed,
  matchesFilter,
  watchOrder,
  type WatchState,
} from "./watch_view.ts";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

function rec(id: string, status: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return testRecord({
    id: id.padEnd(26, "0"),
    cwd: "/home/me/src/proj",
    status: status as SessionRecord["status"],
    statusSince: ago(60),
    created: ago(600),
    runs: [],
    ...extra,
  });
}

function state(records: SessionRecord[], extra: Partial<WatchState> = {}): WatchState {
  return {
    records,
    shortLength: 8,
    now: NOW,
    home: "/home/me",
    color: false,
    showExited: false,
    filter: "",
    selected: null,
    top: 0,
    preview: null,
    conn: { up: true },
    message: null,
    prompt: null,
    help: false,
    ...extra,
  };
}

const text = (f: ReturnType<typeof drawWatch>) => f.canvas.chars.map((r) => r.join("").trimEnd());

const ids = (rs: SessionRecord[]) => rs.map((r) => r.id.slice(0, 2));

Deno.test("order: a permission before input, the longest waiting first; working; others; exited latest first", () => {
  const rs = [
    rec("A1", "running"),
    rec("B1", "waiting_input", { statusSince: ago(30) }),
    rec("C1", "exited", { statusSince: ago(500) }),
    rec("D1", "waiting_permission", { statusSince: ago(5) }),
    rec("E1", "hibernated"),
    rec("F1", "waiting_input", { statusSince: ago(300) }),
    rec("G1", "waiting_permission", { statusSince: ago(50) }),
    rec("H1", "exited", { statusSince: ago(10) }),
    rec("I1", "starting"),
    rec("J1", "queued"),
  ];
  assert.deepEqual(ids(watchOrder(rs)), [
    "G1",
    "D1",
    "F1",
    "B1",
    "A1",
    "I1",
    "E1",
    "J1",
    "H1",
    "C1",
  ]);
  // Exited ones are listed only when shown.
  assert.deepEqual(ids(listed(state(rs))).includes("H1"), false);
  assert.deepEqual(ids(listed(state(rs, { showExited: true }))).slice(-2), ["H1", "C1"]);
});

Deno.test("filter: every word must match the name, id, a tag, the status or the directory", () => {
  const r = rec("01ABC", "waiting_input", { name: "api", tags: ["backend", "urgent"] });
  for (
    const f of ["api", "API", "01ab", "backend", "urg", "wait", "input", "~/src", "/home/me", ""]
  ) {
    assert.ok(matchesFilter(r, f, "/home/me"), f);
  }
  assert.ok(matchesFilter(r, "api backend", "/home/me"));
  assert.ok(!matchesFilter(r, "api frontend", "/home/me"));
  assert.ok(!matchesFilter(r, "running", "/home/me"));
});

Deno.test("detail: the tool and command awaiting approval; Claude's first line; how it ended", () => {
  assert.equal(
    detailOf(rec("A", "waiting_permission", {
      waitingFor: { kind: "permission", tool: "Bash", input: "touch x" },
    })),
    "Bash: touch x",
  );
  assert.equal(
    detailOf(rec("A", "waiting_permission", {
      waitingFor: { kind: "question", message: "Which one?" },
    })),
    "an answer: Which one?",
  );
  assert.equal(
    detailOf(rec("A", "waiting_permission", { waitingFor: { kind: "folder_trust" } })),
    "the folder-trust question",
  );
  assert.equal(detailOf(rec("A", "waiting_permission")), "permission");
  assert.equal(
    detailOf(rec("A", "waiting_input", { lastMessage: "\n  All done.\nSecond line" })),
    "All done.",
  );
  assert.equal(
    detailOf(rec("A", "waiting_input", { lastMessage: "x", lastError: "overloaded\nmore" })),
    "turn failed: overloaded",
  );
  assert.equal(
    detailOf(rec("A", "exited", { exitReason: "killed", signal: "SIGHUP" })),
    "killed (SIGHUP)",
  );
  assert.equal(detailOf(rec("A", "running", { backgroundTasks: 2 })), "2 background agents");
  assert.equal(detailOf(rec("A", "running")), "");
  // Control characters from a session are shown, not acted on.
  assert.equal(
    detailOf(rec("A", "waiting_input", { lastMessage: "evil\x1b[2Jtext" })),
    "evil\\e[2Jtext",
  );
});

Deno.test("columns: all when they fit; narrower, DIR then TAGS then FOR then NAME go", () => {
  const cells: Record<ColumnKey, string>[] = [{
    id: "01ABCDEF",
    name: "api-server",
    status: "waiting_permission",
    for: "12s",
    dir: "~/src/some/long/project/dir",
    tags: "backend,urgent",
    detail: "Bash: npm test -- --watch=false",
  }];
  const keys = (cols: number) => fitColumns(cells, cols).map((c) => c.key);
  assert.deepEqual(keys(160), ["id", "name", "status", "for", "dir", "tags", "detail"]);
  const wide = fitColumns(cells, 160);
  assert.equal(wide.find((c) => c.key === "dir")!.width, 27);
  // Narrower: DIR is shrunk before anything is dropped.
  const mid = fitColumns(cells, 100);
  assert.deepEqual(mid.map((c) => c.key), ["id", "name", "status", "for", "dir", "tags", "detail"]);
  assert.ok(mid.find((c) => c.key === "dir")!.width < 27);
  assert.deepEqual(keys(90), ["id", "name", "status", "for", "tags", "detail"]);
  assert.equal(fitColumns(cells, 80).find((c) => c.key === "tags")!.width, 6);
  assert.deepEqual(keys(70), ["id", "name", "status", "for", "detail"]);
  assert.deepEqual(keys(60), ["id", "name", "status", "detail"]);
  assert.deepEqual(keys(40), ["id", "status", "detail"]);
  assert.equal(fitColumns(cells, 40).find((c) => c.key === "status")!.width, 10);
  // Every width fits the terminal.
  for (const cols of [20, 40, 60, 80, 100, 120, 200]) {
    const cs = fitColumns(cells, cols);
    const used = 2 + cs.reduce((s, c) => s + c.width, 0) + 2 * (cs.length - 1);
    assert.ok(used <= cols || cs.at(-1)!.width === 0, `${cols}: ${used}`);
  }
});

Deno.test("frame: header counts per status (unknown ones too), rows in order, the selection marked", () => {
  const rs = [
    rec("01RUN", "running", { name: "web" }),
    rec("01PERM", "waiting_permission", {
      name: "api",
      statusSince: ago(12),
      waitingFor: { kind: "permission", tool: "Bash", input: "touch x" },
      tags: ["backend"],
    }),
    rec("01QUE", "queued"),
    rec("01EXIT", "exited", { exitReason: "exited", exitCode: 0 }),
  ];
  const f = drawWatch(state(rs, { selected: rs[1]!.id }), 120, 12);
  const lines = text(f);
  assert.equal(
    lines[0],
    "claude-sessions watch  4 sessions · 1 waiting_permission · 1 running · 1 queued · 1 exited (hidden)",
  );
  assert.match(
    lines[1]!,
    /^ {2}ID {8}NAME {2}STATUS {14}FOR {2}DIR {9}TAGS {5}WAITING FOR \/ LAST MESSAGE$/,
  );
  assert.match(
    lines[2]!,
    /^> 01PERM00 +api +waiting_permission +12s +~\/src\/proj +backend +Bash: touch x$/,
  );
  assert.match(lines[3]!, /^ {2}01RUN000 +web +running +1m/);
  assert.match(lines[4]!, /^ {2}01QUE000 +- +queued +1m/);
  assert.equal(lines[5], "");
  assert.match(lines[11]!, /^⏎ attach .* \? help {2}q quit$/);
  // No colour: no styles at all.
  assert.ok(f.canvas.styles.every((r) => r.every((s) => s === "")));
  assert.equal(f.cursor, null);
});

Deno.test("frame: colours by status, the selected row in reverse video, exited dimmed", () => {
  const rs = [
    rec("01PERM", "waiting_permission"),
    rec("01RUN", "running"),
    rec("01NEW", "dreaming" as SessionRecord["status"]),
    rec("01EXIT", "exited"),
  ];
  const f = drawWatch(state(rs, { color: true, showExited: true, selected: rs[1]!.id }), 100, 10);
  const lines = text(f);
  const statusCol = lines[1]!.indexOf("STATUS");
  const styleAt = (row: number) => f.canvas.styles[row]![statusCol];
  assert.equal(styleAt(2), "1;31");
  assert.equal(styleAt(3), "7;32"); // selected: reverse video
  assert.equal(styleAt(4), ""); // a status without a colour of its own: plain
  assert.equal(styleAt(5), "2");
  assert.equal(f.canvas.styles[3]![0], "7");
});

Deno.test("frame: the selection is kept in sight; the page size is the table's height", () => {
  const rs = Array.from(
    { length: 30 },
    (_, i) => rec(`01R${String(i).padStart(2, "0")}`, "running"),
  );
  const f = drawWatch(state(rs, { selected: rs[25]!.id, top: 0 }), 80, 12);
  // 12 rows: header, titles, 8 table rows, message, keys.
  assert.equal(f.pageRows, 8);
  assert.equal(f.top, 18);
  assert.match(text(f)[9]!, /^> 01R25/);
  const g = drawWatch(state(rs, { selected: rs[3]!.id, top: 18 }), 80, 12);
  assert.equal(g.top, 3);
  assert.match(text(g)[2]!, /^> 01R03/);
});

Deno.test("frame: the preview pane shows the end of the selected session's screen", () => {
  const rs = [rec("01AAA", "running", { name: "api" })];
  const lines = Array.from({ length: 20 }, (_, i) => `screen line ${i}`);
  const f = drawWatch(
    state(rs, { selected: rs[0]!.id, preview: { lines } }),
    60,
    16,
  );
  const t = text(f);
  // 16 rows: header, titles, 12 body rows (6 table, 6 preview), message, keys.
  assert.match(t[8]!, /^── 01AAA000 \(api\) · running ─+$/);
  assert.deepEqual(t.slice(9, 14), [15, 16, 17, 18, 19].map((i) => `screen line ${i}`));
  const loading = text(
    drawWatch(state(rs, { selected: rs[0]!.id, preview: { lines: null } }), 60, 16),
  );
  assert.equal(loading[9], "…");
  const failed = text(
    drawWatch(
      state(rs, { selected: rs[0]!.id, preview: { lines: null, note: "no screen" } }),
      60,
      16,
    ),
  );
  assert.equal(failed[9], "no screen");
});

Deno.test("frame: a prompt puts the cursor after the text; a long text shows its end", () => {
  const rs = [rec("01AAA", "running")];
  const f = drawWatch(state(rs, { prompt: { label: "send to x: ", text: "hello" } }), 40, 10);
  assert.equal(text(f)[8], "send to x: hello");
  assert.deepEqual(f.cursor, { row: 8, col: 16 });
  const long = drawWatch(
    state(rs, { prompt: { label: "send: ", text: "a".repeat(50) + "END" } }),
    40,
    10,
  );
  assert.match(text(long)[8]!, /^send: a+END$/);
  assert.equal(long.cursor!.col, 39);
});

Deno.test("frame: empty states, the daemon down, a message, help; tiny terminals draw what fits", () => {
  assert.equal(text(drawWatch(state([]), 60, 10))[2], "  no sessions — N starts one");
  const exitedOnly = [rec("01EX", "exited")];
  assert.equal(
    text(drawWatch(state(exitedOnly), 60, 10))[2],
    "  no live sessions (e shows 1 exited)",
  );
  assert.equal(
    text(drawWatch(state([rec("01A", "running")], { filter: "zzz" }), 60, 10))[2],
    '  no session matches "zzz"',
  );
  const down = drawWatch(
    state([rec("01A", "running")], {
      conn: { up: false, reason: "no socket", retryInMs: 500, since: NOW },
      message: { text: "boom", error: true },
    }),
    100,
    10,
  );
  assert.match(text(down)[0]!, /daemon unreachable, reconnecting: no socket/);
  assert.equal(text(down)[8], "boom");
  const help = text(drawWatch(state([rec("01A", "running")], { help: true }), 90, 30));
  assert.ok(help.some((l) => /^ {2}y {2}n +allow \/ deny/.test(l)));
  for (const [c, r] of [[1, 1], [10, 3], [20, 5], [5, 40]]) {
    const f = drawWatch(state([rec("01A", "waiting_input", { lastMessage: "hi" })]), c!, r!);
    assert.equal(f.canvas.cols, c);
    assert.equal(f.canvas.rows, r);
  }
});
