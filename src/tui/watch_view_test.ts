import assert from "node:assert/strict";
import type { SessionRecord } from "../protocol.ts";
import { testRecord } from "../_test_record.ts";
import {
  type ColumnKey,
  columnsOf,
  detailOf,
  drawWatch,
  fitColumns,
  type HostView,
  listed,
  matchesFilter,
  rowKey,
  rowsOf,
  watchOrder,
  type WatchRow,
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

/** A host's view: up, no usage measured, this machine's home. */
function host(name: string, records: SessionRecord[], extra: Partial<HostView> = {}): HostView {
  return {
    name,
    records,
    shortLength: 8,
    conn: { up: true },
    connecting: false,
    usage: null,
    home: "/home/me",
    ...extra,
  };
}

/** A state of one host (`local`) holding `records`, or of `extra.hosts`. */
function state(
  records: SessionRecord[],
  extra: Partial<WatchState> & { host?: Partial<HostView> } = {},
): WatchState {
  const { host: h, ...rest } = extra;
  return {
    hosts: [host("local", records, h)],
    now: NOW,
    color: false,
    showExited: false,
    filter: "",
    selected: null,
    top: 0,
    preview: null,
    message: null,
    prompt: null,
    help: false,
    ...rest,
  };
}

/** The key of a session of `local`. */
const key = (r: SessionRecord) => rowKey("local", r.id);

const text = (f: ReturnType<typeof drawWatch>) => f.canvas.chars.map((r) => r.join("").trimEnd());

const ids = (rs: WatchRow[]) => rs.map((r) => r.rec.id.slice(0, 2));

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
  assert.deepEqual(ids(watchOrder(rowsOf([host("local", rs)]))), [
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
  const cells: Partial<Record<ColumnKey, string>>[] = [{
    id: "01ABCDEF",
    name: "api-server",
    status: "waiting_permission",
    for: "12s",
    dir: "~/src/some/long/project/dir",
    tags: "backend,urgent",
    detail: "Bash: npm test -- --watch=false",
  }];
  const all: ColumnKey[] = ["id", "name", "status", "for", "dir", "tags", "detail"];
  const keys = (cols: number) => fitColumns(cells, cols, all).map((c) => c.key);
  assert.deepEqual(keys(160), ["id", "name", "status", "for", "dir", "tags", "detail"]);
  const wide = fitColumns(cells, 160, all);
  assert.equal(wide.find((c) => c.key === "dir")!.width, 27);
  // Narrower: DIR is shrunk before anything is dropped.
  const mid = fitColumns(cells, 100, all);
  assert.deepEqual(mid.map((c) => c.key), ["id", "name", "status", "for", "dir", "tags", "detail"]);
  assert.ok(mid.find((c) => c.key === "dir")!.width < 27);
  assert.deepEqual(keys(90), ["id", "name", "status", "for", "tags", "detail"]);
  assert.equal(fitColumns(cells, 80, all).find((c) => c.key === "tags")!.width, 6);
  assert.deepEqual(keys(70), ["id", "name", "status", "for", "detail"]);
  assert.deepEqual(keys(60), ["id", "name", "status", "detail"]);
  assert.deepEqual(keys(40), ["id", "status", "detail"]);
  assert.equal(fitColumns(cells, 40, all).find((c) => c.key === "status")!.width, 10);
  // Every width fits the terminal.
  for (const cols of [20, 40, 60, 80, 100, 120, 200]) {
    const cs = fitColumns(cells, cols, all);
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
  const f = drawWatch(state(rs, { selected: key(rs[1]!) }), 120, 12);
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
  const f = drawWatch(state(rs, { color: true, showExited: true, selected: key(rs[1]!) }), 100, 10);
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
  const f = drawWatch(state(rs, { selected: key(rs[25]!), top: 0 }), 80, 12);
  // 12 rows: header, titles, 8 table rows, message, keys.
  assert.equal(f.pageRows, 8);
  assert.equal(f.top, 18);
  assert.match(text(f)[9]!, /^> 01R25/);
  const g = drawWatch(state(rs, { selected: key(rs[3]!), top: 18 }), 80, 12);
  assert.equal(g.top, 3);
  assert.match(text(g)[2]!, /^> 01R03/);
});

Deno.test("frame: the preview pane shows the end of the selected session's screen", () => {
  const rs = [rec("01AAA", "running", { name: "api" })];
  const lines = Array.from({ length: 20 }, (_, i) => `screen line ${i}`);
  const f = drawWatch(
    state(rs, { selected: key(rs[0]!), preview: { lines } }),
    60,
    16,
  );
  const t = text(f);
  // 16 rows: header, titles, 12 body rows (6 table, 6 preview), message, keys.
  assert.match(t[8]!, /^── 01AAA000 \(api\) · running ─+$/);
  assert.deepEqual(t.slice(9, 14), [15, 16, 17, 18, 19].map((i) => `screen line ${i}`));
  const loading = text(
    drawWatch(state(rs, { selected: key(rs[0]!), preview: { lines: null } }), 60, 16),
  );
  assert.equal(loading[9], "…");
  const failed = text(
    drawWatch(
      state(rs, { selected: key(rs[0]!), preview: { lines: null, note: "no screen" } }),
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
      host: { conn: { up: false, reason: "no socket", retryInMs: 500, since: NOW } },
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

Deno.test("columns: MEM and CPU when a daemon measures them, dropped first; HOST with several hosts", () => {
  const one = [host("local", [])];
  assert.deepEqual(columnsOf(one), ["id", "name", "status", "for", "dir", "tags", "detail"]);
  const measured = [host("local", [], { usage: new Map() })];
  assert.deepEqual(columnsOf(measured), [
    "id",
    "name",
    "status",
    "for",
    "mem",
    "cpu",
    "dir",
    "tags",
    "detail",
  ]);
  const two = [host("local", []), host("box", [], { usage: new Map() })];
  assert.deepEqual(columnsOf(two).slice(0, 2), ["host", "id"]);
  assert.ok(columnsOf(two).includes("mem"), "one host measuring is enough");

  const cells: Partial<Record<ColumnKey, string>>[] = [{
    host: "box",
    id: "01ABCDEF",
    name: "api-server",
    status: "waiting_permission",
    for: "12s",
    mem: "312M",
    cpu: "45%",
    dir: "~/src/some/long/project/dir",
    tags: "backend,urgent",
    detail: "Bash: npm test -- --watch=false",
  }];
  const keys = (cols: number) => fitColumns(cells, cols, columnsOf(two)).map((c) => c.key);
  assert.deepEqual(keys(180), columnsOf(two));
  // Narrower: CPU goes first, then MEM, before DIR is even shrunk.
  assert.deepEqual(keys(124), [
    "host",
    "id",
    "name",
    "status",
    "for",
    "mem",
    "dir",
    "tags",
    "detail",
  ]);
  const noMem = fitColumns(cells, 120, columnsOf(two));
  assert.deepEqual(noMem.map((c) => c.key), [
    "host",
    "id",
    "name",
    "status",
    "for",
    "dir",
    "tags",
    "detail",
  ]);
  assert.equal(noMem.find((c) => c.key === "dir")!.width, 27);
  // The host stays to the end (every action goes to it).
  assert.deepEqual(keys(40), ["host", "id", "status", "detail"]);
});

Deno.test("frame: MEM and CPU of live sessions, as last pushed; - without a measurement or a process", () => {
  const rs = [
    rec("01RUN", "running", { name: "web" }),
    rec("01NEW", "running", { name: "fresh" }),
    rec("01EXIT", "exited", { name: "gone", statusSince: ago(5) }),
  ];
  const usage = new Map([
    [rs[0]!.id, { rss: 312 * 1024 * 1024, cpu: 45.4, processes: 3, at: "" }],
    [rs[2]!.id, { rss: 1024, cpu: null, processes: 1, at: "" }],
  ]);
  const lines = text(drawWatch(state(rs, { showExited: true, host: { usage } }), 120, 10));
  assert.match(lines[1]!, /^ {2}ID +NAME +STATUS +FOR +MEM +CPU +DIR +TAGS +WAITING FOR/);
  assert.match(lines.find((l) => / web /.test(l))!, /running +1m +312M +45% +~\/src\/proj/);
  // Not measured yet: "-"; exited (a stale entry): "-".
  assert.match(lines.find((l) => / fresh /.test(l))!, /running +1m +- +- +~\/src\/proj/);
  assert.match(lines.find((l) => / gone /.test(l))!, /exited +5s +- +- +~\/src\/proj/);
  // A daemon that does not measure: no such columns.
  assert.doesNotMatch(text(drawWatch(state(rs), 120, 10))[1]!, /MEM|CPU/);
});

Deno.test("frame: several hosts in one table, by the same order, a HOST column; an unreachable one marked", () => {
  // The same id on two hosts: two rows.
  const here = [
    rec("01SAME", "running", { name: "here" }),
    rec("01WAIT", "waiting_input", { name: "idle", statusSince: ago(30) }),
  ];
  const there = [
    rec("01SAME", "waiting_permission", { name: "there", statusSince: ago(10) }),
    rec("01OLD", "waiting_input", { name: "older", statusSince: ago(300) }),
  ];
  const far = [rec("01FAR", "running", { name: "far" })];
  const s = state([], {
    hosts: [
      host("local", here),
      host("box", there, { home: undefined }),
      host("gpu", far, {
        home: undefined,
        conn: {
          up: false,
          reason:
            "no daemon is answering on gpu (ssh://me@gpu:22) (ssh: connect to host gpu port 22: Connection refused)",
          retryInMs: 5000,
          since: NOW,
        },
      }),
    ],
    selected: rowKey("box", there[0]!.id),
  });
  const lines = text(drawWatch(s, 140, 14));
  // The header counts every host's sessions; under it, a line per host that is down, and why
  // (the host named once, not again with its address).
  assert.equal(
    lines[0],
    "claude-sessions watch  5 sessions · 1 waiting_permission · 2 waiting_input · 2 running",
  );
  assert.equal(
    lines[1],
    "  gpu unreachable, reconnecting: no daemon is answering on gpu (ssh: connect to host gpu port 22: Connection refused)",
  );
  assert.match(lines[2]!, /^ {2}HOST +ID +NAME +STATUS +FOR +DIR/);
  assert.match(lines[3]!, /^> box +01SAME00 +there +waiting_permission/);
  assert.match(lines[4]!, /^ {2}box +01OLD000 +older +waiting_input/);
  assert.match(lines[5]!, /^ {2}local +01WAIT00 +idle +waiting_input/);
  // Same rank and id: by host. The unreachable host's rows as last seen, said so.
  assert.match(lines[6]!, /^ {2}gpu +01FAR000 +far +running .*unreachable$/);
  assert.match(lines[7]!, /^ {2}local +01SAME00 +here +running/);

  // The filter matches the host too.
  assert.deepEqual(listed({ ...s, filter: "box" }).map((r) => r.rec.name), ["there", "older"]);
  // The preview says which host.
  const p = text(drawWatch({ ...s, preview: { lines: ["x"] } }, 140, 16));
  assert.ok(p.some((l) => /^── box · 01SAME00 \(there\) · waiting_permission ─+$/.test(l)));

  // Colours: the unreachable host's row is dimmed throughout.
  const f = drawWatch({ ...s, color: true }, 140, 14);
  const statusCol = lines[2]!.indexOf("STATUS");
  assert.equal(f.canvas.styles[1]![2], "1;31");
  assert.equal(f.canvas.styles[6]![statusCol], "2");
  assert.equal(f.canvas.styles[7]![statusCol], "32");

  // A host not reached yet, and one given up on.
  const waiting = text(drawWatch(
    state([], {
      hosts: [
        host("local", []),
        host("box", [], { connecting: true }),
        host("old", [], {
          conn: {
            up: false,
            reason: "needs events.snapshot",
            retryInMs: 0,
            since: NOW,
            gaveUp: true,
          },
        }),
      ],
    }),
    140,
    10,
  ));
  assert.equal(waiting[0], "claude-sessions watch  box connecting…  0 sessions");
  assert.equal(waiting[1], "  old: needs events.snapshot");
  assert.match(waiting[2]!, /^ {2}HOST +ID/);
  assert.equal(waiting[3], "  no sessions — N starts one");

  // Many hosts down: three lines at most; fewer on a short terminal.
  const down = (name: string) =>
    host(name, [], { conn: { up: false, reason: "gone", retryInMs: 500, since: NOW } });
  const many = state([], {
    hosts: [host("local", [rec("01A", "running")]), ...["a", "b", "c", "d"].map(down)],
  });
  const tall = text(drawWatch(many, 80, 20));
  assert.deepEqual(tall.slice(1, 4), [
    "  a unreachable, reconnecting: gone",
    "  b unreachable, reconnecting: gone",
    "  2 more down: c, d",
  ]);
  assert.match(tall[4]!, /^ {2}HOST/);
  assert.equal(text(drawWatch(many, 80, 9))[1], "  4 hosts down: a, b, c, d");
  assert.match(text(drawWatch(many, 80, 8))[1]!, /^ {2}HOST/);
});
