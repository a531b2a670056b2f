import assert from "node:assert/strict";
import {
  counter,
  detectGovernance,
  type DetectSource,
  parseHierarchies,
  psTime,
} from "./resources.ts";

const HYBRID_MOUNTINFO = [
  "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
  "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
  "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
  "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
].join("\n");
const HYBRID_SELF = "9:name=systemd:/\n4:memory:/jobs/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

Deno.test("parseHierarchies: v1 controllers and the v2 mount, with this process's place in each", () => {
  const { v2, v1 } = parseHierarchies(HYBRID_MOUNTINFO, HYBRID_SELF);
  assert.deepEqual(v2, { version: 2, mount: "/sys/fs/cgroup/unified", own: "/", controllers: [] });
  assert.equal(v1.get("memory")!.mount, "/sys/fs/cgroup/memory");
  assert.equal(v1.get("memory")!.own, "/jobs/abc");
  assert.equal(v1.get("cpu")!.own, "/");
  assert.equal(v1.has("pids"), false);
  const pure = parseHierarchies(
    "25 20 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate",
    "0::/user.slice/svc.service\n",
  );
  assert.equal(pure.v2!.own, "/user.slice/svc.service");
  assert.equal(pure.v1.size, 0);
});

Deno.test("counter: a key of a flat-keyed cgroup file", () => {
  const events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
  assert.equal(counter(events, "oom_kill"), 1);
  assert.equal(counter(events, "oom"), 2);
  assert.equal(counter(events, "nothing"), null);
  assert.equal(counter(null, "oom_kill"), null);
});

Deno.test("psTime: ps's cumulative CPU time in seconds", () => {
  assert.equal(psTime("0:01.50"), 1.5);
  assert.equal(psTime("02:03.45"), 123.45);
  assert.equal(psTime("1-02:03:04"), 86400 + 7384);
});

/** A fake cgroup file system in a temporary directory. */
async function fakeTree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "cgfake-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

const read = (p: string) => Deno.readTextFileSync(p).trim();

Deno.test("detect: cgroup v2 — the daemon moves to a leaf, enables memory and cpu, bounds each run", async () => {
  const root = await fakeTree({
    "svc/cgroup.controllers": "cpuset cpu io memory pids\n",
    "svc/cgroup.procs": `${Deno.pid}\n`,
    "svc/cgroup.subtree_control": "",
  });
  try {
    const source: DetectSource = {
      mountinfo: `25 20 0:23 / ${root} rw - cgroup2 cgroup2 rw`,
      selfCgroup: "0::/svc\n",
      env: {},
    };
    const gov = detectGovernance("cgroup", source);
    assert.equal(gov.kind, "cgroup_v2");
    assert.equal(read(`${root}/svc/daemon/cgroup.procs`), String(Deno.pid));
    assert.equal(read(`${root}/svc/cgroup.subtree_control`), "+memory +cpu");
    const run = gov.create("ID1", 3, { memory: 1048576, cpu: 150 })!;
    const dir = `${root}/svc/cs-ID1.3`;
    assert.equal(run.dir(null), dir);
    assert.deepEqual(run.join, [`${dir}/cgroup.procs`]);
    assert.deepEqual(run.wrap, []);
    assert.equal(read(`${dir}/memory.max`), "1048576");
    assert.equal(read(`${dir}/memory.swap.max`), "0");
    assert.equal(read(`${dir}/cpu.max`), "150000 100000");
    assert.deepEqual(gov.leftovers(), new Map());
    // (Run directories are named by ULID.)
    const ulid = "01M8K3HWA6688MHHKRG9Y6A6TZ";
    gov.create(ulid, 2, { memory: null, cpu: null });
    assert.deepEqual(gov.leftovers(), new Map([[ulid, [`${root}/svc/cs-${ulid}.2`]]]));
    // The kernel's oom kills: only a SIGKILL of the leader counts.
    await Deno.writeTextFile(`${dir}/memory.events`, "oom 1\noom_kill 1\n");
    assert.equal(run.oomKilled("SIGKILL"), true);
    assert.equal(run.oomKilled("SIGHUP"), false);
    assert.equal(run.oomKilled(null), false);
    await Deno.writeTextFile(`${dir}/memory.events`, "oom 0\noom_kill 0\n");
    assert.equal(run.oomKilled("SIGKILL"), false);
    // No limits: nothing written.
    gov.create("ID2", 1, { memory: null, cpu: null });
    assert.throws(() => Deno.statSync(`${root}/svc/cs-ID2.1/memory.max`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detect: a v2 cgroup shared with other processes is not used, and says why", async () => {
  const root = await fakeTree({
    "shell/cgroup.controllers": "cpu memory\n",
    "shell/cgroup.procs": `1\n${Deno.pid}\n`,
  });
  try {
    const gov = detectGovernance("auto", {
      mountinfo: `25 20 0:23 / ${root} rw - cgroup2 cgroup2 rw`,
      selfCgroup: "0::/shell\n",
      env: {},
    });
    assert.equal(gov.kind, "daemon");
    assert.match(gov.detail, /no user systemd manager \(XDG_RUNTIME_DIR is unset\)/);
    assert.match(gov.detail, /also holds 1 other process\(es\).*Delegate=yes/);
    assert.equal(gov.create("X", 1, { memory: 1, cpu: null }), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detect: cgroup v1 — memory and cpu hierarchies under the daemon's own", async () => {
  const root = await fakeTree({ "memory/job/x": "", "cpu/x": "" });
  try {
    const gov = detectGovernance("cgroup", {
      mountinfo: [
        `32 31 0:29 / ${root}/cpu rw - cgroup cgroup rw,cpu,cpuacct`,
        `35 31 0:32 / ${root}/memory rw - cgroup cgroup rw,memory`,
      ].join("\n"),
      selfCgroup: "4:memory:/job\n1:cpu,cpuacct:/\n",
      env: {},
    });
    assert.equal(gov.kind, "cgroup_v1");
    assert.match(gov.detail, new RegExp(`under ${root}/memory/job and ${root}/cpu`));
    const run = gov.create("ID", 1, { memory: 2048, cpu: 25 })!;
    assert.deepEqual(run.join, [
      `${root}/memory/job/cs-ID.1/cgroup.procs`,
      `${root}/cpu/cs-ID.1/cgroup.procs`,
    ]);
    assert.equal(read(`${root}/memory/job/cs-ID.1/memory.limit_in_bytes`), "2048");
    assert.equal(read(`${root}/memory/job/cs-ID.1/memory.memsw.limit_in_bytes`), "2048");
    assert.equal(read(`${root}/cpu/cs-ID.1/cpu.cfs_quota_us`), "25000");
    assert.equal(read(`${root}/cpu/cs-ID.1/cpu.cfs_period_us`), "100000");
    // v1: the oom_kill counter where the kernel has it, else hitting the limit.
    const mem = `${root}/memory/job/cs-ID.1`;
    await Deno.writeTextFile(`${mem}/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\n");
    await Deno.writeTextFile(`${mem}/memory.failcnt`, "3\n");
    assert.equal(run.oomKilled("SIGKILL"), true);
    await Deno.writeTextFile(`${mem}/memory.failcnt`, "0\n");
    assert.equal(run.oomKilled("SIGKILL"), false);
    await Deno.writeTextFile(`${mem}/memory.oom_control`, "oom_kill_disable 0\noom_kill 2\n");
    assert.equal(run.oomKilled("SIGKILL"), true);
    assert.equal(run.oomKilled("SIGTERM"), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detect: systemd when a user manager answers; asked for and missing, the daemon", async () => {
  const runtime = await Deno.makeTempDir({ prefix: "xdg-" });
  const bin = await Deno.makeTempDir({ prefix: "bin-" });
  await Deno.mkdir(`${runtime}/systemd`);
  const listener = Deno.listen({ transport: "unix", path: `${runtime}/systemd/private` });
  await Deno.writeTextFile(`${bin}/systemd-run`, "#!/bin/sh\n", { mode: 0o755 });
  try {
    const env = { XDG_RUNTIME_DIR: runtime, PATH: `/nonexistent:${bin}` };
    const gov = detectGovernance("auto", { mountinfo: "", selfCgroup: "", env });
    assert.equal(gov.kind, "systemd");
    const run = gov.create("ID", 2, { memory: 1000, cpu: 150 })!;
    assert.deepEqual(run.wrap, [
      "systemd-run",
      "--user",
      "--scope",
      "--quiet",
      "--collect",
      "--unit=claude-sessions-ID-2",
      "-p",
      "MemoryMax=1000",
      "-p",
      "MemorySwapMax=0",
      "-p",
      "CPUQuota=150%",
      "--",
    ]);
    assert.deepEqual(run.join, []);
    const none = detectGovernance("systemd", { mountinfo: "", selfCgroup: "", env: {} });
    assert.equal(none.kind, "daemon");
    assert.match(none.detail, /no user systemd manager/);
    assert.equal(detectGovernance("daemon", { mountinfo: "", selfCgroup: "", env }).kind, "daemon");
  } finally {
    listener.close();
    await Deno.remove(runtime, { recursive: true });
    await Deno.remove(bin, { recursive: true });
  }
});

/** This machine's hierarchies without cgroup v2 (which would move this process), if v1 memory is writable. */
function v1Only(): DetectSource | null {
  try {
    const mountinfo = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .filter((l) => !l.includes(" - cgroup2 ")).join("\n");
    const source = {
      mountinfo,
      selfCgroup: Deno.readTextFileSync("/proc/self/cgroup"),
      env: {},
    };
    return detectGovernance("cgroup", source).kind === "cgroup_v1" ? source : null;
  } catch {
    return null;
  }
}
const V1 = Deno.build.os === "linux" ? v1Only() : null;

Deno.test({
  name: "cgroup v1, for real: a program past its memory limit is killed, and that is seen",
  ignore: V1 === null,
  fn: async () => {
    const gov = detectGovernance("cgroup", V1!);
    const id = `TEST${Deno.pid}`;
    const run = gov.create(id, 1, { memory: 32 * 1024 * 1024, cpu: 50 })!;
    try {
      const out = await new Deno.Command("/bin/sh", {
        args: [
          "-c",
          `echo $$ > "$1" && echo $$ > "$2" && exec perl -e '$x = "x" x (256 << 20); sleep 5'`,
          "sh",
          ...run.join,
        ],
      }).output();
      assert.equal(out.signal, "SIGKILL");
      assert.equal(run.oomKilled(out.signal), true);
      // Empty now: removed.
      assert.equal(run.remove(), true);
      assert.equal(gov.leftovers().has(id), false);
    } finally {
      run.remove();
    }
  },
});
