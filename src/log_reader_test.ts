import assert from "node:assert/strict";
import { within } from "./async.ts";
import { defaultConfig, type LogConfig } from "./config.ts";
import { decodeData, isData, type LogLine, parseLogFileName } from "./log_format.ts";
import { LineSplitter, readLog } from "./log_reader.ts";
import { LogWriter } from "./daemon/log_writer.ts";
import { stopGzipWorker } from "./daemon/_gzip.ts";

const ID = "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R";

/** A log writer for session {@linkcode ID} in `dir`, with `log` settings over the defaults. */
function writerIn(dir: string, settings: Partial<LogConfig> = {}): LogWriter {
  const cfg = { ...defaultConfig().log, ...settings };
  return new LogWriter({ dir, id: ID, settings: () => cfg, hold: () => () => {}, log: () => {} });
}

Deno.test("log file names", () => {
  assert.deepEqual(parseLogFileName(`${ID}.jsonl`), {
    id: ID,
    name: `${ID}.jsonl`,
    n: 0,
    gz: false,
  });
  assert.deepEqual(parseLogFileName(`${ID}.12.jsonl.gz`), {
    id: ID,
    name: `${ID}.12.jsonl.gz`,
    n: 12,
    gz: true,
  });
  for (const bad of [`${ID}.jsonl.gz`, `${ID}.0.jsonl`, `${ID}.2.jsonl.gz.tmp`, "x.jsonl"]) {
    assert.equal(parseLogFileName(bad), null, bad);
  }
});

Deno.test("line splitter keeps lines whole across chunks", () => {
  const s = new LineSplitter();
  const enc = new TextEncoder();
  assert.deepEqual(s.push(enc.encode("a")), []);
  assert.deepEqual(s.push(enc.encode("b\nc\n\nd")), ["ab", "c", ""]);
  assert.equal(s.pending, 1);
  assert.equal(s.rest(), "d");
  assert.equal(s.rest(), null);
});

Deno.test("a follower sees every byte, in order, across many rotations", async () => {
  const dir = await Deno.makeTempDir();
  const w = writerIn(dir, { maxBytes: 8192, keep: 1000 });
  const stop = new AbortController();
  const got: number[] = [];
  let sawDone!: () => void;
  const done = new Promise<void>((r) => (sawDone = r));
  const follower = (async () => {
    for await (const r of readLog(dir, ID, { follow: true, signal: stop.signal })) {
      if (isData(r.line)) got.push(...decodeData(r.line));
      if (r.line.direction === "event" && r.line.event === "done") sawDone();
    }
  })();
  try {
    const sent: number[] = [];
    for (let i = 0; i < 300; i++) {
      const chunk = new Uint8Array(1000).fill(i % 256);
      sent.push(...chunk);
      w.output(chunk);
      // Let the writer (and the follower) run now and then.
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    w.event("done");
    await w.close();
    await done;
    stop.abort();
    await follower;
    assert.equal(got.length, sent.length);
    assert.deepEqual(got, sent);
    // And a plain read of the same files agrees.
    const again: number[] = [];
    for await (const r of readLog(dir, ID)) if (isData(r.line)) again.push(...decodeData(r.line));
    assert.deepEqual(again, sent);
  } finally {
    stop.abort();
    stopGzipWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a follower that fell behind several rotations reads the files it missed", async () => {
  const dir = await Deno.makeTempDir();
  const w = writerIn(dir, { maxBytes: 4096, keep: 1000 });
  const stop = new AbortController();
  try {
    w.event("first");
    await w.flush();
    const it = readLog(dir, ID, { follow: true, signal: stop.signal });
    // Following the first file now.
    const head = await it.next();
    assert.ok(!head.done && head.value.line.direction === "event");
    const sent: number[] = [];
    for (let i = 0; i < 40; i++) {
      const chunk = new Uint8Array(500).fill(i);
      sent.push(...chunk);
      w.output(chunk);
      await w.flush();
    }
    w.event("done");
    await w.close();
    const files = [...Deno.readDirSync(dir)].length;
    assert.ok(files > 5, `${files} files`);
    const got: number[] = [];
    const events: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const line = r.value.line;
      if (isData(line)) got.push(...decodeData(line));
      if (line.direction === "event") events.push(line.event);
      if (line.direction === "event" && line.event === "done") break;
    }
    stop.abort();
    await it.return(undefined);
    assert.deepEqual(got, sent);
    assert.equal(events.filter((e) => e === "part").length, files - 1);
  } finally {
    stop.abort();
    stopGzipWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a follower survives a torn last line being repaired under it", async () => {
  const dir = await Deno.makeTempDir();
  const writer = () => writerIn(dir);
  const describe = (l: LogLine) =>
    isData(l)
      ? `data:${new TextDecoder().decode(decodeData(l)).trim()}`
      : `${l.direction}:${(l as { event?: string }).event ?? ""}`;
  try {
    let w = writer();
    w.output(new TextEncoder().encode("before crash\n"));
    await w.close();
    // The daemon died mid-write: a torn line at the end.
    await Deno.writeTextFile(
      `${dir}/${ID}.jsonl`,
      `{"timestamp":"2026-01-01T00:00:00.000Z","session_id":"${ID}","direction":"output","data":"${
        "A".repeat(120)
      }`,
      { append: true },
    );
    const ac = new AbortController();
    const got: string[] = [];
    let wake = () => {};
    const follower = (async () => {
      for await (const r of readLog(dir, ID, { follow: true, signal: ac.signal })) {
        got.push(describe(r.line));
        wake();
      }
    })();
    const until = async (what: string) => {
      const deadline = Date.now() + 20_000;
      while (!got.some((g) => g.includes(what))) {
        if (Date.now() > deadline) throw new Error(`follower never showed ${what}: ${got}`);
        await within(new Promise<void>((r) => (wake = r)), 1000);
      }
    };
    await until("data:before crash");
    // The next daemon repairs the file, then the session goes on.
    w = writer();
    w.event("exit", { exitReason: "daemon_lost" });
    for (let i = 0; i < 5; i++) w.output(new TextEncoder().encode(`after restart ${i}\n`));
    await w.close();
    await until("after restart 4");
    ac.abort();
    await follower;
    const onDisk: string[] = [];
    for await (const r of readLog(dir, ID)) onDisk.push(describe(r.line));
    assert.deepEqual(got, onDisk);
    assert.ok(onDisk.includes("event:repaired"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a follower does not glue a cut-off line to what replaced it, even when that parses", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${ID}.jsonl`;
  const head = (ts: string) => `{"timestamp":"${ts}","session_id":"${ID}","direction":"output"`;
  const line = (ts: string, bytes: Uint8Array) =>
    `${head(ts)},"size":${bytes.length},"data":"${btoa(String.fromCharCode(...bytes))}"}\n`;
  const enc = new TextEncoder();
  try {
    const part = `{"timestamp":"2026-01-01T00:00:00.000Z","session_id":"${ID}",` +
      `"direction":"event","event":"part","part":1}\n`;
    const first = line("2026-01-01T00:00:00.001Z", enc.encode("before\n"));
    const torn = `${head("2026-01-01T00:00:00.002Z")},"size":90,"data":"${"A".repeat(40)}`;
    await Deno.writeTextFile(path, part + first + torn);
    const ac = new AbortController();
    const it = readLog(dir, ID, { follow: true, signal: ac.signal })[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.line.event, "part");
    const before = (await it.next()).value!.line;
    assert.ok(isData(before));
    // The torn line is now half read. The file is cut where it began and a
    // longer line written in its place: read on from the old position, the
    // rest of that line would close the torn one into valid JSON.
    const long = enc.encode("after the cut, a line long enough to reach past the torn one\n");
    const cut = part.length + first.length;
    await Deno.truncate(path, cut);
    await Deno.writeTextFile(path, line("2026-01-01T00:00:01.000Z", long), { append: true });
    const next = (await it.next()).value!.line;
    ac.abort();
    await it.return?.(undefined);
    assert.ok(isData(next));
    assert.deepEqual(decodeData(next), long);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a follower keeps the lines written between an outside move and the reopen (SIGHUP)", async () => {
  const dir = await Deno.makeTempDir();
  const w = writerIn(dir);
  const ac = new AbortController();
  const got: string[] = [];
  let wake = () => {};
  const follower = (async () => {
    for await (const r of readLog(dir, ID, { follow: true, signal: ac.signal })) {
      if (isData(r.line)) got.push(new TextDecoder().decode(decodeData(r.line)));
      wake();
    }
  })();
  const until = async (what: string) => {
    const deadline = Date.now() + 20_000;
    while (!got.some((g) => g.includes(what))) {
      if (Date.now() > deadline) throw new Error(`follower never showed ${what}: ${got}`);
      await within(new Promise<void>((r) => (wake = r)), 1000);
    }
  };
  try {
    w.output(new TextEncoder().encode("a\n"));
    await w.flush();
    await until("a");
    // logrotate without copytruncate: move, then SIGHUP the daemon.
    await Deno.rename(`${dir}/${ID}.jsonl`, `${dir}/${ID}.jsonl-20260101`);
    w.output(new TextEncoder().encode("b, before the reopen\n"));
    await w.flush();
    w.reopen();
    w.output(new TextEncoder().encode("c, after it\n"));
    await w.flush();
    await until("c, after it");
    assert.deepEqual(got, ["a\n", "b, before the reopen\n", "c, after it\n"]);
  } finally {
    ac.abort();
    await follower;
    await w.close();
    await Deno.remove(dir, { recursive: true });
  }
});
