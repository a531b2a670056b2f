import assert from "node:assert/strict";
import { CACHE_MS, cpuPercent, RECENT_MS, REFRESH_MS, UsageSampler } from "./usage.ts";
import type { Proc, Scan } from "./reaper.ts";
import { procRss } from "./_platform.ts";

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

Deno.test("sampler: sums a session's processes; CPU since its start, then since the last measurement; never waits", async () => {
  let now = 10_000_000;
  let ticks: [number, number] = [100, 50];
  const sampler = new UsageSampler({
    ticksPerSecond: 100,
    now: () => now,
    scan: () => fakeScan(now, 4242, ticks, [1000, 24]),
  });
  // The session's process started 3 s ago: its 150 ticks are since then.
  const since = now - 3000;
  const target = { id: "S", since, target: { id: "NO-SUCH-SESSION", sid: 4242, cgroup: null } };
  const first = (await sampler.measure([target])).get("S")!;
  assert.equal(sampler.scans, 1);
  assert.equal(first.rss, 1024);
  assert.equal(first.processes, 2);
  assert.equal(first.cpu, 50); // 150 ticks in 3 s
  assert.equal(first.cpuSince, new Date(since).toISOString());
  assert.equal(first.at, new Date(now).toISOString());
  // Later: since the previous one (one scan).
  const before = now;
  now += 1000;
  ticks = [ticks[0] + 20, ticks[1] + 5];
  const second = (await sampler.measure([target])).get("S")!;
  assert.equal(sampler.scans, 2);
  assert.equal(second.cpu, 25); // 25 ticks over 1 s
  assert.equal(second.cpuSince, new Date(before).toISOString());
  // However long ago the previous one was (said by cpuSince).
  const third = now;
  now += 10 * 60_000;
  ticks = [ticks[0] + 600, ticks[1]];
  const fourth = (await sampler.measure([target])).get("S")!;
  assert.equal(sampler.scans, 3);
  assert.equal(fourth.cpu, 1); // 600 ticks over 10 minutes
  assert.equal(fourth.cpuSince, new Date(third).toISOString());
  // A new run (resumed): the earlier run's measurement is not its; since its start.
  now += 2000;
  ticks = [40, 0];
  const restarted = { ...target, since: now - 1000 };
  const fifth = (await sampler.measure([restarted])).get("S")!;
  assert.equal(fifth.cpu, 40);
  assert.equal(fifth.cpuSince, new Date(now - 1000).toISOString());
  // No start known and no measurement: no CPU figure.
  const unknown = { id: "U", target: { id: "NO-SUCH-SESSION", sid: 4242, cgroup: null } };
  const u = (await sampler.measure([unknown])).get("U")!;
  assert.equal(u.cpu, null);
  assert.equal(u.cpuSince, undefined);
  assert.equal(u.rss, 1024);
});

Deno.test("sampler: callers arriving together share one measurement", async () => {
  const sampler = new UsageSampler({
    ticksPerSecond: 100,
    scan: () => fakeScan(Date.now(), 7, [1, 1], [1, 1]),
  });
  const target = { id: "S", since: Date.now() - 1000, target: { id: "X", sid: 7, cgroup: null } };
  const all = await Promise.all([1, 2, 3, 4].map(() => sampler.measure([target])));
  assert.equal(sampler.scans, 1);
  for (const m of all) assert.equal(m.get("S")!.rss, 2);
});

Deno.test("sampler: with maxAgeMs, recent figures answer at once; older ones bring a measurement in the background", async () => {
  let now = 50_000_000;
  let rss: [number, number] = [1000, 0];
  const sampler = new UsageSampler({
    ticksPerSecond: 100,
    now: () => now,
    scan: () => fakeScan(now, 9, [0, 0], rss),
  });
  const a = { id: "A", since: now - 1000, target: { id: "X", sid: 9, cgroup: null } };
  const recent = { maxAgeMs: RECENT_MS };
  // Nothing measured yet: measured now.
  const m1 = (await sampler.measure([a], recent)).get("A")!;
  assert.equal(sampler.scans, 1);
  assert.equal(m1.rss, 1000);
  // Within REFRESH_MS: the same figures, no scan, none in the background.
  now += CACHE_MS + 1;
  rss = [2000, 0];
  assert.equal((await sampler.measure([a], recent)).get("A")!.rss, 1000);
  await sampler.settled();
  assert.equal(sampler.scans, 1);
  // Older than REFRESH_MS: still answered with them, then measured in the background.
  now += REFRESH_MS;
  const m3 = (await sampler.measure([a], recent)).get("A")!;
  assert.equal(m3.rss, 1000);
  assert.equal(m3.at, m1.at);
  await sampler.settled();
  assert.equal(sampler.scans, 2);
  const m4 = (await sampler.measure([a], recent)).get("A")!;
  assert.equal(m4.rss, 2000);
  assert.equal(m4.at, new Date(now).toISOString());
  assert.equal(sampler.scans, 2);
  // Older than maxAgeMs: measured before answering.
  now += RECENT_MS + 1;
  rss = [3000, 0];
  assert.equal((await sampler.measure([a], recent)).get("A")!.rss, 3000);
  assert.equal(sampler.scans, 3);
  // A session without recent figures (new): all measured before answering.
  const b = { id: "B", since: now - 10, target: { id: "Y", sid: 9, cgroup: null } };
  now += CACHE_MS + 1;
  rss = [4000, 0];
  const both = await sampler.measure([a, b], recent);
  assert.equal(sampler.scans, 4);
  assert.equal(both.get("A")!.rss, 4000);
  // Figures of an earlier run of the session are not served for a new one.
  now += CACHE_MS + 1;
  rss = [5000, 0];
  const resumed = { ...a, since: now - 1 };
  assert.equal((await sampler.measure([resumed], recent)).get("A")!.rss, 5000);
  assert.equal(sampler.scans, 5);
  // Without maxAgeMs (the daemon's own memory enforcement): always fresh.
  now += CACHE_MS + 1;
  rss = [6000, 0];
  assert.equal((await sampler.measure([a])).get("A")!.rss, 6000);
  assert.equal(sampler.scans, 6);
});

Deno.test({
  name: "sampler, for real: a busy session leader uses CPU; its RSS is what /proc says",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // setsid execs in place (this child leads no group): its pid is its session's id.
    const since = Date.now();
    const child = new Deno.Command("setsid", {
      args: ["/bin/sh", "-c", "while :; do :; done"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const sampler = new UsageSampler();
      const target = {
        id: "B",
        since,
        target: { id: "NO-SUCH-ID", sid: child.pid, cgroup: null },
      };
      // Once it has had a tenth of a second of CPU (a shared machine may be slow to give it).
      const deadline = Date.now() + 10_000;
      const ticks = () => {
        const f = Deno.readTextFileSync(`/proc/${child.pid}/stat`).split(") ")[1]!.split(" ");
        return Number(f[11]) + Number(f[12]);
      };
      while (ticks() < 10) {
        assert.ok(Date.now() < deadline, "the busy loop never ran");
        await new Promise((r) => setTimeout(r, 20));
      }
      // The first measurement: since it started, at once.
      const u = (await sampler.measure([target])).get("B")!;
      assert.equal(sampler.scans, 1);
      assert.equal(u.cpuSince, new Date(since).toISOString());
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

Deno.test({
  name: "procRss: a process's resident memory exactly as its status says (VmRSS)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const child = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" })
      .spawn();
    try {
      const vmRss = () =>
        Number(
          /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`))![1],
        ) * 1024;
      // Read between two reads of status that agree (the exec may still be settling).
      const deadline = Date.now() + 10_000;
      while (true) {
        const before = vmRss();
        const ours = procRss(child.pid);
        if (before === vmRss()) {
          assert.equal(ours, before);
          break;
        }
        assert.ok(Date.now() < deadline, "its memory never settled");
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(procRss(999_999_999), null);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});
