/**
 * End-to-end: install.sh in a temporary HOME (never the real one).
 *
 * - Installed twice with --no-service: the binary, or where `deno compile`
 *   cannot get denort (offline, no DENORT_BIN) the launcher, works; doctor
 *   passes; sessions run through it.
 * - systemd-socket-activate on the real socket path runs the installed
 *   program: the first `ls` starts the daemon, which never unlinks the socket.
 * - With the service, on a stand-in systemctl that runs the installed units
 *   through systemd-socket-activate: the installed units pass
 *   `systemd-analyze verify --user`, and the daemon runs socket-activated.
 * - --uninstall leaves no files but logs.
 * - A binary installed over a launcher (a stand-in `deno` makes `deno
 *   compile` produce a stand-in binary) keeps the launcher's bundles while a
 *   daemon started from the launcher runs, and removes them after.
 */

import assert from "node:assert/strict";
import { FakeDaemon, haveCommand, ROOT, startActivator } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const denoDir = JSON.parse(
  new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
  ),
).denoDir as string;

interface Run {
  code: number;
  out: string;
}

/** A temporary HOME with a stand-in `claude` and the installed bin dir on PATH. */
class TempHome {
  readonly dir: string;
  readonly env: Record<string, string>;

  private constructor(dir: string, env: Record<string, string>) {
    this.dir = dir;
    this.env = env;
  }

  /**
   * `profile`: the HOME's ~/.profile puts ~/.local/bin on a login shell's
   * PATH (as Debian's default one does), so a new terminal finds the program.
   */
  static async create(
    extraEnv: Record<string, string> = {},
    opts: { profile?: boolean } = {},
  ): Promise<TempHome> {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-i-" });
    await Deno.mkdir(`${dir}/fakebin`);
    await Deno.writeTextFile(`${dir}/fakebin/claude`, '#!/bin/sh\necho "9.9.9 (Claude Code)"\n', {
      mode: 0o755,
    });
    if (opts.profile ?? true) {
      await Deno.writeTextFile(
        `${dir}/.profile`,
        'if [ -d "$HOME/.local/bin" ]; then PATH="$HOME/.local/bin:$PATH"; fi\n',
      );
    }
    const deno = Deno.execPath();
    const env: Record<string, string> = {
      HOME: dir,
      PATH: `${dir}/.local/bin:${dir}/fakebin:${
        deno.slice(0, deno.lastIndexOf("/"))
      }:/usr/bin:/bin`,
      DENO_DIR: denoDir,
      NO_COLOR: "1",
      // The login shell doctor asks what a new terminal finds.
      SHELL: "/bin/bash",
      // The install needs no network: everything comes from the DENO_DIR that
      // install.sh --deps-only primed. A dead proxy proves it (loopback stays direct).
      HTTPS_PROXY: "http://127.0.0.1:9",
      HTTP_PROXY: "http://127.0.0.1:9",
      NO_PROXY: "127.0.0.1,localhost,::1",
      ...extraEnv,
    };
    // The machine's certificate settings, and what the environment of a
    // build needs, pass through.
    for (
      const k of [
        "DENORT_BIN",
        "TMPDIR",
        "LANG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
        "DENO_CERT",
        "DENO_TLS_CA_STORE",
      ]
    ) {
      const v = Deno.env.get(k);
      if (v !== undefined && env[k] === undefined) env[k] = v;
    }
    return new TempHome(dir, env);
  }

  get bin(): string {
    return `${this.dir}/.local/bin/claude-sessions`;
  }

  get socket(): string {
    return `${this.dir}/.claude-sessions/daemon.sock`;
  }

  async run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
    const out = await new Deno.Command(cmd, {
      args,
      env: { ...this.env, ...extraEnv },
      clearEnv: true,
      cwd: this.dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
  }

  install(args: string[]): Promise<Run> {
    return this.run(`${ROOT}install.sh`, args);
  }

  /** Runs the installed program; fails the test unless it exits 0. */
  async cs(args: string[]): Promise<string> {
    const r = await this.run(this.bin, args);
    assert.equal(r.code, 0, `claude-sessions ${args.join(" ")}:\n${r.out}`);
    return r.out;
  }

  /**
   * Every file left under HOME, relative, except the stand-ins (fakebin/),
   * the user's own ~/.profile, and Deno's own cache (a service runs Deno
   * without the test's DENO_DIR).
   */
  async files(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory) await walk(p);
        else out.push(p.slice(this.dir.length + 1));
      }
    };
    await walk(this.dir);
    return out.filter((f) =>
      !f.startsWith("fakebin/") && f !== ".profile" && !f.startsWith(".cache/deno/")
    ).sort();
  }

  async cleanup(): Promise<void> {
    await this.run(this.bin, ["stop-daemon"]).catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** What a good install printed: the program kind, and doctor passing. */
async function assertInstalled(
  h: TempHome,
  r: Run,
  triedCompile = true,
): Promise<"binary" | "launcher"> {
  assert.equal(r.code, 0, r.out);
  const kind = /Installing the binary/.test(r.out) ? "binary" : "launcher";
  if (triedCompile && Deno.env.get("DENORT_BIN")) {
    // With a local denort, deno compile must work: a real single binary.
    assert.equal(kind, "binary", r.out);
    const head = (await Deno.readFile(h.bin)).subarray(0, 4);
    assert.ok(
      head[0] === 0x7f && head[1] === 0x45 || head[0] === 0xcf || head[0] === 0xca,
      "an ELF or Mach-O executable",
    );
  }
  if (kind === "launcher") {
    assert.match(r.out, /Installing the launcher to /, r.out);
    if (triedCompile && !Deno.env.get("DENORT_BIN")) {
      // The fallback is announced in one line.
      assert.match(r.out, /^==> deno compile .*Installing a launcher instead$/m);
    }
    const text = await Deno.readTextFile(h.bin);
    assert.match(text, /^#!\/bin\/sh\n/);
    assert.match(text, /exec "\$deno" run -A --quiet --no-config /);
  }
  assert.match(r.out, /^all checks passed$/m, r.out);
  assert.match(r.out, /^==> Done: claude-sessions \d+\.\d+\.\d+ is installed as /m);
  return kind;
}

Deno.test({
  name: "install.sh --no-service twice; socket activation of the installed program; --uninstall",
  ...opts,
  fn: async (t) => {
    const h = await TempHome.create();
    try {
      await t.step("first install", async () => {
        const r = await h.install(["--no-service"]);
        await assertInstalled(h, r);
        assert.match(r.out, /Skipping the service \(--no-service\)/);
      });

      await t.step("second install upgrades in place", async () => {
        // An idle daemon of an older version runs: the upgrade stops it.
        assert.match(await h.cs(["stop-daemon"]), /daemon stopped/);
        const old = FakeDaemon.start(h.socket, "0.0.9");
        const r = await h.install(["--no-service"]);
        await old.close();
        assert.ok(old.shutdownRequested, r.out);
        assert.match(
          r.out,
          /^ {4}stopped the idle daemon of version 0\.0\.9; the next command starts this version$/m,
        );
        await assertInstalled(h, r);
        assert.match(await h.cs(["--version"]), /^claude-sessions \d+\.\d+\.\d+\n$/);
        // doctor, run alone, passes too (it started the daemon during the install).
        const doc = JSON.parse(await h.cs(["doctor", "--json"]));
        assert.equal(doc.ok, true, JSON.stringify(doc, null, 2));
        const byId = Object.fromEntries(
          doc.checks.map((c: { id: string; status: string }) => [c.id, c.status]),
        );
        for (
          const id of ["program", "path", "claude", "home", "config", "daemon", "hooks", "disk"]
        ) {
          assert.equal(byId[id], "ok", id);
        }
      });

      await t.step("a session runs through the installed program", async () => {
        // Small log files, so archives get compressed (by a worker thread too).
        await Deno.writeTextFile(
          `${h.dir}/.claude-sessions/config.jsonc`,
          '{ "claude": { "command": "sh" }, "log": { "maxBytes": 4096, "keep": 100 } }',
        );
        const id = (await h.cs(["new", h.dir, "--name", "probe", "--", "-c", "exec sleep 600"]))
          .trim();
        await h.cs(["wait", id, "--until", "running", "--timeout", "30"]);
        assert.match(await h.cs(["ls"]), /probe\s+running/);
        await h.cs(["kill", id]);
        // The screen model runs in a worker thread, which the install must ship too.
        const shown = (await h.cs(["new", h.dir, "--", "-c", "echo from-the-installed-program"]))
          .trim();
        await h.cs(["wait", shown, "--until", "exited", "--timeout", "30"]);
        assert.match(await h.cs(["peek", shown]), /from-the-installed-program/);
        const chatty = (await h.cs(["new", h.dir, "--", "-c", "seq 1 3000"])).trim();
        await h.cs(["wait", chatty, "--until", "exited", "--timeout", "60"]);
        // A stopping daemon finishes compressing its archives.
        assert.match(await h.cs(["stop-daemon"]), /daemon stopped/);
        const archives = [...Deno.readDirSync(`${h.dir}/.claude-sessions/logs`)]
          .map((e) => e.name).filter((n) => n.startsWith(chatty));
        assert.ok(archives.some((n) => n.endsWith(".jsonl.gz")), archives.join(" "));
        assert.ok(!archives.some((n) => /\.[2-9]\d*\.jsonl$/.test(n)), archives.join(" "));
        assert.match(await h.cs(["logs", chatty]), /\n3000\r?\n/);
        assert.match(await h.cs(["stop-daemon"]), /daemon stopped|no daemon was running/);
      });

      await t.step({
        name: "systemd-socket-activate runs the installed program on the real socket path",
        ignore: !(await haveCommand("systemd-socket-activate")),
        fn: async () => {
          const act = await startActivator(h.socket, [h.bin, "daemon", "--foreground"], h.env);
          const activator = act.child;
          const stderr = act.stderr;
          try {
            const ino = (await Deno.lstat(h.socket)).ino;
            // Nothing runs yet: the first ls connects, and activation execs the program.
            const ls = JSON.parse(await h.cs(["ls", "--all", "--json"]));
            assert.deepEqual(ls.map((s: { name: string | null }) => s.name), ["probe", null, null]);
            const st = JSON.parse(await h.cs(["status", "--json"]));
            assert.equal(st.socketActivated, true);
            assert.equal(st.pid, activator.pid, "the launcher and daemon exec'd in place");
            assert.match(await h.cs(["stop-daemon"]), /daemon stopped/);
            assert.equal((await activator.status).code, 0);
            assert.equal((await Deno.lstat(h.socket)).ino, ino, "the socket was not unlinked");
            assert.match(stderr.text, /socket-activated/);
          } finally {
            await act.stop();
            await Deno.remove(h.socket).catch(() => {});
          }
        },
      });

      await t.step("--uninstall leaves no files but logs", async () => {
        await Deno.mkdir(`${h.dir}/.claude-sessions/logs`, { recursive: true });
        await Deno.writeTextFile(`${h.dir}/.claude-sessions/logs/01TEST.jsonl`, "{}\n");
        const r = await h.install(["--uninstall"]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /kept: .*logs/);
        const left = await h.files();
        assert.ok(left.length > 0);
        for (const f of left) {
          assert.match(f, /^\.claude-sessions\/(logs\/|daemon\.log)/, `left behind: ${f}`);
        }
        const again = await h.install(["--uninstall"]);
        assert.equal(again.code, 0, again.out);
        const purge = await h.install(["--uninstall", "--purge"]);
        assert.equal(purge.code, 0, purge.out);
        assert.deepEqual(await h.files(), []);
      });
    } finally {
      await h.cleanup();
    }
  },
});

Deno.test({
  name: "install.sh with the service: installed units verify, the daemon is socket-activated",
  ...opts,
  ignore: !(await haveCommand("systemd-socket-activate")),
  fn: async (t) => {
    const state = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-sd-" });
    const h = await TempHome.create({
      CLAUDE_SESSIONS_SERVICE_MANAGER: "systemd",
      FAKE_SYSTEMD_STATE: state,
    });
    // fakebin comes before /usr/bin on PATH.
    await Deno.symlink(`${ROOT}test/fixtures/fake_systemctl.sh`, `${h.dir}/fakebin/systemctl`);
    const units = `${h.dir}/.config/systemd/user`;
    try {
      await t.step("install starts the service", async () => {
        const r = await h.install(["--launcher"]);
        await assertInstalled(h, r, false);
        assert.match(r.out, /wrote .*claude-sessions\.socket/);
        assert.match(r.out, /systemd: the daemon runs \(pid \d+\)/);
        const doc = JSON.parse(await h.cs(["doctor", "--json"]));
        assert.equal(doc.ok, true, JSON.stringify(doc, null, 2));
        const st = JSON.parse(await h.cs(["service", "status", "--json"]));
        assert.equal(st.manager, "systemd");
        assert.equal(st.installed, true);
        assert.equal(st.current, true);
        assert.equal(st.managed, true);
        assert.equal(st.daemon.socketActivated, true);
      });

      await t.step({
        name: "the installed units pass systemd-analyze verify --user",
        ignore: !(await haveCommand("systemd-analyze")),
        fn: async () => {
          const runtime = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-xdg-" });
          try {
            const r = await h.run("systemd-analyze", [
              "verify",
              "--user",
              `${units}/claude-sessions.socket`,
              `${units}/claude-sessions.service`,
            ], { XDG_RUNTIME_DIR: runtime });
            assert.equal(r.code, 0, r.out);
            assert.equal(r.out.trim(), "", r.out);
          } finally {
            await Deno.remove(runtime, { recursive: true });
          }
        },
      });

      await t.step("re-running the install keeps the running daemon", async () => {
        const before = JSON.parse(await h.cs(["status", "--json"])).pid;
        const r = await h.install(["--launcher"]);
        await assertInstalled(h, r, false);
        assert.match(r.out, /is up to date/);
        assert.equal(JSON.parse(await h.cs(["status", "--json"])).pid, before);
      });

      await t.step("service restart gives a new daemon under the service", async () => {
        const before = JSON.parse(await h.cs(["status", "--json"])).pid;
        assert.match(await h.cs(["service", "restart"]), /systemd: the daemon runs/);
        const st = JSON.parse(await h.cs(["status", "--json"]));
        assert.notEqual(st.pid, before);
        assert.equal(st.socketActivated, true);
      });

      await t.step("--uninstall stops the service and removes the units", async () => {
        const r = await h.install(["--uninstall"]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /stopped and disabled the service/);
        const calls = await Deno.readTextFile(`${state}/calls`);
        assert.match(
          calls,
          /^--user disable --now claude-sessions\.socket claude-sessions\.service$/m,
        );
        for (const f of await h.files()) {
          assert.match(f, /^\.claude-sessions\/(logs\/|daemon\.log)/, `left behind: ${f}`);
        }
      });
    } finally {
      await h.cleanup();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "install.sh: Deno in ~/.local/bin, off the login PATH: the warning, and doctor's ✗ with the fix",
  ...opts,
  fn: async () => {
    // No ~/.profile: a new login shell's PATH lacks ~/.local/bin, where Deno
    // landed (install.sh puts it on its own PATH; a new terminal does not).
    const h = await TempHome.create({}, { profile: false });
    try {
      await Deno.mkdir(`${h.dir}/.local/bin`, { recursive: true });
      await Deno.symlink(Deno.execPath(), `${h.dir}/.local/bin/deno`);
      const r = await h.install(["--launcher", "--no-service"]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`^==> Deno found: deno `, "m"));
      const fixLine = 'export PATH="$HOME/.local/bin:$PATH"';
      assert.match(
        r.out,
        /^==> Warning: a new terminal will not run this claude-sessions$/m,
        r.out,
      );
      assert.ok(
        r.out.includes(
          `    a new bash login shell does not find claude-sessions: ${h.dir}/.local/bin`,
        ),
        r.out,
      );
      assert.ok(
        r.out.includes(`add this line to ~/.profile, then open a new terminal: ${fixLine}`),
        r.out,
      );
      assert.doesNotMatch(r.out, /^==> Done/m);
      assert.match(r.out, /^==> Installed as .*, but doctor found problems/m);
      const doc = await h.run(h.bin, ["doctor", "--json"]);
      assert.equal(doc.code, 1, doc.out);
      const path = JSON.parse(doc.out).checks.find((c: { id: string }) => c.id === "path");
      assert.equal(path.status, "fail", doc.out);
      assert.equal(path.fix, `add this line to ~/.profile, then open a new terminal: ${fixLine}`);
      // The fix, applied as printed, satisfies the check.
      await Deno.writeTextFile(`${h.dir}/.profile`, `${fixLine}\n`, { append: true });
      const again = await h.run(h.bin, ["doctor", "--only", "path"]);
      assert.equal(again.code, 0, again.out);
      assert.match(
        again.out,
        /^✓ on PATH +.*\.local\/bin\/claude-sessions \(as a new bash login shell/m,
      );
    } finally {
      await h.cleanup();
    }
  },
});

Deno.test({
  name: "install.sh: a binary install keeps the launcher's bundles while a launcher daemon runs",
  ...opts,
  fn: async (t) => {
    const h = await TempHome.create();
    // A stand-in `deno` (first on PATH) whose `deno task -q compile` "succeeds"
    // with a stand-in binary, a script running the program from source, so
    // that install.sh takes its binary path where deno compile cannot run.
    // Everything else is the real Deno.
    const q = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;
    const binary = `#!/bin/sh\n# stand-in binary (install_test)\nexec ${
      q(Deno.execPath())
    } run -A --quiet ${q(`${ROOT}src/main.ts`)} "$@"\n`;
    await Deno.writeTextFile(
      `${h.dir}/fakebin/deno`,
      `#!/bin/sh
if [ "$*" = "task -q compile" ]; then
  mkdir -p dist && printf '%s' ${q(binary)} >dist/claude-sessions && chmod 755 dist/claude-sessions
  exit
fi
exec ${q(Deno.execPath())} "$@"
`,
      { mode: 0o755 },
    );
    const lib = `${h.dir}/.local/lib/claude-sessions`;
    /** The bundle directories under lib/, and the entry files in each. */
    const bundles = () =>
      [...Deno.readDirSync(lib)].map((e) => e.name).sort().map((d) => {
        const has = (f: string) => Deno.statSync(`${lib}/${d}/${f}`).isFile;
        const entries = [
          "claude-sessions.js",
          "daemon/_screen_worker.js",
          "daemon/_gzip_worker.js",
          "daemon/_pty_reactor_worker.js",
        ];
        return { dir: d, complete: entries.every(has) };
      });
    try {
      await t.step("a launcher install, and its daemon with a live session", async () => {
        // What older installs left, with no daemon started from them: an
        // older version's bundle directory, and the single-file bundles of
        // before bundles were split. They go.
        await Deno.mkdir(`${lib}/0.0.9-1`, { recursive: true });
        for (const f of ["0.0.9-1/claude-sessions.js", "claude-sessions.js"]) {
          await Deno.writeTextFile(`${lib}/${f}`, "// old\n");
        }
        for (const w of ["screen", "gzip", "pty"]) {
          await Deno.writeTextFile(`${lib}/claude-sessions-${w}.js`, "// old\n");
        }
        const r = await h.install(["--launcher", "--no-service"]);
        await assertInstalled(h, r, false);
        const [only, ...more] = bundles();
        assert.deepEqual(more, []);
        assert.match(only!.dir, /^\d+\.\d+\.\d+-\d+$/);
        assert.ok(only!.complete, only!.dir);
        assert.match(
          await Deno.readTextFile(h.bin),
          new RegExp(`/${only!.dir}/claude-sessions\\.js`),
        );
        // Small log files, so archives get compressed, by a worker loaded when first needed.
        await Deno.writeTextFile(
          `${h.dir}/.claude-sessions/config.jsonc`,
          '{ "claude": { "command": "sh" }, "log": { "maxBytes": 4096, "keep": 100 } }',
        );
        const id = (await h.cs(["new", h.dir, "--", "-c", "exec sleep 600"])).trim();
        await h.cs(["wait", id, "--until", "running", "--timeout", "30"]);
      });

      await t.step("the binary install keeps the bundles that daemon still loads", async () => {
        const pid = JSON.parse(await h.cs(["status", "--json"])).pid;
        const r = await h.install(["--no-service"]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /^==> Installing the binary to /m);
        assert.match(
          r.out,
          new RegExp(
            `^==> Keeping the launcher's bundles in .*: a daemon started from the launcher \\(pid ${pid}\\) still runs`,
            "m",
          ),
        );
        // (doctor's claude check fails here: claude.command is sh.)
        assert.match(r.out, /^✓ daemon +pid \d+, version .*, 1 live/m, r.out);
        assert.equal(JSON.parse(await h.cs(["status", "--json"])).pid, pid, "still running");
        assert.equal(bundles().length, 1);
        assert.ok(bundles()[0]!.complete);
        // That daemon loads the log compression worker from its bundle only now.
        const chatty = (await h.cs(["new", h.dir, "--", "-c", "seq 1 3000"])).trim();
        await h.cs(["wait", chatty, "--until", "exited", "--timeout", "60"]);
        assert.match(await h.cs(["peek", chatty]), /\b3000\b/);
        assert.match(await h.cs(["stop-daemon"]), /daemon stopped/);
        const archives = [...Deno.readDirSync(`${h.dir}/.claude-sessions/logs`)]
          .map((e) => e.name).filter((n) => n.startsWith(chatty));
        assert.ok(archives.some((n) => n.endsWith(".jsonl.gz")), archives.join(" "));
        assert.ok(!archives.some((n) => /\.[2-9]\d*\.jsonl$/.test(n)), archives.join(" "));
      });

      await t.step("once that daemon has stopped, the next install removes them", async () => {
        const r = await h.install(["--no-service"]);
        assert.equal(r.code, 0, r.out);
        assert.doesNotMatch(r.out, /Keeping the launcher's bundles/);
        assert.equal(await Deno.stat(lib).then(() => true, () => false), false, "removed");
        assert.match(r.out, /^✓ daemon +started it; pid \d+/m, r.out);
      });
    } finally {
      await h.cleanup();
      // The stand-in binary is no build output: leave none behind.
      const dist = `${ROOT}dist/claude-sessions`;
      const text = await Deno.readTextFile(dist).catch(() => "");
      if (text.includes("stand-in binary (install_test)")) await Deno.remove(dist);
    }
  },
});
