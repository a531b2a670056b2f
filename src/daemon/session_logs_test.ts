import assert from "node:assert/strict";
import { defaultConfig } from "../config.ts";
import type { SessionRecord } from "../protocol.ts";
import { SessionLogs } from "./session_logs.ts";

const DAY = 86_400_000;
const ids = {
  oldExited: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0A",
  newExited: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0B",
  live: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0C",
  oldOrphan: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0D",
  newOrphan: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0E",
};

function record(id: string, status: "exited" | "running", endedAt: number): SessionRecord {
  const at = new Date(endedAt).toISOString();
  return {
    id,
    status,
    statusSince: at,
    runs: [{ ended: status === "exited" ? at : null }],
  } as unknown as SessionRecord;
}

Deno.test("retention deletes logs of sessions that ended long ago, and old orphans", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = Date.now();
    for (const id of Object.values(ids)) {
      await Deno.writeTextFile(`${dir}/${id}.jsonl`, "{}\n");
      await Deno.writeTextFile(`${dir}/${id}.1.jsonl`, "{}\n");
      await Deno.writeTextFile(`${dir}/${id}.2.jsonl.gz`, "");
    }
    const old = new Date(now - 40 * DAY);
    for (const name of [".jsonl", ".1.jsonl", ".2.jsonl.gz"]) {
      await Deno.utime(`${dir}/${ids.oldOrphan}${name}`, old, old);
    }
    await Deno.writeTextFile(`${dir}/unrelated.txt`, "x");
    const records = [
      record(ids.oldExited, "exited", now - 31 * DAY),
      record(ids.newExited, "exited", now - 29 * DAY),
      record(ids.live, "running", now - 100 * DAY),
    ];
    let cfg = { ...defaultConfig().log, retentionDays: 0 };
    const logs = new SessionLogs(dir, () => cfg, () => {});
    assert.deepEqual(await logs.sweep(records, now), []);
    cfg = { ...cfg, retentionDays: 30 };
    const deleted = await logs.sweep(records, now);
    assert.deepEqual(deleted.sort(), [ids.oldExited, ids.oldOrphan]);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    for (const id of [ids.oldExited, ids.oldOrphan]) {
      assert.equal(left.filter((n) => n.startsWith(id)).length, 0);
    }
    for (const id of [ids.newExited, ids.live, ids.newOrphan]) {
      assert.equal(left.filter((n) => n.startsWith(id)).length, 3);
    }
    assert.ok(left.includes("unrelated.txt"));
    await logs.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
