import assert from "node:assert/strict";
import { defaultConfig } from "./config.ts";
import { decodeData, isData, parseLogFileName } from "./log_format.ts";
import { LineSplitter, readLog } from "./log_reader.ts";
import { LogWriter } from "./daemon/log_writer.ts";
import { stopGzipWorker } from "./daemon/_gzip.ts";

const ID = "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R";

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
  const cfg = { ...defaultConfig().log, maxBytes: 8192, keep: 1000 };
  const w = new LogWriter({
    dir,
    id: ID,
    settings: () => cfg,
    hold: () => () => {},
    log: () => {},
  });
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
  const cfg = { ...defaultConfig().log, maxBytes: 4096, keep: 1000 };
  const w = new LogWriter({
    dir,
    id: ID,
    settings: () => cfg,
    hold: () => () => {},
    log: () => {},
  });
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
