import assert from "node:assert/strict";
import { loginShellFinds, profileLine, userShell } from "./login_shell.ts";
import { judgePath } from "./checks.ts";

const noEnv = () => undefined;

/** A temp HOME with an installed program in `~/.local/bin`, not on any PATH yet. */
async function tempHome(): Promise<{ home: string; bin: string; cleanup: () => Promise<void> }> {
  const home = await Deno.makeTempDir({ prefix: "cs-login-" });
  await Deno.mkdir(`${home}/.local/bin`, { recursive: true });
  const bin = `${home}/.local/bin/claude-sessions`;
  await Deno.writeTextFile(bin, "#!/bin/sh\n", { mode: 0o755 });
  return { home, bin, cleanup: () => Deno.remove(home, { recursive: true }) };
}

for (const shell of ["/bin/bash", "/bin/sh"]) {
  Deno.test(`loginShellFinds (${shell}): what a new login shell finds, not this process's PATH`, {
    ignore: !(await Deno.stat(shell).then(() => true, () => false)),
  }, async () => {
    const h = await tempHome();
    try {
      // This process's PATH would find it; a login shell does not.
      const env = (k: string) => (k === "PATH" ? `${h.home}/.local/bin:/usr/bin:/bin` : undefined);
      const before = await loginShellFinds("claude-sessions", { shell, home: h.home, env });
      assert.deepEqual(before, { shell, found: null });
      // The fix doctor prints, applied as printed, makes it found.
      const { file, line } = await profileLine(shell, `${h.home}/.local/bin`, h.home);
      assert.equal(file, "~/.profile");
      assert.equal(line, 'export PATH="$HOME/.local/bin:$PATH"');
      await Deno.writeTextFile(`${h.home}/.profile`, `echo rc noise\n${line}\n`);
      const after = await loginShellFinds("claude-sessions", { shell, home: h.home, env: noEnv });
      assert.deepEqual(after, { shell, found: h.bin });
    } finally {
      await h.cleanup();
    }
  });
}

Deno.test("loginShellFinds: a shell that cannot run is an error, not an answer", async () => {
  const r = await loginShellFinds("claude-sessions", {
    shell: "/nonexistent/shell",
    home: "/",
    env: noEnv,
  });
  assert.ok("error" in r, JSON.stringify(r));
});

Deno.test("userShell: $SHELL, else the password database", async () => {
  assert.equal(await userShell((k) => (k === "SHELL" ? "/bin/zsh" : undefined)), "/bin/zsh");
  const fromDb = await userShell(noEnv);
  assert.ok(fromDb.startsWith("/"), fromDb);
});

Deno.test("profileLine: the file and the exact line per shell", async () => {
  const home = await Deno.makeTempDir();
  try {
    assert.deepEqual(await profileLine("/usr/bin/zsh", `${home}/.local/bin`, home), {
      file: "~/.zshrc",
      line: 'export PATH="$HOME/.local/bin:$PATH"',
    });
    assert.deepEqual(await profileLine("/usr/bin/fish", `${home}/.local/bin`, home), {
      file: "~/.config/fish/config.fish",
      line: "fish_add_path $HOME/.local/bin",
    });
    // A login bash reads ~/.bash_profile instead of ~/.profile when it exists.
    await Deno.writeTextFile(`${home}/.bash_profile`, "");
    assert.equal((await profileLine("/bin/bash", "/opt/cs/bin", home)).file, "~/.bash_profile");
    assert.equal(
      (await profileLine("/bin/bash", "/opt/my tools/bin", home)).line,
      `export PATH='/opt/my tools/bin':"$PATH"`,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("judgePath: the login shell's answer decides; PATH only when it cannot be asked", async () => {
  const h = await tempHome();
  try {
    const shell = "/bin/bash";
    const missing = await judgePath(h.bin, h.home, { shell, found: null }, h.bin);
    assert.equal(missing.status, "fail");
    assert.match(missing.detail, /a new bash login shell does not find claude-sessions/);
    assert.match(missing.fix!, /export PATH="\$HOME\/\.local\/bin:\$PATH"$/);
    const found = await judgePath(h.bin, h.home, { shell, found: h.bin }, null);
    assert.equal(found.status, "ok");
    const other = await judgePath(
      h.bin,
      h.home,
      { shell, found: "/usr/bin/claude-sessions" },
      null,
    );
    assert.equal(other.status, "fail");
    assert.match(other.detail, /finds \/usr\/bin\/claude-sessions before this one/);
    const unasked = await judgePath(h.bin, h.home, { shell, error: "hung" }, h.bin);
    assert.equal(unasked.status, "ok");
    assert.match(unasked.detail, /could not be asked: hung/);
  } finally {
    await h.cleanup();
  }
});
