import assert from "node:assert/strict";
import {
  type Check,
  type DoctorContext,
  formatBytes,
  homeCheck,
  judgeNotifier,
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

Deno.test("notifier check: says which notifier the daemon uses, and when it cannot work", () => {
  const base = {
    enabled: true,
    on: ["waiting_permission" as const, "waiting_input" as const],
    notifier: "notify-send",
    detail: "/usr/bin/notify-send",
    desktop: true,
    timeoutSeconds: 10,
  };
  assert.deepEqual(judgeNotifier(base, "the daemon uses it"), {
    status: "ok",
    detail: "notify-send (/usr/bin/notify-send), on waiting_permission, waiting_input " +
      "(the daemon uses it)",
  });
  assert.deepEqual(judgeNotifier({ ...base, enabled: false }, "x"), {
    status: "skip",
    detail: "notifications are off (notify.enabled is false)",
  });
  assert.equal(judgeNotifier({ ...base, on: [] }, "x").status, "skip");
  const cmd = judgeNotifier(
    { ...base, notifier: "command", detail: "notify.command: ntfy publish x" },
    "the daemon uses it",
  );
  assert.equal(cmd.status, "ok");
  assert.equal(
    cmd.detail,
    "notify.command: ntfy publish x (on waiting_permission, waiting_input; killed after 10s; " +
      "the daemon uses it)",
  );
  // On a desktop, a notifier that will fail is a failure with a fix.
  const nobus = judgeNotifier({ ...base, problem: "no D-Bus session bus (…)" }, "x");
  assert.equal(nobus.status, "fail");
  assert.match(nobus.detail, /^notify-send \(\/usr\/bin\/notify-send\), but no D-Bus session bus/);
  assert.match(nobus.fix ?? "", /systemctl --user import-environment DBUS_SESSION_BUS_ADDRESS/);
  const none = {
    ...base,
    notifier: null,
    detail: "notify-send is not on the daemon's PATH (/bin)",
  };
  const missing = judgeNotifier(none, "x");
  assert.equal(missing.status, "fail");
  assert.match(missing.fix ?? "", /notify.command/);
  // Without a desktop, there is nothing to show them on: it does not apply, and says what to do.
  const headless = judgeNotifier({ ...none, desktop: false }, "x");
  assert.equal(headless.status, "skip");
  assert.match(headless.detail, /^no desktop session and no notify.command: .*set notify.command/);
  assert.equal(judgeNotifier({ ...base, desktop: false, problem: "no bus" }, "x").status, "skip");
});
