import assert from "node:assert/strict";
import { cpuPercent, MAX_AGE_MS, UsageSampler } from "./usage.ts";
import type { Proc, Scan } from "./reaper.ts";

Deno.test("cpuPercent: CPU time gained over time passed, never negative", () => {
  const at = 1_000_000;
  const t = (ticks: number, ms: number) => ({ ticks, rss: 0, processes: 1, at: at + ms });
  assert.equal(cpuPercent(t(0, 0), t(100, 1000), 100), 100);
  assert.equal(cpuPercent(t(0, 0), t(25, 500), 100), 50);
  assert.equal(cpuPercent(t(0, 0), t(300, 2000), 100), 150);
  // A process that left took its time with it.
  assert.equal(cpuPercent(t(500, 0), t(100, 1000), 100), 0);
  assert.equal(cpuPercent(t(0, 0), t(10, 0), 100), null);
});

/** A scan of made-up processes: the leader `sid` and a child. */
function fakeScan(at: number, sid: number, ticks: [number, number], rss: [number, number]): Scan {
  const p = (pid: number, ppid: number, i: 0 | 1): Proc => ({
    pid,
    ppid,
    pgrp: sid,
    session: sid,
    start: "1",
    ticks: ticks[i],
    rss: rss[i],
  });
  return {
    at,
    procs: new Map([[sid, p(sid, 1, 0)], [sid + 1, p(sid + 1, sid, 1)]]),
    children: new Map([[1, [sid]], [sid, [sid + 1]]]),
  };
}

Deno.test("sampler: sums a session's processes; CPU since the last measurement, else over a window", async () => {
  let now = 10_000_000;
  let ticks: [number, number] = [100, 50];
  const scans: number[] = [];
  const sampler = new UsageSampler({
    ticksPerSecond: 100,
    windowMs: 1,
    scan: () => {
      scans.push(now);
      const s = fakeScan(now, 4242, ticks, [1000, 24]);
      // The window passes 250 ms of made-up time, 25 ticks of work.
      now += 250;
      ticks = [ticks[0] + 20, ticks[1] + 5];
      return s;
    },
  });
  const target = { id: "S", target: { id: "NO-SUCH-SESSION", sid: 4242, cgroup: null } };
  // First: no previous measurement, so two scans, a window apart.
  const first = (await sampler.measure([target])).get("S")!;
  assert.equal(sampler.scans, 2);
  assert.equal(first.rss, 1024);
  assert.equal(first.processes, 2);
  assert.equal(first.cpu, 100); // 25 ticks in 250 ms
  // Later: since the previous one (one scan).
  now += 750; // 1 s after the second scan; 25 more ticks were counted by then
  const second = (await sampler.measure([target])).get("S")!;
  assert.equal(sampler.scans, 3);
  assert.equal(second.cpu, 25); // 25 ticks over 1 s
  // Long ago: a window again.
  now += MAX_AGE_MS + 1;
  await sampler.measure([target]);
  assert.equal(sampler.scans, 5);
});

Deno.test("sampler: callers arriving together share one measurement", async () => {
  let scans = 0;
  const sampler = new UsageSampler({
    ticksPerSecond: 100,
    windowMs: 20,
    scan: () => fakeScan(Date.now() + scans++, 7, [1, 1], [1, 1]),
  });
  const target = { id: "S", target: { id: "X", sid: 7, cgroup: null } };
  const all = await Promise.all([1, 2, 3, 4].map(() => sampler.measure([target])));
  assert.equal(sampler.scans, 2);
  for (const m of all) assert.equal(m.get("S")!.rss, 2);
});

Deno.test({
  name: "sampler, for real: a busy session leader uses CPU; its RSS is what /proc says",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // setsid execs in place (this child leads no group): its pid is its session's id.
    const child = new Deno.Command("setsid", {
      args: ["/bin/sh", "-c", "while :; do :; done"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const sampler = new UsageSampler({ windowMs: 500 });
      const target = { id: "B", target: { id: "NO-SUCH-ID", sid: child.pid, cgroup: null } };
      const u = (await sampler.measure([target])).get("B")!;
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
      assert.equal(u.processes, 1);
      assert.ok(Math.abs(u.rss - rss) <= rss * 0.1, `${u.rss} vs /proc ${rss}`);
      // A busy loop: clearly busy, at most one core (the machine is shared).
      assert.ok(u.cpu !== null && u.cpu > 10 && u.cpu <= 110, `cpu ${u.cpu}`);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});
