/**
 * Another machine over ssh versus this one, on this machine (a real sshd on
 * 127.0.0.1, as the tests use; needs root and /usr/sbin/sshd):
 *
 * - `ls` through the installed-from-source CLI: here; with `--host` over a
 *   warm (multiplexed) ssh connection; and the floor, a plain
 *   `ssh HOST true` over the same warm connection;
 * - keystroke echo through `attach` (p50/p99): here, and with `--host`.
 *
 *   deno run -A bench/remote.ts [ROUNDS=10] [KEYS=100]
 *
 * Prints medians and ratios; never asserts.
 *
 * @module
 */

import { TestHome } from "../test/_harness.ts";
import { TermClient } from "../test/_term.ts";
import { HAVE_SSHD, Sshd } from "../test/_sshd.ts";

const ROUNDS = Number(Deno.args[0] ?? 10);
const KEYS = Number(Deno.args[1] ?? 100);
const ECHO = "stty raw -echo; exec cat";

if (!HAVE_SSHD) {
  console.log("bench/remote: needs root and /usr/sbin/sshd (Debian: openssh-server); skipped");
  Deno.exit(0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Resolves when output containing `needle` arrives (after this call). */
function next(client: TermClient, needle: string, timeoutMs = 10_000): Promise<void> {
  return client.nextOutput(needle, timeoutMs);
}

async function echo(home: TestHome, host: string[], id: string): Promise<number[]> {
  const c = TermClient.spawn(["attach", id, ...host], home.env, { cols: 100, rows: 30 }, false);
  try {
    await next(c, "\x1b[?1049h", 60_000);
    for (let i = 0; i < 5; i++) {
      const w = next(c, "Q", 30_000);
      c.type("Q");
      await w;
    }
    const ms: number[] = [];
    const letters = "abcdefghijklmnopqrstuvwxyz";
    for (let i = 0; i < KEYS; i++) {
      const ch = letters[i % letters.length]!;
      const got = next(c, ch);
      const t0 = performance.now();
      c.type(ch);
      await got;
      ms.push(performance.now() - t0);
    }
    return ms;
  } finally {
    await c.kill();
  }
}

const sshd = await Sshd.start();
const remote = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c", ECHO] } });
const local = await TestHome.create({
  claude: { command: "/bin/sh", args: ["-c", ECHO] },
  hosts: { box: sshd.host(remote.dir) },
});
try {
  // Warm: both daemons running, the ssh master up.
  await local.ok(["ls"]);
  await local.ok(["ls", "-H", "box"]);
  const here: number[] = [];
  const there: number[] = [];
  const floor: number[] = [];
  const sshTrue = [
    "ssh",
    ...sshd.sshOptions,
    "-o",
    `ControlPath=${local.dir}/ssh/%C`,
    "-p",
    String(sshd.port),
    `${sshd.user}@127.0.0.1`,
    "true",
  ];
  for (let i = 0; i < ROUNDS; i++) {
    here.push(await timed(() => local.ok(["ls"])));
    there.push(await timed(() => local.ok(["ls", "-H", "box"])));
    floor.push(
      await timed(() => new Deno.Command(sshTrue[0]!, { args: sshTrue.slice(1) }).output()),
    );
  }
  const idHere = (await local.ok(["new", local.dir])).trim();
  const idThere = (await local.ok(["new", "-H", "box", remote.dir])).trim();
  const eHere = await echo(local, [], idHere);
  const eThere = await echo(local, ["-H", "box"], idThere);
  const f = (n: number) => n.toFixed(1).padStart(7);
  console.log(`bench/remote (${ROUNDS} rounds, ${KEYS} keys; ${new Date().toISOString()})`);
  console.log(`                                  median ms`);
  console.log(`ls, this machine                ${f(median(here))}`);
  console.log(
    `ls -H box (warm ssh)            ${f(median(there))}   ${
      (median(there) / median(here)).toFixed(2)
    }× local`,
  );
  console.log(`ssh box true (warm; the floor)  ${f(median(floor))}`);
  console.log(
    `ls -H box minus the floor       ${
      f(median(there) - median(floor))
    }   (what claude-sessions adds over ssh)`,
  );
  console.log(`                                     p50      p99`);
  console.log(`attach echo, this machine       ${f(pct(eHere, 0.5))}  ${f(pct(eHere, 0.99))}`);
  console.log(`attach echo, -H box             ${f(pct(eThere, 0.5))}  ${f(pct(eThere, 0.99))}`);
} finally {
  await local.cli(["stop-daemon", "-H", "box"]).catch(() => {});
  await sshd.closeMasters(local.dir);
  await sshd.cleanup();
  await local.cli(["stop-daemon"]);
  await remote.cleanup();
  await local.cleanup();
}
