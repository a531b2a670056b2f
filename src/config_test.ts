import assert from "node:assert/strict";
import { ConfigError, defaultConfig, loadConfig, parseConfig } from "./config.ts";

Deno.test("empty or missing config gives the defaults", async () => {
  assert.deepEqual(parseConfig("", "c").config, defaultConfig());
  assert.deepEqual(parseConfig("// only a comment\n", "c").config, defaultConfig());
  const loaded = await loadConfig("/nonexistent/config.jsonc");
  assert.deepEqual(loaded.config, defaultConfig());
  assert.equal(loaded.mtime, null);
});

Deno.test("comments and trailing commas are accepted; values override defaults", () => {
  const { config, warnings } = parseConfig(
    `{
      // the program
      "claude": { "command": "/bin/sh", "args": ["-c", "x"], },
      /* grace */ "kill": { "graceSeconds": 0.5 },
    }`,
    "c",
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.claude.command, "/bin/sh");
  assert.deepEqual(config.claude.args, ["-c", "x"]);
  assert.equal(config.kill.graceSeconds, 0.5);
});

Deno.test("unknown keys are warned with their position, not fatal", () => {
  const { config, warnings } = parseConfig(
    '{\n  "claude": { "comand": "x" },\n  "zzz": 1\n}',
    "/h/c.jsonc",
  );
  assert.equal(config.claude.command, "claude");
  assert.deepEqual(warnings, [
    '/h/c.jsonc:2:15: unknown key "claude.comand" (ignored)',
    '/h/c.jsonc:3:3: unknown key "zzz" (ignored)',
  ]);
});

Deno.test("syntax errors name file, line and column", () => {
  assert.throws(
    () => parseConfig('{\n  "claude": {\n    "command": "x" "y"\n  }\n}', "/h/c.jsonc"),
    (e: unknown) =>
      e instanceof ConfigError && /^\/h\/c\.jsonc:3:20: comma expected$/.test(e.message),
  );
  assert.throws(() => parseConfig("[1]", "c"), /c:1:1: the file must hold a JSON object/);
});

Deno.test("wrongly typed values are errors naming the key and position", () => {
  assert.throws(
    () => parseConfig('{"claude":{"command":5}}', "c"),
    /c:1:22: "claude.command" must be a string/,
  );
  assert.throws(() => parseConfig('{"claude":{"command":""}}', "c"), /must be a non-empty string/);
  assert.throws(
    () => parseConfig('{"claude":{"args":["a",1]}}', "c"),
    /"claude.args" must be an array of strings/,
  );
  assert.throws(() => parseConfig('{"claude":"x"}', "c"), /"claude" must be an object/);
  assert.throws(() => parseConfig('{"kill":{"graceSeconds":-1}}', "c"), /must be at least 0/);
});

Deno.test("notify settings: defaults, overrides, and bad values", () => {
  const d = defaultConfig().notify;
  assert.deepEqual(d, {
    enabled: true,
    on: ["waiting_permission", "waiting_input"],
    command: null,
    timeoutSeconds: 10,
  });
  const { config, warnings } = parseConfig(
    `{"notify": {"enabled": false, "on": ["waiting_permission"], "command": "cat > /tmp/x",
      "timeoutSeconds": 3}}`,
    "c",
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.notify, {
    enabled: false,
    on: ["waiting_permission"],
    command: "cat > /tmp/x",
    timeoutSeconds: 3,
  });
  assert.deepEqual(parseConfig('{"notify": {"on": []}}', "c").config.notify.on, []);
  assert.throws(
    () => parseConfig('{"notify": {"on": ["running"]}}', "c"),
    /c:1:19: "notify.on" takes waiting_permission and waiting_input, not "running"/,
  );
  assert.throws(() => parseConfig('{"notify": {"on": "waiting_input"}}', "c"), /array of strings/);
  assert.throws(() => parseConfig('{"notify": {"timeoutSeconds": 0}}', "c"), /at least 1/);
  assert.throws(() => parseConfig('{"notify": {"command": ""}}', "c"), /non-empty string/);
  assert.throws(() => parseConfig('{"notify": {"enabled": "yes"}}', "c"), /true or false/);
  assert.match(parseConfig('{"notify": {"sound": 1}}', "c").warnings[0]!, /"notify.sound"/);
});

Deno.test("limits and hibernate: sizes, percentages, enums; bad values name the key", () => {
  const { config } = parseConfig(
    `{"limits": {"memory": "2G", "cpu": "150%", "maxLive": 10, "whenFull": "hibernate",
      "enforcement": "daemon"}, "hibernate": {"afterMinutes": 0.5}}`,
    "c.jsonc",
  );
  assert.deepEqual(config.limits, {
    memory: 2 * 1024 ** 3,
    cpu: 150,
    maxLive: 10,
    whenFull: "hibernate",
    enforcement: "daemon",
  });
  assert.equal(config.hibernate.afterMinutes, 0.5);
  const numbers = parseConfig(`{"limits": {"memory": 1048576, "cpu": 50}}`, "c").config.limits;
  assert.equal(numbers.memory, 1048576);
  assert.equal(numbers.cpu, 50);
  const none = parseConfig(`{"limits": {"memory": null, "cpu": null}}`, "c").config.limits;
  assert.equal(none.memory, null);
  assert.equal(none.cpu, null);
  const d = parseConfig("{}", "c").config;
  assert.deepEqual(d.limits, {
    memory: null,
    cpu: null,
    maxLive: 0,
    whenFull: "queue",
    enforcement: "auto",
  });
  assert.equal(d.hibernate.afterMinutes, 0);
  for (
    const [text, re] of [
      [`{"limits": {"memory": "lots"}}`, /c:1:23: "limits.memory" must be a size such as "2G"/],
      [`{"limits": {"memory": 1.5}}`, /"limits.memory" must be a size/],
      [`{"limits": {"cpu": "fast"}}`, /"limits.cpu" must be a percentage of one core/],
      [`{"limits": {"whenFull": "drop"}}`, /"limits.whenFull" must be one of "queue", "hibernate"/],
      [`{"limits": {"maxLive": -1}}`, /"limits.maxLive" must be at least 0/],
      [`{"hibernate": {"afterMinutes": -1}}`, /"hibernate.afterMinutes" must be at least 0/],
      [
        `{"limits": {"enforcement": "magic"}}`,
        /must be one of "auto", "systemd", "cgroup", "daemon"/,
      ],
    ] as const
  ) {
    assert.throws(() => parseConfig(text, "c"), re, text);
  }
});
