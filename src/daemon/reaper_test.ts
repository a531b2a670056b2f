import assert from "node:assert/strict";
import { members, SCAN_MAX_MS, SCAN_MS, scanCount, scanNow, terminate } from "./reaper.ts";

const linux = Deno.build.os === "linux";

/** A stand-in session process carrying `CLAUDE_SESSIONS_ID=id`, in its own process group. */
function spawn(id: string, script: string): Deno.ChildProcess {
  return new Deno.Command("/bin/sh", {
    args: ["-c", script],
    env: { CLAUDE_SESSIONS_ID: id, PATH: "/usr/bin:/bin" },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test({
  name: "stopping many sessions at once shares one /proc scan per tick",
  ignore: !linux,
  fn: async () => {
    const n = 20;
    // Half ignore SIGHUP and SIGTERM: they take the whole escalation.
    const kids = Array.from({ length: n }, (_, i) =>
      spawn(
        `REAPTEST${i}`,
        i % 2 ? `trap '' HUP TERM; sleep 1000 & wait; wait` : "sleep 1000 & wait",
      ));
    // Every process (the shell and its sleep) is there before stopping starts.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const s = scanNow();
      if (
        kids.every((_, i) =>
          members(s, { id: `REAPTEST${i}`, sid: null, cgroup: null }).length === 2
        )
      ) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = scanCount();
    const t0 = Date.now();
    const counts = await Promise.all(kids.map((k, i) =>
      terminate(
        { id: `REAPTEST${i}`, sid: null, cgroup: null },
        200,
        k.status.then(() => {}),
      )
    ));
    const elapsed = Date.now() - t0;
    const scans = scanCount() - before;
    for (const k of kids) assert.notEqual((await k.status).code, 0);
    const left = scanNow();
    for (let i = 0; i < n; i++) {
      assert.equal(counts[i], 2, `session ${i}: the shell and its sleep`);
      assert.deepEqual(members(left, { id: `REAPTEST${i}`, sid: null, cgroup: null }), []);
    }
    // One scan per tick for all twenty, not one per session.
    assert.ok(
      scans <= elapsed / SCAN_MS + 2,
      `${scans} scans in ${elapsed} ms for ${n} sessions (tick ${SCAN_MS} ms)`,
    );
  },
});

Deno.test({
  name: "members: by environment and by descent, never the daemon or its ancestors",
  ignore: !linux,
  fn: async () => {
    // A child that clears its environment is found through its parent.
    const k = spawn("REAPTEST-DESC", "env -i sleep 1000 & wait");
    try {
      const deadline = Date.now() + 10_000;
      let found: number[] = [];
      while (Date.now() < deadline) {
        found = members(scanNow(), { id: "REAPTEST-DESC", sid: null, cgroup: null });
        if (found.length === 2) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(found.length, 2);
      assert.ok(found.includes(k.pid));
      // Our own session id matches the test process and its ancestors: never listed.
      const self = scanNow().procs.get(Deno.pid)!;
      const own = members(scanNow(), { id: "none", sid: self.session, cgroup: null });
      assert.equal(own.includes(Deno.pid), false);
      assert.equal(own.includes(self.ppid), false);
    } finally {
      await terminate(
        { id: "REAPTEST-DESC", sid: null, cgroup: null },
        100,
        k.status.then(() => {}),
      );
    }
  },
});

Deno.test({
  name: "processes that hold on after a signal are scanned for less and less often",
  ignore: !linux,
  fn: async () => {
    const id = "REAPTEST-BACKOFF";
    const k = spawn(id, `trap '' HUP TERM; sleep 1000 & wait; wait`);
    const deadline = Date.now() + 10_000;
    while (members(scanNow(), { id, sid: null, cgroup: null }).length < 2) {
      assert.ok(Date.now() < deadline, "the stand-in started");
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = scanCount();
    const t0 = Date.now();
    // SIGHUP and SIGTERM are ignored: 2 × 800 ms of waiting, then SIGKILL.
    const n = await terminate({ id, sid: null, cgroup: null }, 800, k.status.then(() => {}));
    const elapsed = Date.now() - t0;
    const scans = scanCount() - before;
    assert.equal(n, 2);
    assert.deepEqual(members(scanNow(), { id, sid: null, cgroup: null }), []);
    assert.ok(elapsed >= 1600, `${elapsed} ms: both graces were waited`);
    // A scan every SCAN_MS would be ~64 here; backing off to SCAN_MAX_MS, about 8 a phase.
    assert.ok(
      scans <= elapsed / SCAN_MAX_MS + 16,
      `${scans} scans in ${elapsed} ms (every ${SCAN_MS} ms would be ${elapsed / SCAN_MS})`,
    );
  },
});
