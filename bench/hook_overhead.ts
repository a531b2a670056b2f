/**
 * Hook overhead: how long the status hook command takes per event, the way
 * Claude Code runs it (`sh -c <command>` with the JSON payload on stdin),
 * compared with running the claude-sessions CLI itself as the hook would.
 *
 *   deno run -A bench/hook_overhead.ts [RUNS]
 *
 * Prints p50/p99 of each and their ratio. The budget is p50 ≤ 25 ms.
 *
 * @module
 */

import { hookCommand } from "../src/hooks.ts";

const RUNS = Number(Deno.args[0] ?? 200);
const payload = new TextEncoder().encode(JSON.stringify({
  session_id: "6f0c3c2e-6e5d-4a55-9d36-1d1f0f6a9b10",
  transcript_path: "/home/u/.claude/projects/-home-u-src/6f0c3c2e.jsonl",
  cwd: "/home/u/src",
  hook_event_name: "PreToolUse",
  tool_name: "Bash",
  tool_input: { command: "npm test", description: "Run the tests" },
}));

async function time(argv: string[], stdin: Uint8Array | null): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: stdin ? "piped" : "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const st = await child.status;
  if (!st.success) throw new Error(`${argv.join(" ")} exited ${st.code}`);
  return performance.now() - t0;
}

function stats(ms: number[]): { p50: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

const spool = await Deno.makeTempDir({ prefix: "cs-bench-spool-" });
try {
  const hook = hookCommand(spool, "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R");
  const hookMs: number[] = [];
  for (let i = 0; i < RUNS; i++) hookMs.push(await time(["/bin/sh", "-c", hook], payload));
  const cliMs: number[] = [];
  const main = new URL("../src/main.ts", import.meta.url).pathname;
  const cli = [Deno.execPath(), "run", "-A", "--quiet", main, "--version"];
  for (let i = 0; i < Math.min(RUNS, 50); i++) cliMs.push(await time(cli, null));

  const h = stats(hookMs);
  const c = stats(cliMs);
  const f = (n: number) => n.toFixed(1).padStart(7);
  console.log(`hook command, ${RUNS} runs (sh -c, payload on stdin, spooled to disk)`);
  console.log(`  p50 ${f(h.p50)} ms   p99 ${f(h.p99)} ms   mean ${f(h.mean)} ms`);
  console.log(`claude-sessions --version as a hook would run it, ${cliMs.length} runs`);
  console.log(`  p50 ${f(c.p50)} ms   p99 ${f(c.p99)} ms   mean ${f(c.mean)} ms`);
  console.log(`ratio (CLI / hook command), p50: ${(c.p50 / h.p50).toFixed(1)}x`);
  console.log(`budget p50 <= 25 ms: ${h.p50 <= 25 ? "met" : "NOT met"} (${h.p50.toFixed(1)} ms)`);
} finally {
  await Deno.remove(spool, { recursive: true });
}
