/**
 * A fleet of real Claude Code sessions (offline, against the mock Messages
 * API), each given one turn and then left idle — with and without
 * hibernation:
 *
 *   CLAUDE_BIN=… deno run -A bench/fleet.ts [N=20] [WAKES=5]
 *
 * Prints the sessions' total resident memory (every process of each, as
 * `ls` measures it, checked against `/proc`) while they idle, then once they
 * are hibernated (`hibernate.afterMinutes` is then set to a few seconds, and
 * the daemon told with SIGHUP); and the time it takes to get an answer from
 * an idle live session versus a hibernated one (woken by the send:
 * `claude --resume`, its prompt up, the prompt delivered, the answer back),
 * median of WAKES each, as a user runs it: `send` (returns once Claude took
 * the prompt), then `wait --until waiting_input` (the turn ended), the
 * answer checked on the record — both CLI starts included.
 *
 * @module
 */

import { CLAUDE_BIN, setupClaude } from "../test/_claude.ts";
import { scriptedReply } from "../test/_mock_api.ts";
import type { SessionRecord } from "../src/protocol.ts";

if (!CLAUDE_BIN) throw new Error("no claude binary: set CLAUDE_BIN");
const N = Number(Deno.args[0] ?? 20);
const WAKES = Math.min(Number(Deno.args[1] ?? 5), N);
/** Idle this long (minutes) and a session is hibernated (once switched on). */
const AFTER_MINUTES = 0.05;

const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Resident memory of every process carrying one of `ids` (from /proc). */
function procRss(ids: Set<string>): number {
  let total = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const env = Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0");
      const id = env.find((v) => v.startsWith("CLAUDE_SESSIONS_ID="))?.slice(19);
      if (!id || !ids.has(id)) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${e.name}/status`));
      total += Number(m?.[1] ?? 0) * 1024;
    } catch { /* gone */ }
  }
  return total;
}

const config = { kill: { graceSeconds: 2 }, hibernate: { afterMinutes: 0 } };
const t = await setupClaude({ config });
t.api.defaultReply = scriptedReply();
const cs = (args: string[]) => t.home.ok(args, { env: t.env, cwd: t.work });
/** Sends `text` (`ECHO x`) and waits for the end of the turn; returns the ms it took. */
const turn = async (id: string, text: string) => {
  const t0 = performance.now();
  await cs(["send", id, text, "--timeout", "300"]);
  await cs(["wait", id, "--until", "waiting_input", "--timeout", "300"]);
  const ms = performance.now() - t0;
  const rec = (JSON.parse(await cs(["ls", "--all", "--json"])) as SessionRecord[])
    .find((s) => s.id === id)!;
  const want = text.replace(/^ECHO /, "");
  if (rec.lastMessage !== want) throw new Error(`${id} answered ${rec.lastMessage}, not ${want}`);
  return ms;
};

try {
  console.log(`claude-sessions fleet: ${N} real Claude Code sessions (mock API), one turn each`);
  const t0 = performance.now();
  // Five at a time: the machine has few cores.
  const ids: string[] = [];
  for (let i = 0; i < N; i += 5) {
    ids.push(
      ...await Promise.all(
        Array.from({ length: Math.min(5, N - i) }, async (_, k) => {
          const n = i + k;
          const id = (await cs(["new", t.work, "--name", `s${n}`, "--size", "120x40"])).trim();
          await turn(id, `ECHO hello from ${n}`);
          return id;
        }),
      ),
    );
  }
  console.log(`  started and answered: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Live and idle: what they hold.
  const live = JSON.parse(await cs(["ls", "--json"])) as SessionRecord[];
  const lsRss = live.reduce((n, s) => n + (s.usage?.rss ?? 0), 0);
  const all = new Set(ids);
  const before = procRss(all);
  const procs = live.reduce((n, s) => n + (s.usage?.processes ?? 0), 0);

  // An idle live session answers (a few of them, each once; the rest stay idle).
  const liveMs: number[] = [];
  for (let i = 0; i < WAKES; i++) liveMs.push(await turn(ids[i]!, `ECHO live ${i}`));

  // Hibernation on: every one, idle, is hibernated.
  await t.home.writeConfig({
    claude: { command: CLAUDE_BIN },
    ...config,
    hibernate: { afterMinutes: AFTER_MINUTES },
  });
  Deno.kill(t.daemon.pid, "SIGHUP");
  for (const id of ids) await cs(["wait", id, "--until", "hibernated", "--timeout", "300"]);
  const after = procRss(all);
  const slept = (JSON.parse(await cs(["ls", "--json"])) as SessionRecord[])
    .filter((s) => s.status === "hibernated").length;

  // A hibernated session is woken by send --wait, and answers.
  const wakeMs: number[] = [];
  for (let i = 0; i < WAKES; i++) wakeMs.push(await turn(ids[i]!, `ECHO woken ${i}`));

  const mib = (b: number) => (b / MiB).toFixed(0);
  console.log(
    `  idle, live:   ${mib(before)} MiB in ${procs} processes (${mib(before / N)} MiB a session; ` +
      `ls says ${mib(lsRss)} MiB)`,
  );
  console.log(
    `  hibernated:   ${mib(after)} MiB (${slept}/${N} hibernated after ${
      AFTER_MINUTES * 60
    } s idle)`,
  );
  console.log(`  memory freed: ${((1 - after / before) * 100).toFixed(0)}%`);
  console.log(
    `  an answer from an idle live session: ${median(liveMs).toFixed(0)} ms; ` +
      `to a hibernated one (wake + answer): ${median(wakeMs).toFixed(0)} ms ` +
      `(median of ${WAKES}; ratio ${(median(wakeMs) / median(liveMs)).toFixed(1)}×)`,
  );
} finally {
  await t.cleanup();
}
