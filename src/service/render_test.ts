import assert from "node:assert/strict";
import * as plist from "plist";
import {
  envValue,
  execWord,
  renderLaunchdPlist,
  renderSystemdUnits,
  SERVICE_UNIT,
  SOCKET_UNIT,
} from "./render.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function haveAnalyze(): Promise<boolean> {
  try {
    return (await new Deno.Command("systemd-analyze", { args: ["--version"] }).output()).success;
  } catch {
    return false;
  }
}

/** `systemd-analyze verify --user` on unit files; returns its combined output (empty when clean). */
async function verify(home: string, files: string[]): Promise<{ code: number; output: string }> {
  const runtime = await Deno.makeTempDir({ prefix: "cs-xdg-" });
  try {
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", "--user", ...files],
      env: { HOME: home, XDG_RUNTIME_DIR: runtime, PATH: Deno.env.get("PATH") ?? "" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, output: (dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
  } finally {
    await Deno.remove(runtime, { recursive: true });
  }
}

async function stub(path: string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
}

const input = {
  command: ["/opt/with space/bin/claude-sessions"],
  home: "/home/me/odd 100%/.claude-sessions",
  socket: "/home/me/odd 100%/.claude-sessions/daemon.sock",
  path: "/home/me/.local/bin:/usr/bin:/bin",
};

Deno.test("systemd units: paths substituted and escaped", () => {
  const [socket, service] = renderSystemdUnits(input);
  assert.equal(socket!.name, SOCKET_UNIT);
  assert.equal(service!.name, SERVICE_UNIT);
  assert.match(
    socket!.text,
    /^ListenStream=\/home\/me\/odd 100%%\/\.claude-sessions\/daemon\.sock$/m,
  );
  assert.match(socket!.text, /^SocketMode=0600$/m);
  assert.match(socket!.text, /^DirectoryMode=0700$/m);
  assert.match(
    service!.text,
    /^ExecStart="\/opt\/with space\/bin\/claude-sessions" daemon --foreground$/m,
  );
  assert.match(
    service!.text,
    /^Environment="CLAUDE_SESSIONS_HOME=\/home\/me\/odd 100%%\/\.claude-sessions"$/m,
  );
  assert.match(service!.text, /^Environment="PATH=\/home\/me\/\.local\/bin:\/usr\/bin:\/bin"$/m);
  for (
    const line of [
      "Type=notify",
      "NotifyAccess=main",
      "KillMode=mixed",
      "Delegate=yes",
      "Restart=on-failure",
    ]
  ) {
    assert.match(service!.text, new RegExp(`^${line}$`, "m"));
  }
});

Deno.test("systemd escaping: specifiers, variables, quotes", () => {
  assert.equal(execWord("/usr/bin/deno"), "/usr/bin/deno");
  assert.equal(execWord("a b"), '"a b"');
  assert.equal(execWord("50%"), "50%%");
  assert.equal(execWord("$HOME"), "$$HOME");
  assert.equal(execWord('say "hi"\\'), '"say \\"hi\\"\\\\"');
  assert.equal(envValue("K", 'a"b%'), '"K=a\\"b%%"');
});

Deno.test({
  name: "systemd units: the shipped and the rendered units pass systemd-analyze verify --user",
  ignore: !(await haveAnalyze()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cs-units-" });
    try {
      // As shipped: ExecStart is %h/.local/bin/claude-sessions.
      await stub(`${dir}/.local/bin/claude-sessions`);
      const shipped = [`${ROOT}service/${SOCKET_UNIT}`, `${ROOT}service/${SERVICE_UNIT}`];
      const a = await verify(dir, shipped);
      assert.equal(a.code, 0, a.output);
      assert.equal(a.output, "", "no warnings from the shipped units");

      // Rendered for a program whose path needs quoting.
      const program = `${dir}/with space/bin/claude-sessions`;
      await stub(program);
      const out = `${dir}/units`;
      await Deno.mkdir(out);
      const files = renderSystemdUnits({
        ...input,
        command: [program],
        home: `${dir}/h 1%`,
        socket: `${dir}/h 1%/daemon.sock`,
      });
      for (const f of files) await Deno.writeTextFile(`${out}/${f.name}`, f.text);
      const b = await verify(dir, files.map((f) => `${out}/${f.name}`));
      assert.equal(b.code, 0, b.output);
      assert.equal(b.output, "", "no warnings from the rendered units");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "systemd-analyze verify catches a unit that points at a missing program",
  ignore: !(await haveAnalyze()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cs-units-" });
    try {
      const files = renderSystemdUnits({ ...input, command: [`${dir}/missing`] });
      for (const f of files) await Deno.writeTextFile(`${dir}/${f.name}`, f.text);
      const r = await verify(dir, files.map((f) => `${dir}/${f.name}`));
      assert.notEqual(r.code, 0);
      assert.match(r.output, /missing/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

type Dict = Record<string, unknown>;

Deno.test("launchd plist: the template is a valid property list", async () => {
  const text = await Deno.readTextFile(`${ROOT}service/com.claude-sessions.daemon.plist`);
  const p = plist.parse(text) as Dict;
  assert.equal(p.Label, "com.claude-sessions.daemon");
  assert.equal(p.RunAtLoad, true);
  assert.deepEqual(p.KeepAlive, { SuccessfulExit: false });
  assert.deepEqual(p.ProgramArguments, ["__CLAUDE_SESSIONS__", "daemon", "--foreground"]);
});

Deno.test("launchd plist: rendered, it parses back to exactly the install's values", () => {
  const odd = {
    command: ["/Users/me/<odd> & 'quoted'/deno", "run", "-A", "/Users/me/cs.js"],
    home: "/Users/me/a&b/.claude-sessions",
    socket: "/Users/me/a&b/.claude-sessions/daemon.sock",
    path: "/opt/homebrew/bin:/usr/bin:/bin",
  };
  const f = renderLaunchdPlist(odd);
  assert.equal(f.name, "com.claude-sessions.daemon.plist");
  assert.match(f.text, /^<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN"/m);
  const p = plist.parse(f.text) as Dict;
  assert.deepEqual(p.ProgramArguments, [...odd.command, "daemon", "--foreground"]);
  assert.deepEqual(p.EnvironmentVariables, { CLAUDE_SESSIONS_HOME: odd.home, PATH: odd.path });
  assert.equal(p.StandardOutPath, `${odd.home}/daemon.log`);
  assert.equal(p.StandardErrorPath, `${odd.home}/daemon.log`);
  assert.equal(p.RunAtLoad, true);
  assert.deepEqual(p.KeepAlive, { SuccessfulExit: false });
  assert.doesNotMatch(f.text, /<string>__/);
});

Deno.test("a daemon run from a checkout gets its DENO_DIR in the service files", async () => {
  const { daemonExtraEnv } = await import("./service.ts");
  const env = (k: string) => (k === "DENO_DIR" ? "/ci/odd 100%/deno" : undefined);
  assert.deepEqual(daemonExtraEnv("source", env), { DENO_DIR: "/ci/odd 100%/deno" });
  // The binary and the launcher's bundle carry every module.
  assert.deepEqual(daemonExtraEnv("binary", env), {});
  assert.deepEqual(daemonExtraEnv("launcher", env), {});
  assert.deepEqual(daemonExtraEnv("source", () => undefined), {});
  const withEnv = { ...input, env: daemonExtraEnv("source", env) };
  const [, service] = renderSystemdUnits(withEnv);
  assert.match(service!.text, /^Environment="DENO_DIR=\/ci\/odd 100%%\/deno"$/m);
  const p = plist.parse(renderLaunchdPlist(withEnv).text) as Dict;
  assert.deepEqual(p.EnvironmentVariables, {
    CLAUDE_SESSIONS_HOME: input.home,
    PATH: input.path,
    DENO_DIR: "/ci/odd 100%/deno",
  });
});
