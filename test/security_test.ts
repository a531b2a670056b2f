/**
 * End-to-end: who may use a daemon and which homes it accepts.
 *
 * - A client running as another user is refused (`forbidden`) even when the
 *   home and the socket were opened up to everyone; the daemon logs it and
 *   the owner is still served.
 * - A home owned by another user (directly or through a symlink), or inside
 *   another user's directory, is refused before anything in it is read or
 *   run; so is a file in it planted by another user.
 *
 * The tests that run a second user need root (they run a client as
 * `nobody` through setpriv) and are ignored otherwise.
 */

import assert from "node:assert/strict";
import { activateDaemon, Fifo, haveCommand, MAIN, RawClient, TestHome } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const NOBODY = 65534;
const asRoot = Deno.build.os === "linux" && Deno.uid() === 0;

/** A scratch directory `nobody` owns, for its HOME and Deno cache. */
async function nobodyDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-nobody-" });
  await Deno.chown(dir, NOBODY, NOBODY);
  return dir;
}

/** Runs argv as `nobody` (setpriv: no groups, no capabilities). */
async function runAsNobody(
  argv: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command("setpriv", {
    args: [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "--inh-caps=-all",
      "--",
      ...argv,
    ],
    env: { PATH: "/usr/bin:/bin", ...env },
    clearEnv: true,
    cwd: "/",
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** The CLI run as `nobody` against `home`. */
function cliAsNobody(home: TestHome, scratch: string, args: string[]) {
  return runAsNobody([Deno.execPath(), "run", "-A", "--quiet", MAIN, ...args], {
    HOME: scratch,
    DENO_DIR: `${scratch}/deno`,
    CLAUDE_SESSIONS_HOME: home.dir,
    NO_COLOR: "1",
  });
}

/** A standalone raw client as `nobody`: prints every line the daemon sends, after sending `lines`. */
async function rawAsNobody(socket: string, scratch: string, lines: string[]) {
  const script = `${scratch}/raw.ts`;
  await Deno.writeTextFile(
    script,
    `const c = await Deno.connect({ transport: "unix", path: ${JSON.stringify(socket)} });
const enc = new TextEncoder();
for (const l of ${JSON.stringify(lines)}) await c.write(enc.encode(l + "\\n")).catch(() => {});
const t = setTimeout(() => { console.log("TIMEOUT"); Deno.exit(3); }, 20000);
let text = "";
for await (const chunk of c.readable) text += new TextDecoder().decode(chunk);
clearTimeout(t);
console.log(text.trim());
`,
  );
  await Deno.chmod(script, 0o644);
  return await runAsNobody(
    [Deno.execPath(), "run", "--no-config", "--no-lock", "-A", "--quiet", script],
    { HOME: scratch, DENO_DIR: `${scratch}/deno` },
  );
}

Deno.test({
  name: "a client running as another user is refused (forbidden, logged); the owner still works",
  ignore: !asRoot,
  ...opts,
  fn: async () => {
    const home = await TestHome.create({
      // Every line typed into the session reaches the FIFO.
      claude: { command: "/bin/sh", args: ["-c", 'stty -echo; exec cat >"$TYPED"'] },
    });
    const daemon = await home.startDaemon();
    const scratch = await nobodyDir();
    const typed = await Fifo.create(home.dir, "typed.fifo");
    try {
      const id = (await home.ok(["new", home.dir, "--name", "victim"], {
        env: { TYPED: typed.path },
      })).trim();
      // Open everything up, as the adversarial run did.
      await Deno.chmod(home.dir, 0o711);
      await Deno.chmod(home.socket, 0o666);

      // The real CLI as nobody: refused, with the reason.
      const r = await cliAsNobody(home, scratch, ["send", "victim", "intruder=cli"]);
      assert.equal(r.code, 1, r.stderr + r.stdout);
      assert.match(r.stderr, /refused/);
      assert.match(r.stderr, /uid 65534/);

      // A raw client as nobody: one error reply (no hello), then the connection closes.
      const raw = await rawAsNobody(home.socket, scratch, [
        JSON.stringify({
          id: 1,
          type: "send",
          session: "victim",
          text: "intruder=raw",
          enter: true,
        }),
        JSON.stringify({ id: 2, type: "ls" }),
      ]);
      assert.equal(raw.code, 0, raw.stderr + raw.stdout);
      const msgs = raw.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(msgs.length, 1, raw.stdout);
      assert.equal(msgs[0].type, "reply");
      assert.equal(msgs[0].ok, false);
      assert.equal(msgs[0].error.code, "forbidden");

      await daemon.waitForLog(/refused a connection from nobody \(uid 65534\)/);

      // The owner is served, and only the owner's text reached the session.
      await home.ok(["send", id, "owner=yes"]);
      await home.ok(["send", id, "END"]);
      assert.deepEqual(await typed.read(), { owner: "yes" });
      const c = await RawClient.connect(home.socket);
      assert.equal((await c.next((m) => m.type === "hello")).type, "hello");
      assert.equal((await c.request("status", {}, 1)).ok, true);
      c.close();
    } finally {
      typed.close();
      await home.ok(["kill", "victim"]).catch(() => {});
      await daemon.stop();
      await home.cleanup();
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "a socket-activated daemon refuses another user's connection too",
  ignore: !asRoot || !(await haveCommand("systemd-socket-activate")),
  ...opts,
  fn: async () => {
    const home = await TestHome.create();
    const scratch = await nobodyDir();
    const act = await activateDaemon(home);
    try {
      assert.equal(JSON.parse(await home.ok(["status", "--json"])).socketActivated, true);
      await Deno.chmod(home.dir, 0o711);
      await Deno.chmod(home.socket, 0o666);
      const raw = await rawAsNobody(home.socket, scratch, [JSON.stringify({ id: 1, type: "ls" })]);
      const msgs = raw.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(msgs.length, 1, raw.stdout + raw.stderr);
      assert.equal(msgs[0].error.code, "forbidden");
      await act.stderr.waitFor(/refused a connection from nobody \(uid 65534\)/);
      assert.equal(JSON.parse(await home.ok(["status", "--json"])).socketActivated, true);
      await home.ok(["stop-daemon"]);
    } finally {
      await act.stop();
      await home.cleanup();
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }
  },
});

/** A config whose program would leave a mark if anything ran it. */
function plantedConfig(marker: string): string {
  return JSON.stringify({ claude: { command: "/bin/sh", args: ["-c", `touch ${marker}`] } });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a home owned by another user is refused, directly or through a symlink; nothing runs",
  ignore: !asRoot,
  ...opts,
  fn: async () => {
    const home = await TestHome.create();
    const marker = `${home.dir}.ran`;
    const link = `${home.dir}-link`;
    try {
      await Deno.writeTextFile(`${home.dir}/config.jsonc`, plantedConfig(marker));
      await Deno.chown(`${home.dir}/config.jsonc`, NOBODY, NOBODY);
      await Deno.chown(home.dir, NOBODY, NOBODY);
      await Deno.chmod(home.dir, 0o700);
      await Deno.symlink(home.dir, link);
      for (const where of [home.dir, link]) {
        for (const args of [["new", "/tmp"], ["daemon"], ["daemon", "--foreground"]]) {
          const r = await home.cli(args, { env: { CLAUDE_SESSIONS_HOME: where } });
          assert.equal(r.code, 1, `${args.join(" ")} in ${where}: ${r.stderr}`);
          assert.match(r.stderr, /is owned by nobody \(uid 65534\), not by you \(root \(uid 0\)\)/);
          assert.match(r.stderr, /CLAUDE_SESSIONS_HOME/);
          assert.doesNotMatch(r.stderr, /internal error/);
        }
      }
      assert.equal(await exists(marker), false, "the planted command ran");
      for (const f of ["daemon.sock", "daemon.log", "daemon.pid", "daemon.lock", "sessions"]) {
        assert.equal(await exists(`${home.dir}/${f}`), false, `${f} was created`);
      }
    } finally {
      await Deno.remove(link).catch(() => {});
      await Deno.remove(marker).catch(() => {});
      await home.cleanup();
    }
  },
});

Deno.test({
  name: "root does not make its home inside another user's directory",
  ignore: !asRoot,
  ...opts,
  fn: async () => {
    const theirs = await nobodyDir();
    try {
      const home = await TestHome.create();
      await home.cleanup();
      const r = await home.cli(["ls"], {
        env: { CLAUDE_SESSIONS_HOME: `${theirs}/.claude-sessions` },
        cwd: "/",
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`inside ${theirs}, which is owned by nobody \\(uid 65534\\)`),
      );
      assert.equal(await exists(`${theirs}/.claude-sessions`), false);
    } finally {
      await Deno.remove(theirs, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "a root-owned 0777 home handed to a user gets a clear message, not a chmod error",
  ignore: !asRoot,
  ...opts,
  fn: async () => {
    const home = await TestHome.create();
    const scratch = await nobodyDir();
    try {
      await Deno.chmod(home.dir, 0o777);
      // The CLI checks before it starts anything. (Run as nobody, the daemon
      // itself cannot load its npm packages offline; src/ownership_test.ts
      // covers its side with another uid.)
      for (const args of [["ls"], ["daemon"]]) {
        const r = await cliAsNobody(home, scratch, args);
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`the home ${home.dir} is owned by root \\(uid 0\\), not by you \\(nobody`),
        );
        assert.doesNotMatch(r.stderr, /internal error|Operation not permitted/);
      }
      assert.deepEqual([...Deno.readDirSync(home.dir)], []);
    } finally {
      await home.cleanup();
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "files another user planted in your home are refused: config stops the daemon, records are skipped",
  ignore: !asRoot,
  ...opts,
  fn: async () => {
    const home = await TestHome.create();
    const marker = `${home.dir}.ran`;
    try {
      await Deno.writeTextFile(`${home.dir}/config.jsonc`, plantedConfig(marker));
      await Deno.chown(`${home.dir}/config.jsonc`, NOBODY, NOBODY);
      const r = await home.cli(["new", "/tmp"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /config\.jsonc is owned by nobody \(uid 65534\)/);
      assert.equal(await exists(marker), false, "the planted command ran");

      // A planted session record: skipped with a warning, never restored.
      await Deno.remove(`${home.dir}/config.jsonc`);
      await Deno.mkdir(`${home.dir}/sessions`, { recursive: true, mode: 0o700 });
      const id = "01HZZZZZZZZZZZZZZZZZZZZZZZ";
      const rec = `${home.dir}/sessions/${id}.json`;
      await Deno.writeTextFile(rec, JSON.stringify({ id, status: "exited", cwd: "/" }));
      await Deno.chown(rec, NOBODY, NOBODY);
      const daemon = await home.startDaemon();
      try {
        await daemon.waitForLog(new RegExp(`skipping .*${id}\\.json: .*owned by nobody`));
        assert.deepEqual(JSON.parse(await home.ok(["ls", "--all", "--json"])), []);
      } finally {
        await daemon.stop();
      }
    } finally {
      await Deno.remove(marker).catch(() => {});
      await home.cleanup();
    }
  },
});
