import assert from "node:assert/strict";
import {
  compareSpool,
  hookCommand,
  hookSettings,
  interpretClaudeState,
  interpretHook,
  mergeSettings,
  parseSpoolName,
  shellQuote,
  wantsHooks,
} from "./hooks.ts";

const ID = "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R";

async function runHook(cmd: string, stdin: string): Promise<Deno.CommandOutput> {
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", cmd],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  return await child.output();
}

Deno.test("the hook command spools stdin whole, prints nothing, exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spool it's " }); // a quote and spaces
  try {
    const payload = JSON.stringify({ hook_event_name: "Stop", big: "x".repeat(1_000_000) });
    const before = BigInt(Date.now()) * 1_000_000n;
    const out = await runHook(hookCommand(dir, ID), payload);
    assert.equal(out.code, 0);
    assert.equal(out.stdout.length, 0);
    assert.equal(out.stderr.length, 0);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.equal(names.length, 1);
    const parsed = parseSpoolName(names[0]!)!;
    assert.equal(parsed.session, ID);
    assert.ok(parsed.ns >= before, "stamped with the current time in ns");
    assert.equal(await Deno.readTextFile(`${dir}/${names[0]}`), payload);
    assert.equal((await Deno.stat(`${dir}/${names[0]}`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the hook command never fails Claude, even with its spool gone", async () => {
  const out = await runHook(hookCommand("/nonexistent/spool", ID), "{}");
  assert.equal(out.code, 0);
  assert.equal(out.stdout.length, 0);
  assert.equal(out.stderr.length, 0);
});

Deno.test("spool names: parse, order, reject temp files", () => {
  const a = parseSpoolName(`1795272576531000000-42-${ID}.hook`)!;
  assert.equal(a.at, 1795272576531);
  assert.equal(a.pid, 42);
  const b = parseSpoolName(`1795272576531000001-7-${ID}.hook`)!;
  assert.ok(compareSpool(a, b) < 0);
  assert.equal(parseSpoolName(`1795272576531000000-42-${ID}.tmp`), null);
  assert.equal(parseSpoolName("junk.hook"), null);
  assert.throws(() => hookCommand("/s", "bad id; rm -rf /"));
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
});

Deno.test("settings register every event and merge with the user's own", () => {
  const ours = hookSettings("CMD");
  assert.deepEqual(Object.keys(ours.hooks).sort(), [
    "Notification",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "PreToolUse",
    "SessionEnd",
    "SessionStart",
    "Stop",
    "StopFailure",
    "SubagentStart",
    "SubagentStop",
    "UserPromptSubmit",
  ]);
  const theirs = {
    model: "opus",
    hooks: { Stop: [{ hooks: [{ type: "command", command: "notify-me" }] }], Custom: [1] },
  };
  const merged = mergeSettings(theirs, ours) as { model: string; hooks: Record<string, unknown[]> };
  assert.equal(merged.model, "opus");
  assert.equal(merged.hooks.Stop!.length, 2);
  assert.deepEqual(merged.hooks.Stop![0], theirs.hooks.Stop[0]);
  assert.deepEqual(merged.hooks.Custom, [1]);
  assert.equal(merged.hooks.PreToolUse!.length, 1);
  assert.deepEqual(mergeSettings({ hooks: "junk" }, ours).hooks, ours.hooks);
});

Deno.test("hook payloads map to statuses", () => {
  const s = (p: Record<string, unknown>) => interpretHook(p).status;
  assert.equal(s({ hook_event_name: "SessionStart" }), "waiting_input");
  assert.equal(s({ hook_event_name: "UserPromptSubmit" }), "running");
  assert.equal(s({ hook_event_name: "PreToolUse" }), "running");
  assert.equal(s({ hook_event_name: "PostToolUse" }), "running");
  assert.equal(s({ hook_event_name: "PostToolUseFailure" }), "running");
  assert.equal(s({ hook_event_name: "PermissionRequest" }), "waiting_permission");
  assert.equal(
    s({ hook_event_name: "Notification", notification_type: "permission_prompt" }),
    "waiting_permission",
  );
  assert.equal(
    s({ hook_event_name: "Notification", notification_type: "elicitation_dialog" }),
    "waiting_permission",
  );
  assert.equal(
    s({ hook_event_name: "Notification", notification_type: "idle_prompt" }),
    "waiting_input",
  );
  assert.equal(s({ hook_event_name: "Notification", notification_type: "auth_success" }), null);
  assert.equal(s({ hook_event_name: "Stop" }), "waiting_input");
  assert.equal(s({ hook_event_name: "StopFailure" }), "waiting_input");
  assert.equal(s({ hook_event_name: "SessionEnd" }), null);
  const stop = interpretHook({
    hook_event_name: "Stop",
    session_id: "conv",
    transcript_path: "/t.jsonl",
    last_assistant_message: "done",
  });
  assert.deepEqual(
    [stop.conversationId, stop.transcriptPath, stop.lastMessage],
    ["conv", "/t.jsonl", "done"],
  );
  assert.equal(
    interpretHook({ hook_event_name: "StopFailure", error: { type: "rate_limit" } }).lastError,
    "rate_limit",
  );
  // A turn that ends normally clears an earlier error.
  assert.equal(interpretHook({ hook_event_name: "Stop" }).lastError, null);
  const ask = interpretHook({
    hook_event_name: "PermissionRequest",
    tool_name: "Bash",
    tool_input: { command: "touch  x\n&& ls", description: "make x" },
  });
  assert.deepEqual(ask.waitingFor, { kind: "permission", tool: "Bash", input: "touch x && ls" });
  assert.equal(
    interpretHook({ hook_event_name: "UserPromptSubmit", prompt: "fix it" }).prompt,
    "fix it",
  );
  // A turn that ends with background agents still running keeps the session running.
  const bg = interpretHook({
    hook_event_name: "Stop",
    background_tasks: [{ id: "a", type: "subagent", status: "running" }, {
      id: "b",
      status: "completed",
    }],
  });
  assert.deepEqual([bg.status, bg.backgroundTasks, bg.detail], [
    "running",
    1,
    "1 background agent",
  ]);
  assert.equal(interpretHook({ hook_event_name: "SubagentStart" }).status, "running");
  assert.equal(interpretHook({ hook_event_name: "SubagentStop" }).status, null);
  // claude 2.1.330's StopFailure: the kind in `error`, its words in last_assistant_message.
  assert.equal(
    interpretHook({
      hook_event_name: "StopFailure",
      error: "server_error",
      last_assistant_message: "API Error: 529 Overloaded. This is a server-side issue.",
    }).lastError,
    "API Error: 529 Overloaded. This is a server-side issue. (server_error)",
  );
  assert.equal(
    interpretHook({ hook_event_name: "StopFailure", error: "unknown" }).lastError,
    "unknown",
  );
});

Deno.test("Claude's state file maps to statuses", () => {
  assert.deepEqual(interpretClaudeState({ status: "busy", statusUpdatedAt: 5, sessionId: "c" }), {
    status: "running",
    at: 5,
    conversationId: "c",
  });
  assert.equal(
    interpretClaudeState({ status: "waiting", waitingFor: "permission prompt", statusUpdatedAt: 1 })
      ?.status,
    "waiting_permission",
  );
  assert.equal(interpretClaudeState({ status: "idle", updatedAt: 9 })?.at, 9);
  assert.equal(interpretClaudeState({ status: "weird" }), null);
});

Deno.test("hooks apply to claude by default", () => {
  assert.equal(wantsHooks("auto", "/usr/local/bin/claude"), true);
  assert.equal(wantsHooks("auto", "claude-beta"), true);
  assert.equal(wantsHooks("auto", "/bin/sh"), false);
  assert.equal(wantsHooks(true, "/bin/sh"), true);
  assert.equal(wantsHooks(false, "claude"), false);
});
