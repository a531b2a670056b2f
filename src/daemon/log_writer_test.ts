import assert from "node:assert/strict";
import { defaultConfig, type LogConfig } from "../config.ts";
import {
  decodeData,
  encodeData,
  formatLine,
  isData,
  type LogLine,
  parseLine,
} from "../log_format.ts";
import { readLog } from "../log_reader.ts";
import { compressArchives, LogBudget, LogWriter, repairTail } from "./log_writer.ts";
import { stopGzipWorker } from "./_gzip.ts";

const ID = "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R";

function writer(
  dir: string,
  settings: Partial<LogConfig>,
  holds: string[] = [],
  log: (msg: string) => void = () => {},
): LogWriter {
  const cfg = { ...defaultConfig().log, ...settings };
  return new LogWriter({
    dir,
    id: ID,
    settings: () => cfg,
    hold: () => {
      holds.push("hold");
      return () => holds.push("release");
    },
    log,
  });
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

async function gunzip(path: string): Promise<string> {
  const f = await Deno.open(path);
  return await new Response(f.readable.pipeThrough(new DecompressionStream("gzip"))).text();
}

async function fileLines(dir: string, name: string): Promise<LogLine[]> {
  const text = name.endsWith(".gz")
    ? await gunzip(`${dir}/${name}`)
    : await Deno.readTextFile(`${dir}/${name}`);
  assert.ok(text.endsWith("\n"), `${name} ends with a whole line`);
  return text.slice(0, -1).split("\n").map((l) => {
    const parsed = parseLine(l);
    assert.ok(parsed, `${name}: every line parses: ${l.slice(0, 80)}`);
    return parsed;
  });
}

async function allOutput(dir: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const r of readLog(dir, ID)) {
    if (isData(r.line) && r.line.direction === "output") parts.push(decodeData(r.line));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("coalesces chunks into lines of at most 64 KiB, in order, directions apart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = writer(dir, {});
    const data = random(200_000);
    for (let i = 0; i < 100_000; i += 1000) w.output(data.subarray(i, i + 1000));
    w.input(new TextEncoder().encode("typed"));
    w.resize(90, 20);
    for (let i = 100_000; i < 200_000; i += 1000) w.output(data.subarray(i, i + 1000));
    w.event("exit", { exitCode: 0 });
    await w.close();
    const lines = await fileLines(dir, `${ID}.jsonl`);
    assert.deepEqual(lines[0], { ...lines[0], direction: "event", event: "part", part: 1 });
    const kinds = lines.map((l) => l.direction);
    // 100 kB in two 64 KiB-bounded lines, input, resize, again two, the event.
    assert.deepEqual(kinds, [
      "event",
      "output",
      "output",
      "input",
      "resize",
      "output",
      "output",
      "event",
    ]);
    for (const l of lines) {
      if (isData(l)) {
        assert.ok(l.size <= 64 * 1024);
        assert.equal(decodeData(l).length, l.size);
      }
    }
    assert.deepEqual(await allOutput(dir), data);
    const st = await Deno.stat(`${dir}/${ID}.jsonl`);
    assert.equal(st.mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rotation: size bound, whole lines, .1 plain, older gzip'd, keep honoured", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = writer(dir, { maxBytes: 4096, keep: 3 });
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const chunk = new TextEncoder().encode(`line ${i} ${"x".repeat(400)}\n`);
      sent.push(chunk);
      w.output(chunk);
      w.event("tick", { i }); // separate lines: no coalescing across events
    }
    await w.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [
      `${ID}.1.jsonl`,
      `${ID}.2.jsonl.gz`,
      `${ID}.3.jsonl.gz`,
      `${ID}.jsonl`,
    ]);
    const parts: number[] = [];
    let ticks: number[] = [];
    for (const name of [`${ID}.3.jsonl.gz`, `${ID}.2.jsonl.gz`, `${ID}.1.jsonl`, `${ID}.jsonl`]) {
      const path = `${dir}/${name}`;
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      if (!name.endsWith(".gz")) assert.ok((await Deno.stat(path)).size <= 4096);
      const lines = await fileLines(dir, name);
      const head = lines[0]!;
      assert.ok(head.direction === "event" && head.event === "part");
      parts.push(head.part as number);
      ticks = ticks.concat(
        lines.flatMap((l) => l.direction === "event" && l.event === "tick" ? [l.i as number] : []),
      );
    }
    // Consecutive files, the newest last; nothing lost from the kept ones.
    assert.deepEqual(parts, [parts[0]!, parts[0]! + 1, parts[0]! + 2, parts[0]! + 3]);
    assert.ok(parts[0]! > 1);
    assert.equal(ticks.at(-1), 39);
    assert.deepEqual(ticks, ticks.map((_, k) => ticks[0]! + k));
  } finally {
    stopGzipWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a torn last line is cut and noted when the file is opened again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${ID}.jsonl`;
    const w1 = writer(dir, {});
    w1.output(new TextEncoder().encode("before"));
    await w1.close();
    await Deno.writeTextFile(path, '{"timestamp":"2026-', { append: true });
    assert.equal(await repairTail(`${dir}/missing`), 0);
    const w2 = writer(dir, {});
    w2.output(new TextEncoder().encode(" after"));
    await w2.close();
    const lines = await fileLines(dir, `${ID}.jsonl`);
    assert.deepEqual(
      lines.map((l) => l.direction === "event" ? l.event : l.direction),
      ["part", "output", "repaired", "output"],
    );
    const repaired = lines[2]!;
    assert.equal(repaired.direction === "event" && repaired.dropped, 19);
    assert.equal(new TextDecoder().decode(await allOutput(dir)), "before after");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a disk that fails holds output back within the bound, then catches up", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = `${tmp}/logs`;
  try {
    // The logs directory cannot be created while a file sits at its path.
    await Deno.writeTextFile(dir, "in the way");
    const holds: string[] = [];
    let failed!: () => void;
    const failing = new Promise<void>((r) => (failed = r));
    const log = (msg: string) => {
      if (/retrying \(nothing is dropped\)/.test(msg)) failed();
    };
    const w = writer(dir, { maxBufferBytes: 65536 }, holds, log);
    const data = random(300_000);
    for (let i = 0; i < data.length; i += 4096) w.output(data.subarray(i, i + 4096));
    assert.deepEqual(holds, ["hold"]);
    assert.ok(w.buffered > 65536);
    await failing;
    await Deno.remove(dir);
    await w.close();
    assert.deepEqual(holds, ["hold", "release"]);
    assert.deepEqual(await allOutput(dir), data);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("compressing a dead daemon's plain archives while the resumed session rotates loses nothing", async () => {
  const ID = "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R";
  const dir = await Deno.makeTempDir();
  const enc = new TextEncoder();
  const file = (part: number, tag: string, bytes: number) => {
    let s = formatLine({
      timestamp: "2026-01-01T00:00:00.000Z",
      session_id: ID,
      direction: "event",
      event: "part",
      part,
    }) + "\n";
    for (let i = 0; s.length < bytes; i++) {
      const data = enc.encode(`${tag}-${i}\n`);
      s += formatLine({
        timestamp: "2026-01-01T00:00:00.000Z",
        session_id: ID,
        direction: "output",
        data: encodeData(data),
        size: data.length,
      }) + "\n";
    }
    return s;
  };
  try {
    // Left plain by a daemon that died: .4 .3 .2 (parts 1-3), .1 (part 4), current (part 5).
    const MB = 1024 * 1024;
    await Deno.writeTextFile(`${dir}/${ID}.4.jsonl`, file(1, "P1", 3 * MB));
    await Deno.writeTextFile(`${dir}/${ID}.3.jsonl`, file(2, "P2", 3 * MB));
    await Deno.writeTextFile(`${dir}/${ID}.2.jsonl`, file(3, "P3", 3 * MB));
    await Deno.writeTextFile(`${dir}/${ID}.1.jsonl`, file(4, "P4", 1000));
    await Deno.writeTextFile(`${dir}/${ID}.jsonl`, file(5, "P5", 1000));
    const counts = (lines: string[]) => {
      const m = new Map<string, number>();
      for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
      return m;
    };
    const before: string[] = [];
    for await (const r of readLog(dir, ID)) {
      if (isData(r.line)) before.push(new TextDecoder().decode(decodeData(r.line)));
    }
    // The daemon starts compressing while the resumed session writes and rotates.
    const compressing = compressArchives(dir, ID);
    const w = writer(dir, { maxBytes: 2000, keep: 100 });
    for (let i = 0; i < 40; i++) w.output(enc.encode(`NEW-${i}-${"x".repeat(300)}\n`));
    await w.close();
    await compressing;
    const parts: number[] = [];
    const after: string[] = [];
    for await (const r of readLog(dir, ID)) {
      if (r.line.direction === "event" && r.line.event === "part") {
        parts.push(r.line.part as number);
      }
      if (isData(r.line)) after.push(new TextDecoder().decode(decodeData(r.line)));
    }
    assert.deepEqual(parts, parts.map((_, i) => i + 1), "every part once, in order");
    const old = counts(after.filter((l) => !l.startsWith("NEW-")));
    assert.deepEqual(old, counts(before));
    assert.equal(after.join("").split("NEW-").length - 1, 40);
  } finally {
    stopGzipWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the daemon-wide log budget holds back the busiest sessions and lets them go", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = `${tmp}/logs`;
  let all: LogWriter[] = [];
  try {
    // No disk yet: everything written waits in memory.
    await Deno.writeTextFile(dir, "in the way");
    const budget = new LogBudget(600_000);
    const holds = new Map<string, string[]>();
    all = [];
    const make = (id: string) => {
      const h: string[] = [];
      holds.set(id, h);
      const w = new LogWriter({
        dir,
        id,
        settings: () => ({ ...defaultConfig().log, maxBufferBytes: 8 * 1024 * 1024 }),
        hold: () => {
          h.push("hold");
          return () => h.push("release");
        },
        log: () => {},
        budget,
      });
      all.push(w);
      return w;
    };
    const busy = [make("01M7ZA1QCE3W6Y2T5XJ8K9VQ01"), make("01M7ZA1QCE3W6Y2T5XJ8K9VQ02")];
    const quiet = make("01M7ZA1QCE3W6Y2T5XJ8K9VQ03");
    quiet.output(random(1000));
    // Each busy one stays far below its own limit, together they pass the total.
    for (let i = 0; i < 100; i++) for (const w of busy) w.output(random(4096));
    assert.ok(budget.total > 600_000, `total ${budget.total}`);
    assert.equal(budget.total, busy[0]!.buffered + busy[1]!.buffered + quiet.buffered);
    for (const w of busy) {
      assert.deepEqual(holds.get(w.path.split("/").pop()!.split(".")[0]!), ["hold"]);
    }
    // One that holds less than its share is never held for the total.
    quiet.output(random(1000));
    assert.deepEqual(holds.get("01M7ZA1QCE3W6Y2T5XJ8K9VQ03"), []);
    // Once the disk is back and the writers catch up, all are released.
    await Deno.remove(dir);
    await Promise.all([...busy, quiet].map((w) => w.flush()));
    for (const h of holds.values()) assert.ok(h.length === 0 || h.at(-1) === "release", h.join());
    assert.equal(budget.total, 0);
    await Promise.all([...busy, quiet].map((w) => w.close()));
  } finally {
    await Promise.all(all.map((w) => w.abort()));
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("output after a quiet spell is written at the end of the turn; a stream is coalesced", async () => {
  const dir = await Deno.makeTempDir();
  const enc = (s: string) => new TextEncoder().encode(s);
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };
  try {
    const w = writer(dir, {});
    w.event("opened");
    await w.flush(); // the file is open now
    await new Promise((r) => setTimeout(r, 10)); // quiet for longer than the coalescing
    w.output(enc("a"));
    w.output(enc("b")); // same turn: same line
    await turns(20); // no timer has run, only this turn's microtasks
    assert.equal(w.buffered, 0);
    // Right after a line: a stream, coalesced for a few ms (a timer).
    w.output(enc("c"));
    await turns(20);
    assert.equal(w.buffered, 1);
    w.output(enc("d"));
    await w.close();
    const data = (await fileLines(dir, `${ID}.jsonl`)).filter(isData);
    assert.deepEqual(data.map((l) => new TextDecoder().decode(decodeData(l))), ["ab", "cd"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
