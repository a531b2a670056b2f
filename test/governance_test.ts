/**
 * End-to-end with stand-in programs: bounding what sessions cost.
 * `limits.maxLive` queues what does not fit and starts it, in order, when a
 * slot frees (also after a daemon restart); a program that allocates past
 * `limits.memory` is stopped — by the kernel in its cgroup where this
 * machine allows one, else by the daemon — with `exitReason: "oom"` in its
 * `exited` event, while the others run on; the session's cgroup contains
 * what escaped its terminal; `status` and `doctor` say how limits are
 * enforced; usage is pushed to subscribers that ask.
 */

import assert from "node:assert/strict";
import { alive, Fifo, RawClient, TestHome } from "./_harness.ts";
import type { DaemonStatus, SessionEvent, SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function records(home: TestHome): Promise<Map<string, SessionRecord>> {
  const list = JSON.parse(await home.ok(["ls", "--all", "--json"])) as SessionRecord[];
  return new Map(list.map((r) => [r.name ?? r.id, r]));
}

async function status(home: TestHome): Promise<DaemonStatus> {
  return JSON.parse(await home.ok(["status", "--json"])) as DaemonStatus;
}

Deno.test(
  "maxLive 2: the third is queued, listed, and starts in order when a slot frees",
  opts,
  async () => {
    const home = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", "exec cat"] },
      limits: { maxLive: 2 },
      kill: { graceSeconds: 1 },
    });
    let daemon = await home.startDaemon();
    try {
      await home.ok(["new", home.dir, "--name", "a"]);
      await home.ok(["new", home.dir, "--name", "b"]);
      const third = await home.cli(["new", home.dir, "--name", "c"]);
      assert.equal(third.code, 0, third.stderr);
      assert.match(
        third.stderr,
        /note: queued \(2 of limits\.maxLive 2 live\): it starts when a slot frees/,
      );
      let r = await records(home);
      assert.equal(r.get("c")!.status, "queued");
      assert.equal(r.get("c")!.pid, null);
      assert.equal(r.get("c")!.runs.length, 0);
      // Shown everywhere: ls (without --all), status.
      assert.match(await home.ok(["ls"]), /c\s+queued \S+\s+-\s+-/);
      const st = await status(home);
      assert.equal(st.sessions.live, 2);
      assert.equal(st.sessions.byStatus.queued, 1);
      assert.match(await home.ok(["status"]), /at most 2 live \(beyond: queue\)/);
      // Nothing can be typed into it yet; a send waits for it (here, until its timeout).
      const input = await home.cli(["send", "c", "--keys", "Enter", "--timeout", "1"]);
      assert.equal(input.code, 124);
      assert.match(input.stderr, /still queued/);

      // a ends: c starts.
      await home.ok(["kill", "a"]);
      await home.ok(["wait", "c", "--until", "running", "--timeout", "30"]);
      r = await records(home);
      assert.equal(r.get("c")!.runs.length, 1);
      assert.equal(r.get("c")!.runs[0]!.resumed, false);
      assert.deepEqual(
        r.get("c")!.history.map((h) => h.status),
        ["queued", "starting", "running"],
      );

      // Queued ones end by kill or rm without a process.
      await home.ok(["new", home.dir, "--name", "d"]);
      assert.match(await home.ok(["kill", "d"]), /d\): killed$/m);
      assert.equal((await records(home)).get("d")!.status, "exited");
      await home.ok(["new", home.dir, "--name", "e"]);
      assert.match(await home.ok(["rm", "e"]), /removed/);

      // In order: f before g.
      await home.ok(["new", home.dir, "--name", "f"]);
      await home.ok(["new", home.dir, "--name", "g"]);
      await home.ok(["kill", "b"]);
      await home.ok(["wait", "f", "--until", "running", "--timeout", "30"]);
      assert.equal((await records(home)).get("g")!.status, "queued");
      // A daemon restart keeps the queue; the next one starts it as slots allow.
      await daemon.stop();
      daemon = await home.startDaemon();
      await home.ok(["wait", "g", "--until", "running", "--timeout", "30"]);
      r = await records(home);
      assert.equal(r.get("c")!.exitReason, "daemon_stopped");
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
);

/** A program that says it is ready, then, on a line of input, allocates up to 512 MiB and waits. */
const ALLOCATE = `$| = 1; print "ready\\n"; my $go = <STDIN>; my @a; ` +
  `for (1 .. 32) { push @a, "x" x (16 << 20); select(undef, undef, undef, 0.05); } sleep 1000;`;

/** A home whose sessions run the allocator, with `config` merged in. */
async function allocatorHome(config: Record<string, unknown>): Promise<TestHome> {
  return await TestHome.create({
    claude: { command: "/usr/bin/perl", args: ["-e", ALLOCATE] },
    kill: { graceSeconds: 1 },
    ...config,
  });
}

/** Runs the memory-limit scenario; returns the victim's record. */
async function overTheLimit(home: TestHome): Promise<{ victim: SessionRecord; log: string }> {
  const daemon = await home.startDaemon();
  const events = await RawClient.connect(home.socket);
  try {
    await events.request("events", {}, "ev");
    await home.ok(["new", home.dir, "--name", "victim", "--size", "80x24"]);
    await home.ok(["new", home.dir, "--name", "bystander", "--size", "80x24"]);
    for (const n of ["victim", "bystander"]) {
      const peek = async () => (await home.ok(["peek", n])).includes("ready");
      const deadline = Date.now() + 30_000;
      // The program printed "ready" (each peek is a round trip, no timer).
      while (!(await peek())) assert.ok(Date.now() < deadline, `${n} never got ready`);
    }
    await home.ok(["send", "victim", "go"]);
    const exited = await events.next(
      (m) =>
        m.type === "event" && (m.event as SessionEvent).event === "exited" &&
        (m.event as SessionEvent).name === "victim",
      60_000,
    );
    const ev = exited.event as SessionEvent;
    assert.equal(ev.exitReason, "oom");
    const r = await records(home);
    assert.equal(r.get("bystander")!.status, "running");
    assert.match(await home.ok(["ls", "--all"]), /victim\s+out of memory/);
    return { victim: r.get("victim")!, log: daemon.log };
  } finally {
    events.close();
    await daemon.stop();
  }
}

/**
 * A session that starts a process which clears its environment, leaves the
 * terminal's session and outlives its parent (it reports its pid to $FIFO):
 * only the session's cgroup still holds it. Then waits on `cat`.
 */
const ESCAPING = `sh -c 'env -i setsid sh -c "printf \\"pid=%s\\nEND\\n\\" \\$\\$ >$FIFO; ` +
  `exec sleep 1000" </dev/null >/dev/null 2>&1 &' && exec cat`;

const probeHome = await TestHome.create({ limits: { memory: "64M" } });
/** How this machine enforces limits (what a daemon here detects). */
const ENFORCEMENT = await (async () => {
  const d = await probeHome.startDaemon();
  try {
    return (await status(probeHome)).resources!.enforcement;
  } finally {
    await d.stop();
    await probeHome.cleanup();
  }
})();
const KERNEL = ENFORCEMENT === "cgroup_v1" || ENFORCEMENT === "cgroup_v2";

Deno.test({
  name: "memory limit, by the kernel: past limits.memory the cgroup kills it (oom); others run on",
  ignore: !KERNEL,
  ...opts,
  fn: async () => {
    const home = await allocatorHome({ limits: { memory: "64M" } });
    try {
      const { victim } = await overTheLimit(home);
      assert.equal(victim.signal, "SIGKILL");
      assert.equal(victim.limits!.memory, 64 * 1024 * 1024);
      assert.equal(victim.limits!.enforcement, ENFORCEMENT);
      assert.equal(victim.runs[0]!.exitReason, "oom");
    } finally {
      await home.cleanup();
    }
  },
});

Deno.test(
  "memory limit, by the daemon: over limits.memory it is stopped (oom); others run on",
  opts,
  async () => {
    const home = await allocatorHome({ limits: { memory: "64M", enforcement: "daemon" } });
    try {
      const { victim, log } = await overTheLimit(home);
      assert.equal(victim.limits!.enforcement, "daemon");
      assert.match(log, /over its memory limit: [\d.]+ MiB of 64\.0 MiB; stopping it/);
      // Stopped gracefully: the hang-up first.
      assert.notEqual(victim.signal, "SIGKILL");
    } finally {
      await home.cleanup();
    }
  },
);

Deno.test({
  name: "cgroup: limits written per run (new --memory/--cpu override); kill stops what escaped",
  ignore: !KERNEL,
  ...opts,
  fn: async () => {
    const home = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", ESCAPING] },
      limits: { memory: "1G", cpu: "50%" },
      kill: { graceSeconds: 1 },
    });
    const fifo = await Fifo.create(home.dir);
    const daemon = await home.startDaemon();
    let escaped = 0;
    try {
      const msg = fifo.read();
      const id = (await home.ok(
        ["new", home.dir, "--memory", "256M", "--cpu", "25%"],
        { env: { FIFO: fifo.path } },
      )).trim();
      escaped = Number((await msg).pid);
      const rec = (await records(home)).get(id)!;
      assert.deepEqual(rec.limits, {
        memory: 256 * 1024 * 1024,
        cpu: 25,
        enforcement: ENFORCEMENT,
      });
      const cg = Deno.readTextFileSync(`/proc/${escaped}/cgroup`);
      const name = `cs-${id}.1`;
      assert.ok(cg.includes(name), `the escaped process is not in ${name}:\n${cg}`);
      const env = Deno.readTextFileSync(`/proc/${escaped}/environ`);
      assert.equal(env.includes("CLAUDE_SESSIONS_ID"), false);
      // The limits, as the kernel has them.
      const memLine = cg.split("\n").find((l) => /^\d+:(memory|):/.test(l))!;
      const st = await status(home);
      const dir = ENFORCEMENT === "cgroup_v1"
        ? `/sys/fs/cgroup/memory${memLine.split(":")[2]}`
        : `${st.resources!.enforcementDetail.match(/under (\S+)/)![1]}/${name}`;
      const limit = Number(
        Deno.readTextFileSync(
          `${dir}/${ENFORCEMENT === "cgroup_v1" ? "memory.limit_in_bytes" : "memory.max"}`,
        ),
      );
      assert.equal(limit, 256 * 1024 * 1024);
      await home.ok(["kill", id]);
      assert.equal(alive(escaped), false, "the process in the session's cgroup survived kill");
      // The run's cgroup is gone with it.
      let gone = false;
      try {
        Deno.statSync(dir);
      } catch {
        gone = true;
      }
      assert.ok(gone, `${dir} was not removed`);
    } finally {
      fifo.close();
      await daemon.stop();
      if (escaped && alive(escaped)) Deno.kill(escaped, "SIGKILL");
      await home.cleanup();
    }
  },
});

Deno.test(
  "ls usage: the first figures at once (CPU since the session started), then figures up to a few seconds old, refreshed behind the answer",
  opts,
  async () => {
    const home = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", "exec cat"] },
    });
    const daemon = await home.startDaemon();
    const c = await RawClient.connect(home.socket);
    try {
      const id = (await home.ok(["new", home.dir, "--name", "u"])).trim();
      const ls = async () => {
        const r = await c.request("ls", { usage: true });
        assert.equal(r.ok, true, JSON.stringify(r));
        const list = (r.result as { sessions: SessionRecord[] }).sessions;
        return list.find((s) => s.id === id)!;
      };
      // The first figures: measured at once, CPU since the session's process
      // started (not over a window waited for).
      const first = await ls();
      assert.ok(first.usage && first.usage.rss > 0 && first.usage.processes === 1);
      assert.notEqual(first.usage.cpu, null);
      assert.equal(first.usage.cpuSince, first.runs.at(-1)!.started);
      // Asked again a little later (past the 100 ms two callers share): the
      // same figures, not a new scan.
      const asked = Date.parse(first.usage.at);
      while (Date.now() - asked < 200) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await ls()).usage!.at, first.usage.at);
      // Figures over a second old answer once more, and bring new ones (in
      // the background): CPU then since the previous measurement.
      const deadline = Date.now() + 20_000;
      let later = first;
      while (later.usage!.at === first.usage.at) {
        assert.ok(Date.now() < deadline, "the figures were never refreshed");
        await new Promise((r) => setTimeout(r, 100));
        later = await ls();
      }
      assert.ok(Date.parse(later.usage!.at) - asked >= 1000, later.usage!.at);
      assert.equal(later.usage!.cpuSince, first.usage.at);
      // brief (what the table asks): the last status change and run only.
      assert.ok(later.history.length >= 2, JSON.stringify(later.history));
      const r = await c.request("ls", { usage: true, brief: true });
      const brief = (r.result as { sessions: SessionRecord[] }).sessions.find((s) => s.id === id)!;
      assert.deepEqual(brief.history, later.history.slice(-1));
      assert.deepEqual(brief.runs, later.runs.slice(-1));
      assert.equal(brief.usage!.at, later.usage!.at);
      const wrong = await c.request("ls", { brief: "yes" });
      assert.equal(wrong.ok, false);
      assert.deepEqual(wrong.error, {
        code: "bad_request",
        message: '"brief" must be true or false',
      });
      // The CLI says the same (--json: the records with their usage).
      const listed = JSON.parse(await home.ok(["ls", "--json"])) as SessionRecord[];
      assert.ok(listed[0]!.usage!.cpuSince);
      assert.match(await home.ok(["ls"]), /u\s+running \S+\s+[\d.]+[KM]\s+\d+%/);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "status, doctor and usage pushes say what sessions use and how limits are enforced",
  opts,
  async () => {
    const home = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", "exec cat"] },
      limits: { memory: "100M", cpu: "150%", enforcement: "daemon" },
      hibernate: { afterMinutes: 60 },
    });
    const daemon = await home.startDaemon();
    const c = await RawClient.connect(home.socket);
    try {
      const id = (await home.ok(["new", home.dir, "--name", "u"])).trim();
      const text = await home.ok(["status"]);
      assert.match(
        text,
        /limits\s+memory 100\.0 MiB, cpu 150% per session; enforced by the daemon \(no cgroup\): config limits\.enforcement is "daemon"/,
      );
      assert.match(text, /hibernate Claude sessions idle 60 min/);
      assert.match(
        text,
        /usage\s+[\d.]+ (KiB|MiB), [\d.]+% CPU in 1 live session\(s\) \(1 processes\); machine: [\d.]+ GiB of [\d.]+ GiB available/,
      );
      const st = await status(home);
      assert.equal(st.resources!.enforcement, "daemon");
      assert.ok(st.resources!.machine.total > st.resources!.machine.available);
      assert.ok(st.resources!.usage.rss > 0);

      // doctor: a CPU limit nothing can enforce fails, with the way out.
      const doc = await home.cli(["doctor", "--only", "limits", "--json"]);
      const check = JSON.parse(doc.stdout).checks[0];
      assert.equal(check.status, "fail");
      assert.match(check.detail, /limits\.cpu is not enforced without a cgroup/);
      assert.match(check.fix, /Delegate=yes/);

      // Usage pushes, while subscribed.
      await c.request("events", { usage: true }, "u");
      const push = await c.next((m) => m.type === "usage", 15_000);
      const usage = (push.sessions as Record<string, { rss: number; processes: number }>)[id]!;
      assert.ok(usage.rss > 0);
      assert.equal(usage.processes, 1);
      // Only a Claude session can be hibernated; only a hibernated one woken.
      const notClaude = await home.cli(["hibernate", "u"]);
      assert.equal(notClaude.code, 1);
      assert.match(notClaude.stderr, /cannot be hibernated: it runs \/bin\/sh, not Claude/);
      const notAsleep = await home.cli(["wake", "u"]);
      assert.equal(notAsleep.code, 1);
      assert.match(notAsleep.stderr, /is not hibernated \(it is running\)/);
      // Bad limits are refused before anything starts.
      const bad = await home.cli(["new", home.dir, "--memory", "lots"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /invalid --memory "lots"/);
      const badCpu = await c.request("new", { cwd: home.dir, env: {}, cpu: -5 });
      assert.equal((badCpu.error as { code: string }).code, "bad_request");
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test({
  name:
    "cgroup: after a daemon SIGKILL, the next one stops what is left in the cgroup and removes it",
  ignore: !KERNEL,
  ...opts,
  fn: async () => {
    const home = await TestHome.create({
      claude: { command: "/bin/sh", args: ["-c", ESCAPING] },
      kill: { graceSeconds: 1 },
    });
    const fifo = await Fifo.create(home.dir);
    const first = await home.startDaemon();
    let escaped = 0;
    try {
      const msg = fifo.read();
      const id = (await home.ok(["new", home.dir], { env: { FIFO: fifo.path } })).trim();
      escaped = Number((await msg).pid);
      const cgroupOf = () =>
        Deno.readTextFileSync(`/proc/${escaped}/cgroup`).split("\n")
          .find((l) => l.includes(`cs-${id}.1`));
      assert.ok(cgroupOf(), "the escaped process is not in the session's cgroup");
      Deno.kill(first.pid, "SIGKILL");
      await first.exited();
      assert.equal(alive(escaped), true);
      const second = await home.startDaemon();
      try {
        assert.equal(alive(escaped), false, "the process left in the cgroup survived");
        assert.match(second.log, new RegExp(`${id}: stopped orphaned processes`));
        const mount = ENFORCEMENT === "cgroup_v1" ? "/sys/fs/cgroup/memory" : null;
        const st = await status(home);
        const base = mount ?? st.resources!.enforcementDetail.match(/under (\S+)/)![1]!;
        const left: string[] = [];
        const walk = (dir: string, depth: number) => {
          for (const e of Deno.readDirSync(dir)) {
            if (!e.isDirectory) continue;
            if (e.name.startsWith(`cs-${id}.`)) left.push(`${dir}/${e.name}`);
            else if (depth < 4) walk(`${dir}/${e.name}`, depth + 1);
          }
        };
        walk(base, 0);
        assert.deepEqual(left, []);
      } finally {
        await second.stop();
      }
    } finally {
      fifo.close();
      if (escaped && alive(escaped)) Deno.kill(escaped, "SIGKILL");
      await home.cleanup();
    }
  },
});
