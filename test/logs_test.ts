/**
 * End-to-end: session I/O logs. A real daemon runs `/bin/sh` scripts as
 * sessions; the tests read the files on disk with their own decoder and
 * drive `logs`, `replay`, `export` and `rm` through the real CLI.
 */

import assert from "node:assert/strict";
import { TermClient } from "./_term.ts";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { Fifo, MAIN, RawClient, TestHome, TextSink } from "./_harness.ts";
import { LineSplitter } from "../src/log_reader.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Line {
  timestamp: string;
  session_id: string;
  direction: string;
  data?: string;
  size?: number;
  event?: string;
  [k: string]: unknown;
}

/** A home whose sessions run `sh -c SCRIPT`. */
async function shHome(script: string, log: Record<string, unknown> = {}): Promise<TestHome> {
  return await TestHome.create({ claude: { command: "/bin/sh", args: ["-c", script] }, log });
}

/** Runs the CLI, returning raw stdout bytes. */
async function cliBytes(
  home: TestHome,
  args: string[],
): Promise<{ code: number; out: Uint8Array }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: home.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { code: r.code, out: r.stdout };
}

/** A session's log files in reading order: oldest archive first, current last. */
function logNames(home: TestHome, id: string): string[] {
  const names = [...Deno.readDirSync(`${home.dir}/logs`)].map((e) => e.name)
    .filter((n) => n.startsWith(`${id}.`));
  const num = (n: string) => n === `${id}.jsonl` ? 0 : Number(n.split(".")[1]);
  return names.sort((a, b) => (num(a) === 0 ? 1 : num(b) === 0 ? -1 : num(b) - num(a)));
}

/** Every line of a log file, parsed; fails on any line that does not parse. */
async function readLines(path: string): Promise<Line[]> {
  const raw = await Deno.readFile(path);
  const bytes = path.endsWith(".gz")
    ? new Uint8Array(
      await new Response(
        new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip")),
      ).arrayBuffer(),
    )
    : raw;
  const text = new TextDecoder().decode(bytes);
  assert.ok(text.endsWith("\n"), `${path} ends with a newline`);
  return text.slice(0, -1).split("\n").map((l, i) => {
    try {
      return JSON.parse(l) as Line;
    } catch {
      throw new Error(`${path}:${i + 1} does not parse: ${l.slice(0, 100)}`);
    }
  });
}

async function allLines(home: TestHome, id: string): Promise<Line[]> {
  const out: Line[] = [];
  for (const n of logNames(home, id)) out.push(...await readLines(`${home.dir}/logs/${n}`));
  return out;
}

function bytesOf(lines: Line[], direction: string): Uint8Array {
  const b = Buffer.concat(
    lines.filter((l) => l.direction === direction).map((l) => Buffer.from(l.data!, "base64")),
  );
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

Deno.test(
  "output, input and resizes are logged; logs prints them as text, plain, json, filtered",
  opts,
  async () => {
    const home = await shHome(
      `stty -echo
printf '\\033[1;32mhello\\033[0m w\\303'
sleep 0.1
printf '\\266rld\\n'
printf 'ready=1\\nEND\\n' > "$PROBE_FIFO"
IFS= read -r line
printf 'got:%s\\n' "$line"`,
    );
    const daemon = await home.startDaemon();
    const fifo = await Fifo.create(home.dir);
    const c = await RawClient.connect(home.socket);
    try {
      const ready = fifo.read();
      const id = (await home.ok(["new", home.dir, "--name", "io"], {
        env: { PROBE_FIFO: fifo.path },
      })).trim();
      await ready;
      assert.equal((await c.request("resize", { session: id, cols: 100, rows: 30 })).ok, true);
      assert.equal(
        (await c.request("input", { session: id, data: btoa("typed text\r") })).ok,
        true,
      );
      assert.equal((await c.request("wait", { session: id, until: ["exited"] })).ok, true);

      // The files: 0600 in a 0700 directory; every line parses.
      assert.equal((await Deno.stat(`${home.dir}/logs`)).mode! & 0o777, 0o700);
      assert.deepEqual(logNames(home, id), [`${id}.jsonl`]);
      assert.equal((await Deno.stat(`${home.dir}/logs/${id}.jsonl`)).mode! & 0o777, 0o600);
      const lines = await allLines(home, id);
      for (const l of lines) {
        assert.equal(l.session_id, id);
        assert.match(l.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        if (l.direction === "output" || l.direction === "input") {
          assert.equal(Buffer.from(l.data!, "base64").length, l.size);
        }
      }
      const kinds = lines.map((l) => l.direction === "event" ? `event:${l.event}` : l.direction);
      assert.equal(kinds[0], "event:part");
      assert.equal(kinds[1], "event:start");
      assert.equal(lines[1]!.cols, 120);
      assert.ok(kinds.includes("event:status"));
      assert.equal(kinds.at(-1), "event:exit");
      assert.equal(lines.at(-1)!.exitCode, 0);
      const resize = lines.find((l) => l.direction === "resize")!;
      assert.deepEqual([resize.cols, resize.rows], [100, 30]);
      // Input precedes the output it caused.
      assert.ok(kinds.indexOf("input") < kinds.lastIndexOf("output"));
      assert.equal(new TextDecoder().decode(bytesOf(lines, "input")), "typed text\r");

      const text = "\x1b[1;32mhello\x1b[0m wörld\r\ngot:typed text\r\n";
      assert.equal(await home.ok(["logs", "io"]), text);
      assert.equal(
        await home.ok(["logs", id.slice(0, 12), "--strip-ansi"]),
        "hello wörld\ngot:typed text\n",
      );
      assert.equal(await home.ok(["logs", id, "--direction", "input"]), "typed text\r");
      // --grep matches the lines as they appeared on the screen.
      assert.equal(await home.ok(["logs", id, "--grep", "^got"]), "got:typed text\n");
      assert.equal(
        await home.ok(["logs", id, "--grep", "hello w", "--strip-ansi"]),
        "hello wörld\n",
      );
      assert.equal(await home.ok(["logs", id, "--since", "1h"]), text);
      assert.equal(await home.ok(["logs", id, "--since", "2999-01-01"]), "");
      const json = (await home.ok(["logs", id, "--json"])).trimEnd().split("\n");
      assert.deepEqual(json.map((l) => JSON.parse(l)), lines);
      const inputs = (await home.ok(["logs", id, "--json", "--direction", "input"]))
        .trimEnd().split("\n").map((l) => JSON.parse(l) as Line);
      assert.ok(inputs.length >= 1 && inputs.every((l) => l.direction === "input"));
      const grepped = (await home.ok(["logs", id, "--json", "--grep", "got:"])).trimEnd().split(
        "\n",
      );
      assert.equal(grepped.length, 1);

      for (const bad of [["--grep", "("], ["--direction", "sideways"], ["--since", "yesterday"]]) {
        const r = await home.cli(["logs", id, ...bad]);
        assert.equal(r.code, 2, bad.join(" "));
        assert.equal(r.stderr.split("\n")[0]!.startsWith("claude-sessions: invalid"), true);
      }
      const none = await home.cli(["logs", "nosuchsession"]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no session matches/);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

for (const attached of [false, true]) {
  Deno.test(
    `lossless: 50 MB of random bytes through small rotations, read back and followed${
      attached ? ", with a client attached" : ""
    }`,
    opts,
    async () => {
      const maxBytes = 2 * 1024 * 1024;
      const home = await shHome(
        `stty raw -echo; printf 'ready=1\\nEND\\n' > "$PROBE_FIFO"; IFS= read -r go; cat "$DATA"`,
        { maxBytes, keep: 100 },
      );
      let daemon = await home.startDaemon();
      const fifo = await Fifo.create(home.dir);
      const c = await RawClient.connect(home.socket);
      const data = randomBytes(50_000_000);
      await Deno.writeFile(`${home.dir}/data.bin`, data);
      const expected = sha256(data);
      try {
        const ready = fifo.read();
        const id = (await home.ok(["new", home.dir], {
          env: { PROBE_FIFO: fifo.path, DATA: `${home.dir}/data.bin` },
        })).trim();
        await ready;

        // A follower from before the first byte to after the last.
        const follower = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", MAIN, "logs", id, "--follow", "--json"],
          env: home.env,
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const err = new TextSink(follower.stderr);
        const hash = createHash("sha256");
        const splitter = new LineSplitter();
        let followed = 0;
        let first!: () => void;
        const started = new Promise<void>((r) => (first = r));
        let exit!: () => void;
        const sawExit = new Promise<void>((r) => (exit = r));
        const reading = (async () => {
          for await (const chunk of follower.stdout) {
            for (const text of splitter.push(chunk)) {
              const l = JSON.parse(text) as Line;
              first();
              if (l.direction === "output") {
                const b = Buffer.from(l.data!, "base64");
                hash.update(b);
                followed += b.length;
              }
              if (l.direction === "event" && l.event === "exit") exit();
            }
          }
        })();
        await started;

        // A client attached for the whole stream (a real attach process).
        const client = attached
          ? TermClient.spawn(["attach", "--read-only", id], home.env, { cols: 80, rows: 24 }, false)
          : null;
        if (client) {
          await new Promise<void>((resolve) => {
            const stop = client.onOutput(() => {
              stop();
              resolve();
            });
          });
        }

        assert.equal((await c.request("input", { session: id, data: btoa("go\n") })).ok, true);
        const w = await c.request("wait", { session: id, until: ["exited"] });
        assert.equal(w.ok, true);
        await sawExit;
        if (client) {
          // The session ended: the client was told and left.
          assert.equal((await client.close()).code, 0, client.raw.slice(-300));
          assert.match(client.raw, /\[session [0-9A-Z]+ exited \(code 0\)\]/);
        }
        follower.kill("SIGINT");
        const st = await follower.status;
        await reading;
        await err.done;
        assert.equal(st.code, 0, err.text);
        const followedHash = hash.digest("hex");

        // A daemon that stops finishes compressing archives first.
        c.close();
        await daemon.stop();
        daemon = await home.startDaemon();

        // On disk: many rotations, every archive kept, .1 plain, older gzip'd,
        // parts numbered in order, no file over the limit, lossless.
        const names = logNames(home, id);
        assert.ok(names.length >= 30, `${names.length} files`);
        assert.equal(names.at(-1), `${id}.jsonl`);
        assert.equal(names.at(-2), `${id}.1.jsonl`);
        const parts: number[] = [];
        const lines: Line[] = [];
        for (const n of names) {
          const path = `${home.dir}/logs/${n}`;
          const st = await Deno.stat(path);
          assert.equal(st.mode! & 0o777, 0o600);
          if (n.endsWith(".gz")) {
            const head = (await Deno.readFile(path)).subarray(0, 2);
            assert.deepEqual([...head], [0x1f, 0x8b], `${n} is gzip`);
          } else {
            assert.ok(st.size <= maxBytes, `${n}: ${st.size} bytes`);
          }
          const ls = await readLines(path);
          assert.equal(ls[0]!.event, "part");
          parts.push(ls[0]!.part as number);
          lines.push(...ls);
        }
        assert.deepEqual(parts, parts.map((_, i) => i + 1));
        assert.ok(names.slice(0, -2).every((n) => n.endsWith(".jsonl.gz")));
        const output = bytesOf(lines, "output");
        assert.equal(output.length, data.length);
        assert.equal(sha256(output), expected);
        // The follower saw the same.
        assert.equal(followed, data.length, err.text);
        assert.equal(followedHash, expected);
        assert.ok(lines.every((l) => l.direction !== "output" || l.size! <= 65536));

        // The bundle holds the record and every file, byte for byte.
        const bundle = `${home.dir}/b.tar.gz`;
        await home.ok(["export", id, "--format", "bundle", "-o", bundle]);
        const x = `${home.dir}/x`;
        await Deno.mkdir(x);
        const tar = await new Deno.Command("tar", { args: ["-xzf", bundle, "-C", x] }).output();
        assert.equal(tar.code, 0, new TextDecoder().decode(tar.stderr));
        const rec = JSON.parse(await Deno.readTextFile(`${x}/${id}/record.json`));
        assert.equal(rec.id, id);
        assert.equal(rec.status, "exited");
        const packed = [...Deno.readDirSync(`${x}/${id}/logs`)].map((e) => e.name).sort();
        assert.deepEqual(packed, [...names].sort());
        for (const n of names) {
          const a = await Deno.readFile(`${home.dir}/logs/${n}`);
          const b = await Deno.readFile(`${x}/${id}/logs/${n}`);
          assert.equal(sha256(b), sha256(a), n);
        }
      } finally {
        c.close();
        await daemon.stop();
        await home.cleanup();
      }
    },
  );
}

Deno.test(
  "daemon killed (-9) during heavy output: the torn line is repaired, logs still works",
  opts,
  async () => {
    const home = await shHome(
      `stty raw -echo; head -c 3000000 /dev/urandom; printf 'END\\n' > "$PROBE_FIFO"; exec cat /dev/urandom`,
    );
    const fifo = await Fifo.create(home.dir);
    const first = await home.startDaemon();
    let second: Awaited<ReturnType<TestHome["startDaemon"]>> | null = null;
    try {
      const busy = fifo.read();
      const id = (await home.ok(["new", home.dir], { env: { PROBE_FIFO: fifo.path } })).trim();
      await busy;
      const path = `${home.dir}/logs/${id}.jsonl`;
      await waitForFile(path, (_, size) => size > 1_000_000);
      Deno.kill(first.pid, "SIGKILL");
      await first.exited();
      // Make sure the last line is torn, whether or not the kill tore it.
      const size = (await Deno.stat(path)).size;
      const tail = await Deno.open(path, { read: true, write: true });
      await tail.seek(size - 1, Deno.SeekMode.Start);
      const last = new Uint8Array(1);
      await tail.read(last);
      if (last[0] === 10) await tail.truncate(size - 7);
      tail.close();

      second = await home.startDaemon();
      assert.match(second.log, /cut a torn last line/);
      const lines = await allLines(home, id);
      const tailKinds = lines.slice(-2).map((l) => l.event);
      assert.deepEqual(tailKinds, ["repaired", "exit"]);
      assert.ok((lines.at(-2)!.dropped as number) > 0);
      assert.equal(lines.at(-1)!.exitReason, "daemon_lost");
      // What the dead daemon still held in memory is gone; what reached the disk is intact.
      assert.ok(bytesOf(lines, "output").length > 0);
      const r = await cliBytes(home, ["logs", id]);
      assert.equal(r.code, 0);
      assert.ok(r.out.length > 0);
      const json = await cliBytes(home, ["logs", id, "--json"]);
      assert.equal(json.code, 0);
      const parsed = new TextDecoder().decode(json.out).trimEnd().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.equal(parsed.length, lines.length);
    } finally {
      await second?.stop();
      await home.cleanup();
    }
  },
);

Deno.test("SIGHUP reopens log files that an outside tool moved away", opts, async () => {
  const home = await shHome(
    `stty -echo; printf 'ready=1\\nEND\\n' > "$PROBE_FIFO"
while IFS= read -r l; do echo "out:$l"; [ "$l" = quit ] && exit 0; done`,
  );
  const daemon = await home.startDaemon();
  const fifo = await Fifo.create(home.dir);
  const c = await RawClient.connect(home.socket);
  try {
    const ready = fifo.read();
    const id = (await home.ok(["new", home.dir], { env: { PROBE_FIFO: fifo.path } })).trim();
    await ready;
    const path = `${home.dir}/logs/${id}.jsonl`;
    await c.request("input", { session: id, data: btoa("one\r") });
    await waitForFile(path, (t) => t.includes(`"direction":"input","data":"${btoa("one\r")}"`));
    await Deno.rename(path, `${path}-moved`);
    Deno.kill(daemon.pid, "SIGHUP");
    await daemon.waitForLog(/reopening session logs/);
    await c.request("input", { session: id, data: btoa("quit\r") });
    await c.request("wait", { session: id, until: ["exited"] });
    const moved = await readLines(`${path}-moved`);
    const fresh = await readLines(path);
    assert.equal(moved[0]!.part, 1);
    assert.equal(fresh[0]!.event, "part");
    assert.equal(fresh[0]!.part, 2);
    assert.equal(new TextDecoder().decode(bytesOf(moved, "input")), "one\r");
    assert.equal(new TextDecoder().decode(bytesOf(fresh, "input")), "quit\r");
    assert.equal(fresh.at(-1)!.event, "exit");
    // Readers read the files named by claude-sessions only.
    assert.equal(await home.ok(["logs", id, "--direction", "input"]), "quit\r");
  } finally {
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test(
  "replay --speed 100 plays the output; export writes valid asciicast v2",
  opts,
  async () => {
    const home = await shHome(
      `printf 'ready=1\\nEND\\n' > "$PROBE_FIFO"; IFS= read -r x
printf 'first\\n'; sleep 1
printf '\\303\\251t\\303'; sleep 0.2; printf '\\251 \\377\\376 binary\\n'`,
    );
    const daemon = await home.startDaemon();
    const fifo = await Fifo.create(home.dir);
    const c = await RawClient.connect(home.socket);
    try {
      const ready = fifo.read();
      const id = (await home.ok(["new", home.dir, "--size", "90x20", "--name", "rec"], {
        env: { PROBE_FIFO: fifo.path },
      })).trim();
      await ready;
      await c.request("resize", { session: id, cols: 100, rows: 30 });
      await c.request("input", { session: id, data: btoa("go\r") });
      await c.request("wait", { session: id, until: ["exited"] });
      const output = bytesOf(await allLines(home, id), "output");

      const replay = await cliBytes(home, ["replay", "rec", "--speed", "100", "--max-idle", "5"]);
      assert.equal(replay.code, 0);
      assert.deepEqual(replay.out, output);
      const bad = await home.cli(["replay", id, "--speed", "0"]);
      assert.equal(bad.code, 2);

      const file = `${home.dir}/rec.cast`;
      await home.ok(["export", id, "--format", "cast", "-o", file]);
      const text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
      const [headerLine, ...eventLines] = text.trimEnd().split("\n");
      const header = JSON.parse(headerLine!);
      assert.equal(header.version, 2);
      assert.equal(header.width, 90);
      assert.equal(header.height, 20);
      assert.ok(Number.isInteger(header.timestamp));
      assert.ok(Math.abs(header.timestamp - Date.now() / 1000) < 3600);
      assert.equal(typeof header.title, "string");
      assert.match(header.title, new RegExp(id));
      let prev = 0;
      let shown = "";
      const codes = new Set<string>();
      for (const l of eventLines) {
        const ev = JSON.parse(l);
        assert.ok(Array.isArray(ev) && ev.length === 3, l);
        const [t, code, data] = ev;
        assert.equal(typeof t, "number");
        assert.ok(t >= prev, `time goes back at ${l}`);
        prev = t;
        assert.ok(["o", "i", "r"].includes(code));
        assert.equal(typeof data, "string");
        codes.add(code);
        if (code === "o") shown += data;
        if (code === "r") assert.equal(data, "100x30");
      }
      assert.deepEqual([...codes].sort(), ["i", "o", "r"]);
      assert.equal(shown, new TextDecoder().decode(output));
      assert.ok(prev >= 1, "the recorded pause is kept");

      const toStdout = await home.ok(["export", id, "-o", "-"]);
      assert.equal(toStdout, text);
      const noOut = await home.cli(["export", id]);
      assert.equal(noOut.code, 2);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "rm deletes logs (--keep-logs keeps them); retention deletes old ones at start",
  opts,
  async () => {
    const home = await shHome(`echo hi`);
    let daemon = await home.startDaemon();
    const c = await RawClient.connect(home.socket);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = (await home.ok(["new", home.dir])).trim();
        await c.request("wait", { session: id, until: ["exited"] });
        ids.push(id);
      }
      const [gone, kept, old] = ids as [string, string, string];
      await home.ok(["rm", gone]);
      assert.deepEqual(logNames(home, gone), []);
      await home.ok(["rm", "--keep-logs", kept]);
      assert.deepEqual(logNames(home, kept), [`${kept}.jsonl`]);
      assert.equal(await home.ok(["logs", kept]), "hi\r\n");
      assert.equal(await home.ok(["logs", kept.slice(0, 20)]), "hi\r\n");

      c.close();
      await daemon.stop();
      // One session ended 40 days ago: its logs go at the next start.
      const recPath = `${home.dir}/sessions/${old}.json`;
      const rec = JSON.parse(await Deno.readTextFile(recPath));
      const longAgo = new Date(Date.now() - 40 * 86_400_000).toISOString();
      rec.statusSince = longAgo;
      rec.runs.at(-1).ended = longAgo;
      await Deno.writeTextFile(recPath, JSON.stringify(rec));
      daemon = await home.startDaemon();
      assert.match(daemon.log, /log retention: deleted the logs of 1 session/);
      assert.deepEqual(logNames(home, old), []);
      assert.deepEqual(logNames(home, kept), [`${kept}.jsonl`]);
      const r = await home.cli(["logs", old]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /has no log/);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

/** Waits (on file system notifications) until a file's text or size satisfies `ok`. */
async function waitForFile(
  path: string,
  ok: (text: string, size: number) => boolean,
  timeoutMs = 30_000,
) {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const watcher = Deno.watchFs(dir);
  const deadline = setTimeout(() => watcher.close(), timeoutMs);
  try {
    const check = async () => {
      const size = (await Deno.stat(path).catch(() => null))?.size ?? 0;
      // The text of small files only: big ones are judged by size.
      const text = size < 1024 * 1024 ? await Deno.readTextFile(path).catch(() => "") : "";
      return ok(text, size);
    };
    if (await check()) return;
    for await (const _ of watcher) if (await check()) return;
    throw new Error(`${path} never matched`);
  } finally {
    clearTimeout(deadline);
    try {
      watcher.close();
    } catch { /* closed */ }
  }
}
