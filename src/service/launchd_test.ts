import assert from "node:assert/strict";
import { LaunchdBackend, parsePrint } from "./launchd.ts";
import type { Runner } from "./_run.ts";

const PRINT = `gui/501/com.claude-sessions.daemon = {
	active count = 1
	path = /Users/me/Library/LaunchAgents/com.claude-sessions.daemon.plist
	state = running
	program = /Users/me/.local/bin/claude-sessions
	pid = 812
	last exit code = (never exited)
}
`;

Deno.test("parsePrint: running agent", () => {
  const st = parsePrint(PRINT);
  assert.equal(st.running, true);
  assert.equal(st.pid, 812);
  assert.equal(st.failed, false);
});

Deno.test("parsePrint: stopped after a failure", () => {
  const st = parsePrint(
    PRINT.replace("state = running", "state = not running").replace("(never exited)", "1"),
  );
  assert.equal(st.running, false);
  assert.equal(st.pid, null);
  assert.equal(st.failed, true);
});

Deno.test("launchd: bootstrap when not loaded, bootout + bootstrap to restart, bootout to stop", async () => {
  const calls: string[] = [];
  let loaded = false;
  const run: Runner = (program, args) => {
    calls.push([program, ...args].join(" "));
    if (args[0] === "print") {
      return Promise.resolve({ code: loaded ? 0 : 113, stdout: loaded ? PRINT : "", stderr: "" });
    }
    if (args[0] === "bootstrap") loaded = true;
    if (args[0] === "bootout") loaded = false;
    return Promise.resolve({ code: 0, stdout: "", stderr: "" });
  };
  const b = new LaunchdBackend("/Users/me", 501, "/Users/me/.claude-sessions/daemon.log", run);
  assert.equal(b.dir, "/Users/me/Library/LaunchAgents");
  await b.start();
  await b.start();
  await b.restart();
  await b.stop();
  const t = "gui/501/com.claude-sessions.daemon";
  const plist = "/Users/me/Library/LaunchAgents/com.claude-sessions.daemon.plist";
  assert.deepEqual(calls, [
    `launchctl print ${t}`,
    `launchctl bootstrap gui/501 ${plist}`,
    `launchctl print ${t}`,
    `launchctl kickstart ${t}`,
    `launchctl print ${t}`,
    `launchctl bootout ${t}`,
    `launchctl bootstrap gui/501 ${plist}`,
    `launchctl print ${t}`,
    `launchctl bootout ${t}`,
  ]);
});
