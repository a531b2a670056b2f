import assert from "node:assert/strict";
import { shellQuote } from "./self.ts";

Deno.test("shellQuote: plain words bare, anything else single-quoted", () => {
  assert.equal(
    shellQuote("/home/me/.local/bin/claude-sessions"),
    "/home/me/.local/bin/claude-sessions",
  );
  assert.equal(shellQuote("a b"), "'a b'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote(""), "''");
  assert.equal(shellQuote("$HOME"), "'$HOME'");
});

const PROBE = `
import { claimLauncher, selfCommand, selfKind, selfShellCommand } from "${
  new URL("./self.ts", import.meta.url).href
}";
claimLauncher();
console.log(JSON.stringify({
  kind: selfKind(),
  command: selfCommand(),
  shell: selfShellCommand(),
  launcherEnv: Deno.env.get("CLAUDE_SESSIONS_LAUNCHER") ?? null,
  unsetEnv: Deno.env.get("CLAUDE_SESSIONS_LAUNCHER_UNSET") ?? null,
  noUpdate: Deno.env.get("DENO_NO_UPDATE_CHECK") ?? null,
}));
`;

async function probe(env: Record<string, string>): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, PROBE);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-config", `${dir}/probe.ts`],
      env,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal(out.code, 0);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the launcher's path is the self command, and leaves the environment", async () => {
  const r = await probe({
    CLAUDE_SESSIONS_LAUNCHER: "/opt/my tools/bin/claude-sessions",
    CLAUDE_SESSIONS_LAUNCHER_UNSET: "DENO_NO_UPDATE_CHECK",
    DENO_NO_UPDATE_CHECK: "1",
  });
  assert.equal(r.kind, "launcher");
  assert.deepEqual(r.command, ["/opt/my tools/bin/claude-sessions"]);
  assert.equal(r.shell, "'/opt/my tools/bin/claude-sessions'");
  assert.equal(r.launcherEnv, null);
  assert.equal(r.unsetEnv, null);
  assert.equal(r.noUpdate, null);
});

Deno.test("from source: deno run -A on the entry module; the user's own variables stay", async () => {
  const r = await probe({ DENO_NO_UPDATE_CHECK: "1" });
  assert.equal(r.kind, "source");
  const cmd = r.command as string[];
  assert.equal(cmd[0], Deno.execPath());
  assert.deepEqual(cmd.slice(1, 4), ["run", "-A", "--quiet"]);
  assert.match(cmd[4]!, /\/probe\.ts$/);
  assert.equal(r.noUpdate, "1");
});
