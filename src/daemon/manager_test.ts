import assert from "node:assert/strict";
import { resolveCommand, sessionEnv } from "./manager.ts";

Deno.test("session environment: caller's env plus ours, TERM defaulted", () => {
  const env = sessionEnv(
    {
      PATH: "/bin",
      TERM: "dumb",
      CLAUDECODE: "1",
      LISTEN_FDS: "1",
      KEEP: "me",
      CLAUDE_SESSIONS_ID: "OLD",
    },
    "ID1",
    "/h",
  );
  assert.deepEqual(env, {
    PATH: "/bin",
    TERM: "xterm-256color",
    KEEP: "me",
    CLAUDE_SESSIONS_ID: "ID1",
    CLAUDE_SESSIONS_HOME: "/h",
  });
  assert.equal(sessionEnv({ TERM: "screen-256color" }, "i", "/h").TERM, "screen-256color");
  assert.equal(sessionEnv({}, "i", "/h").TERM, "xterm-256color");
});

Deno.test("commands resolve like execvp", async () => {
  assert.equal(await resolveCommand("sh", "/nonexistent:/bin", "/"), "/bin/sh");
  assert.equal(await resolveCommand("/bin/sh", "", "/"), "/bin/sh");
  assert.equal(await resolveCommand("nope-xyz", "/bin:/usr/bin", "/"), null);
  // Not executable, or a directory.
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/plain`, "x");
  await Deno.mkdir(`${dir}/sub`);
  assert.equal(await resolveCommand("plain", dir, "/"), null);
  assert.equal(await resolveCommand("sub", dir, "/"), null);
  await Deno.chmod(`${dir}/plain`, 0o755);
  assert.equal(await resolveCommand("./plain", "", dir), `${dir}/./plain`);
  await Deno.remove(dir, { recursive: true });
});
