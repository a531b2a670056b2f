import assert from "node:assert/strict";
import { toCast } from "./_cast.ts";
import type { LogLine } from "../log_format.ts";
import { encodeData } from "../log_format.ts";

const ID = "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R";
const enc = new TextEncoder();

function data(ms: number, direction: "output" | "input", bytes: Uint8Array): LogLine {
  return {
    timestamp: new Date(1_780_000_000_000 + ms).toISOString(),
    session_id: ID,
    direction,
    data: encodeData(bytes),
    size: bytes.length,
  };
}

async function* lines(list: LogLine[]): AsyncGenerator<LogLine> {
  yield* list;
}

Deno.test("asciicast v2: header, monotonic times, text split across entries", async () => {
  const euro = enc.encode("€"); // 3 bytes, split across two entries
  const log: LogLine[] = [
    {
      timestamp: new Date(1_780_000_000_000).toISOString(),
      session_id: ID,
      direction: "event",
      event: "start",
      cols: 100,
      rows: 30,
    },
    data(10, "output", enc.encode("hi ")),
    data(20, "output", euro.subarray(0, 2)),
    data(30, "output", euro.subarray(2)),
    data(25, "input", enc.encode("x")), // clock went back: time must not
    { ...data(40, "output", new Uint8Array()), direction: "resize", cols: 80, rows: 24 },
    data(1500, "output", new Uint8Array([0xff, 0x41])),
  ];
  const out: string[] = [];
  for await (const l of toCast(lines(log), { title: "t", cols: 1, rows: 1 })) out.push(l);
  const header = JSON.parse(out[0]!);
  assert.deepEqual(header, {
    version: 2,
    width: 100,
    height: 30,
    timestamp: 1_780_000_000,
    title: "t",
  });
  const events = out.slice(1).map((l) => JSON.parse(l));
  assert.deepEqual(events, [
    [0.01, "o", "hi "],
    [0.03, "o", "€"],
    [0.03, "i", "x"],
    [0.04, "r", "80x24"],
    [1.5, "o", "\ufffdA"],
  ]);
});
