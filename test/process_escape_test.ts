/**
 * End-to-end: processes that leave the session's terminal still belong to
 * it. `kill`, `rm --force` and the next daemon after a crash stop every
 * process carrying the session's `CLAUDE_SESSIONS_ID` (a `setsid`
 * grandchild, a child that ignores SIGHUP and outlives its leader), and
 * every process of the session's own cgroup where it has one.
 */

import assert from "node:assert/strict";
import { alive, Fifo, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/**
 * A session that starts a `setsid` grandchild (its own session, no terminal,
 * stdio away from the PTY), reports its pid, then waits on `cat`.
 */
const SETSID_SCRIPT = `setsid sh -c 'printf "pid=%s\\nEND\\n" $$ >"$FIFO"; exec sleep 1000' ` +
  `</dev/null >/dev/null 2>&1 & exec cat`;

/** Pids reported by the sessions, killed after each test whatever happened. */
const started: number[] = [];

async function newSession(home: TestHome, fifo: Fifo): Promise<{ id: string; pid: number }> {
  const msg = fifo.read();
  const id = (await home.ok(["new", home.dir], { env: { FIFO: fifo.path } })).trim();
  const pid = Number((await msg).pid);
  started.push(pid);
  return { id, pid };
}

/** A home whose sessions run `script` (with a short kill grace), and a FIFO for their reports. */
async function homeFor(script: string): Promise<{ home: TestHome; fifo: Fifo }> {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", script] },
    kill: { graceSeconds: 1 },
  });
  return { home, fifo: await Fifo.create(home.dir) };
}

/** Kills what a failed test left behind. */
function reapLeftovers(): void {
  for (const pid of started.splice(0)) {
    if (alive(pid)) Deno.kill(pid, "SIGKILL");
  }
}

Deno.test("kill and rm --force stop a setsid grandchild of the session", opts, async () => {
  const { home, fifo } = await homeFor(SETSID_SCRIPT);
  const daemon = await home.startDaemon();
  try {
    const a = await newSession(home, fifo);
    assert.equal(alive(a.pid), true);
    await home.ok(["kill", a.id]);
    assert.equal(alive(a.pid), false, "the setsid grandchild survived kill");

    const b = await newSession(home, fifo);
    await home.ok(["rm", "--force", b.id]);
    assert.equal(alive(b.pid), false, "the setsid grandchild survived rm --force");

    // And at shutdown.
    const c = await newSession(home, fifo);
    assert.equal((await daemon.stop()).code, 0);
    assert.equal(alive(c.pid), false, "the setsid grandchild survived the daemon's stop");
  } finally {
    fifo.close();
    await daemon.stop();
    reapLeftovers();
    await home.cleanup();
  }
});

Deno.test(
  "after a daemon SIGKILL, the next one stops a child that ignores SIGHUP and outlived its leader",
  opts,
  async () => {
    // The child stays in the terminal's session, ignores the hang-up that ends
    // its leader when the PTY goes away, and so is orphaned.
    const script = `sh -c 'trap "" HUP; printf "pid=%s\\nEND\\n" $$ >"$FIFO"; ` +
      `while :; do sleep 1; done' & exec cat`;
    const { home, fifo } = await homeFor(script);
    const first = await home.startDaemon();
    try {
      const s = await newSession(home, fifo);
      const rec = JSON.parse(await home.ok(["ls", "--json"]))[0] as SessionRecord;
      Deno.kill(first.pid, "SIGKILL");
      await first.exited();
      // The leader dies of the hang-up; the child lives on without it.
      const deadline = Date.now() + 10_000;
      while (alive(rec.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(rec.pid!), false, "the leader should have died of the hang-up");
      assert.equal(alive(s.pid), true);

      const second = await home.startDaemon();
      try {
        assert.equal(alive(s.pid), false, "the orphan survived the next daemon's start");
        assert.match(second.log, new RegExp(`${s.id}: stopped orphaned processes`));
        const after = JSON.parse(await home.ok(["ls", "--all", "--json"])) as SessionRecord[];
        assert.equal(after[0]!.exitReason, "daemon_lost");
      } finally {
        await second.stop();
      }
    } finally {
      fifo.close();
      reapLeftovers();
      await home.cleanup();
    }
  },
);

/** A writable cgroup v2 directory for tests, or null (then the cgroup test is skipped). */
function cgroupRoot(): string | null {
  try {
    const line = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .find((l) => l.split(" - ")[1]?.startsWith("cgroup2 "));
    if (!line) return null;
    const mount = line.split(" - ")[0]!.split(" ")[4]!;
    const self = Deno.readTextFileSync("/proc/self/cgroup").split("\n")
      .find((l) => l.startsWith("0::"))?.slice(3);
    if (self === undefined) return null;
    const dir = `${mount}${self === "/" ? "" : self}/cs-test-${Deno.pid}`;
    Deno.mkdirSync(dir);
    Deno.removeSync(dir);
    return `${mount}${self === "/" ? "" : self}`;
  } catch {
    return null;
  }
}

const CGROUP = Deno.build.os === "linux" ? cgroupRoot() : null;

Deno.test({
  name: "in its own cgroup, even a process that cleared its environment and left is stopped",
  ignore: CGROUP === null,
  ...opts,
  fn: async () => {
    const group = `${CGROUP}/cs-test-${Deno.pid}-${Date.now()}`;
    await Deno.mkdir(group);
    // The wrapper moves itself into the session's cgroup (what
    // `systemd-run --scope` does), then starts a process with an empty
    // environment in a new session whose parent exits: only the cgroup
    // ties it to the session.
    const script = `echo $$ >"${group}/cgroup.procs" && ` +
      `sh -c 'env -i setsid sh -c "printf \\"pid=%s\\nEND\\n\\" \\$\\$ >$FIFO; exec sleep 1000" ` +
      `</dev/null >/dev/null 2>&1 &' && exec cat`;
    const { home, fifo } = await homeFor(script);
    const daemon = await home.startDaemon();
    try {
      const s = await newSession(home, fifo);
      const env = await Deno.readTextFile(`/proc/${s.pid}/environ`);
      assert.equal(env.includes("CLAUDE_SESSIONS_ID"), false);
      await home.ok(["kill", s.id]);
      assert.equal(alive(s.pid), false, "the process in the session's cgroup survived kill");
    } finally {
      fifo.close();
      await daemon.stop();
      reapLeftovers();
      await home.cleanup();
      await Deno.remove(group).catch(() => {});
    }
  },
});
