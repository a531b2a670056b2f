import assert from "node:assert/strict";
import { type CommandSpec, helpText, parse } from "./_args.ts";
import { UsageError } from "./_errors.ts";

const spec: CommandSpec = {
  name: "new",
  usage: "new [DIR] [--name NAME] [-- ARGS…]",
  summary: "Start a session.",
  options: {
    name: { type: "string", short: "n", arg: "NAME", description: "a name" },
    json: { type: "boolean", description: "json" },
  },
  positionals: { min: 0, max: 1, names: "DIR" },
  dashDash: true,
};

Deno.test("parses options, positionals and arguments after --", () => {
  const p = parse(spec, ["dir", "-n", "x", "--json", "--", "--model", "opus", "--"]);
  assert.deepEqual(p.positionals, ["dir"]);
  assert.equal(p.values.name, "x");
  assert.equal(p.values.json, true);
  assert.deepEqual(p.rest, ["--model", "opus", "--"]);
  assert.equal(p.help, false);
});

Deno.test("usage errors are UsageError (exit 2) with a readable message", () => {
  const err = (argv: string[]) => {
    try {
      parse(spec, argv);
    } catch (e) {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      return e.message;
    }
    throw new Error("no error");
  };
  assert.match(err(["--nope"]), /unknown option '--nope'/);
  assert.match(err(["a", "b"]), /unexpected argument "b"/);
  assert.match(err(["--name"]), /option '-n, --name <value>' argument missing/);
  assert.match(err(["--name", "--json"]), /argument is ambiguous/);
  const noDash = { ...spec, dashDash: false };
  assert.throws(() => parse(noDash, ["--", "x"]), /takes no arguments after --/);
});

Deno.test("--help skips positional checks and renders every option", () => {
  const strict = { ...spec, positionals: { min: 1, max: 1, names: "ID" } };
  assert.equal(parse(strict, ["--help"]).help, true);
  const text = helpText(spec);
  assert.match(text, /^Usage: claude-sessions new \[DIR\]/);
  assert.match(text, /-n, --name NAME\s+a name/);
  assert.match(text, /--json\s+json/);
  assert.match(text, /-h, --help\s+show this help/);
});

Deno.test("short options group, take attached or next values, and repeat when multiple", () => {
  const s: CommandSpec = {
    name: "x",
    usage: "x",
    summary: "x",
    options: {
      all: { type: "boolean", short: "a", description: "" },
      json: { type: "boolean", short: "j", description: "" },
      name: { type: "string", short: "n", description: "" },
      tag: { type: "string", short: "t", multiple: true, description: "" },
    },
    positionals: { min: 0, max: 5 },
  };
  const p = parse(s, ["-aj", "-nfoo", "pos", "-t", "1", "--tag=2", "--name=", "-"]);
  assert.equal(p.values.all, true);
  assert.equal(p.values.json, true);
  assert.equal(p.values.name, "");
  assert.deepEqual(p.values.tag, ["1", "2"]);
  assert.deepEqual(p.positionals, ["pos", "-"]);
  assert.throws(() => parse(s, ["-z"]), /unknown option '-z'/);
  assert.throws(() => parse(s, ["--all=yes"]), /does not take an argument/);
  assert.throws(() => parse(s, ["-n"]), /option '-n, --name <value>' argument missing/);
});

Deno.test("signedWords: -WORD is a positional (tag ID +a -b), long options still work", () => {
  const s: CommandSpec = {
    name: "tag",
    usage: "tag",
    summary: "x",
    options: { json: { type: "boolean", description: "" } },
    positionals: { min: 1, max: Infinity },
    signedWords: true,
  };
  const p = parse(s, ["api", "+ci", "-old", "-h", "--json", "-9x"]);
  assert.deepEqual(p.positionals, ["api", "+ci", "-old", "-h", "-9x"]);
  assert.equal(p.values.json, true);
  assert.equal(parse(s, ["api", "--help"]).help, true);
  assert.match(helpText(s), /^ {6}--help +show this help$/m);
  assert.throws(() => parse(s, ["api", "-_x"]), /unknown option '-_'/);
  // Without it, -old is a short option as before.
  assert.throws(() => parse({ ...s, signedWords: false }, ["api", "-old"]), /unknown option '-o'/);
});
