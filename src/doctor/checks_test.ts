import assert from "node:assert/strict";
import {
  type Check,
  type DoctorContext,
  formatBytes,
  homeCheck,
  runChecks,
  which,
} from "./checks.ts";
import { formatReports } from "../cli/doctor.ts";
import { paths } from "../paths.ts";

const ctx = {
  paths: paths("/nonexistent-cs-home"),
  env: () => undefined,
} as unknown as DoctorContext;

Deno.test("runChecks: in order; a check that throws fails with its message", async () => {
  const checks: Check[] = [
    { id: "a", title: "first", run: () => Promise.resolve({ status: "ok", detail: "fine" }) },
    { id: "b", title: "second", run: () => Promise.reject(new Error("boom")) },
    { id: "c", title: "third", run: () => Promise.resolve({ status: "skip", detail: "n/a" }) },
  ];
  const r = await runChecks(ctx, checks);
  assert.deepEqual(r.map((x) => [x.id, x.status]), [["a", "ok"], ["b", "fail"], ["c", "skip"]]);
  assert.match(r[1]!.detail, /boom/);
  assert.equal(
    formatReports(r),
    [
      "✓ first   fine",
      "✗ second  check failed: boom",
      "          fix: report this as a bug, with the message",
      "– third   n/a",
    ].join("\n"),
  );
});

Deno.test("which: finds executables only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tool`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/data`, "x", { mode: 0o644 });
    assert.equal(await which("tool", `/nonexistent:${dir}`), `${dir}/tool`);
    assert.equal(await which("data", dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatBytes", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(5 * 1024 ** 3), "5.0 GiB");
});

Deno.test("home check: the fixes it suggests quote the paths for the shell", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const home = `${dir}/it's a home`;
    const q = `'${dir}/it'\\''s a home'`;
    const at = { ...ctx, paths: paths(home) } as DoctorContext;
    await Deno.writeTextFile(home, "");
    const file = await homeCheck.run(at);
    assert.equal(file.status, "fail");
    assert.equal(file.fix, `move it away: mv ${q} '${dir}/it'\\''s a home.old'`);
    await Deno.remove(home);
    await Deno.mkdir(home);
    await Deno.chmod(home, 0o755);
    const loose = await homeCheck.run(at);
    assert.equal(loose.status, "fail");
    assert.equal(loose.detail, `${home} is mode 755: readable by others`);
    assert.equal(loose.fix, `chmod 700 ${q}`);
    // The fix works as printed.
    const sh = await new Deno.Command("/bin/sh", { args: ["-c", loose.fix!] }).output();
    assert.equal(sh.code, 0);
    assert.equal((await homeCheck.run(at)).status, "ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
