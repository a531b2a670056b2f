/**
 * What session I/O logging costs.
 *
 *   deno run -A bench/log_overhead.ts [--mb 50] [--runs 3]
 *
 * A real daemon runs sessions that `cat` a file through their PTY (raw mode)
 * as fast as they can, with logging off and on (default settings: 16 MiB
 * rotation, gzip'd archives), for two payloads: random bytes (the worst case
 * for base64) and terminal-like text. It prints the throughput of each, the
 * on/off throughput ratio, and the bytes the log takes on disk (and as plain
 * JSONL) per byte of output.
 *
 * Throughput is measured from the `new` request to the daemon reporting the
 * exit, which happens only once all output is in the log.
 */

import { parseArgs } from "node:util";
import { RawClient, TestHome } from "../test/_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: { mb: { type: "string", default: "50" }, runs: { type: "string", default: "3" } },
});
const size = Math.round(Number(args.values.mb) * 1_000_000);
const runs = Math.max(1, Number(args.values.runs));

function randomPayload(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function textPayload(n: number): Uint8Array {
  const words = ["session", "daemon", "\x1b[32mok\x1b[0m", "reading", "src/main.ts", "42", "✓"];
  let s = "";
  let i = 0;
  while (s.length < n) {
    s += `\x1b[2m${String(i).padStart(6)}\x1b[0m ${words[i % 7]} ${
      words[(i * 3) % 7]
    } line ${i}\r\n`;
    i++;
  }
  return new TextEncoder().encode(s).subarray(0, n);
}

interface Result {
  mbPerSec: number;
  onDisk: number;
  plain: number;
}

async function measure(payload: Uint8Array, logging: boolean): Promise<Result> {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", 'stty raw -echo; cat "$DATA"'] },
    log: { enabled: logging },
  });
  await Deno.writeFile(`${home.dir}/data`, payload);
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  const times: number[] = [];
  let lastId = "";
  try {
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const made = await c.request("new", {
        cwd: home.dir,
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", DATA: `${home.dir}/data` },
      });
      if (!made.ok) throw new Error(JSON.stringify(made));
      lastId = (made.result as { session: { id: string } }).session.id;
      await c.request("wait", { session: lastId, until: ["exited"] });
      times.push(performance.now() - t0);
    }
  } finally {
    c.close();
    await daemon.stop(); // finishes compressing archives
  }
  let onDisk = 0;
  let plain = 0;
  for (const e of Deno.readDirSync(`${home.dir}/logs`)) {
    if (!e.name.startsWith(lastId)) continue;
    const path = `${home.dir}/logs/${e.name}`;
    onDisk += (await Deno.stat(path)).size;
    if (e.name.endsWith(".gz")) {
      const f = await Deno.open(path);
      const stream = f.readable.pipeThrough(new DecompressionStream("gzip"));
      for await (const chunk of stream) plain += chunk.length;
    } else {
      plain += (await Deno.stat(path)).size;
    }
  }
  await home.cleanup();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  return { mbPerSec: payload.length / 1e6 / (median / 1000), onDisk, plain };
}

console.log(`log overhead: ${size / 1e6} MB per session, median of ${runs} run(s)\n`);
console.log(
  "payload".padEnd(8),
  "off MB/s".padStart(9),
  "on MB/s".padStart(9),
  "on/off".padStart(7),
  "disk/byte".padStart(10),
  "jsonl/byte".padStart(11),
);
for (const [name, make] of [["random", randomPayload], ["text", textPayload]] as const) {
  const payload = make(size);
  const off = await measure(payload, false);
  const on = await measure(payload, true);
  console.log(
    name.padEnd(8),
    off.mbPerSec.toFixed(1).padStart(9),
    on.mbPerSec.toFixed(1).padStart(9),
    (on.mbPerSec / off.mbPerSec).toFixed(2).padStart(7),
    (on.onDisk / payload.length).toFixed(3).padStart(10),
    (on.plain / payload.length).toFixed(3).padStart(11),
  );
}
console.log(
  "\non/off: throughput with logging relative to without (1.00 = no cost).\n" +
    "disk/byte: log bytes on disk per output byte (current file, .1 plain, older gzip'd).\n" +
    "jsonl/byte: the same uncompressed (base64 costs 4/3, plus the JSON around it).",
);
