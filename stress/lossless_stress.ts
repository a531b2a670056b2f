/**
 * Stress: 50 sessions each write 5 MiB of random bytes at once, with logs
 * rotated every 1 MiB (so each session's log spans several files, most of
 * them gzip-compressed while writing goes on). Decoding every session's log
 * gives back exactly its bytes.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { RawClient, TestHome } from "../test/_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";
import { readLog } from "../src/log_reader.ts";
import { decodeData, isData } from "../src/log_format.ts";
import { report, scaled, stressOpts } from "./_stress.ts";

const N = scaled(50, 5);
const BYTES = 5 * 1024 * 1024;

Deno.test(`lossless: ${N} sessions × 5 MiB across forced rotation`, stressOpts, async () => {
  const home = await TestHome.create();
  const data = new Uint8Array(BYTES);
  for (let i = 0; i < BYTES; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  const file = `${home.dir}/data.bin`;
  await Deno.writeFile(file, data);
  // Raw output (no \n → \r\n), every byte once, then exit.
  await home.writeConfig({
    claude: { command: "/bin/sh", args: ["-c", `stty raw -echo; cat ${file}`] },
    log: { maxBytes: 1024 * 1024, keep: 50 },
  });
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  try {
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = await c.request("new", { cwd: home.dir, env: home.env });
      assert.equal(r.ok, true, JSON.stringify(r.error));
      ids.push((r.result as { session: SessionRecord }).session.id);
    }
    for (const id of ids) {
      const w = await c.request("wait", { session: id, until: ["exited"], timeoutMs: 300_000 });
      assert.equal(w.ok, true, JSON.stringify(w.error));
    }
    report("lossless: written", `${N} × 5 MiB in ${Date.now() - t0} ms`);
    let files = 0;
    for (const id of ids) {
      const names = [...Deno.readDirSync(`${home.dir}/logs`)].filter((e) => e.name.startsWith(id));
      files += names.length;
      const parts: Uint8Array[] = [];
      let size = 0;
      for await (const { line } of readLog(`${home.dir}/logs`, id)) {
        if (isData(line) && line.direction === "output") {
          const b = decodeData(line);
          parts.push(b);
          size += b.length;
        }
      }
      assert.equal(size, BYTES, `session ${id}: ${size} bytes logged`);
      const all = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      assert.equal(Buffer.compare(all, data), 0, `session ${id}: logged bytes differ`);
      assert.ok(names.length > 2, `session ${id}: only ${names.length} log files (no rotation?)`);
    }
    report("lossless: verified", `${N} logs, ${files} files, in ${Date.now() - t0} ms total`);
  } finally {
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
});
