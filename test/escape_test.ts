/**
 * End-to-end: text from outside (a directory name, a config key, a session
 * reference typed by the user) never reaches the terminal raw. Control
 * characters in human-readable output are shown as escapes: an ESC or BEL
 * cannot act on the terminal and a newline cannot split a row.
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const NASTY = "a\x1b]0;owned\x07b\nc\x9bd";
const SHOWN = "a\\e]0;owned\\x07b\\nc\\x9bd";
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

Deno.test("ls, status and error messages escape control characters", opts, async () => {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", "exec sleep 1000"] },
    [`unknown${NASTY}`]: 1,
  });
  const daemon = await home.startDaemon();
  try {
    const dir = `${home.dir}/${NASTY}`;
    await Deno.mkdir(dir);
    const id = (await home.ok(["new", dir])).trim();

    const ls = await home.ok(["ls"]);
    assert.doesNotMatch(ls, RAW_CONTROL, JSON.stringify(ls));
    const lines = ls.trimEnd().split("\n");
    assert.equal(lines.length, 2, "a newline in the directory split the row");
    assert.ok(lines[1]!.endsWith(SHOWN), lines[1]);
    // JSON keeps the exact text.
    assert.equal(JSON.parse(await home.ok(["ls", "--json"]))[0].cwd, dir);

    const st = await home.ok(["status"]);
    assert.doesNotMatch(st, RAW_CONTROL, JSON.stringify(st));
    assert.ok(st.includes(`unknown${SHOWN}`), st);

    const kill = await home.cli(["kill", `nope${NASTY}`]);
    assert.equal(kill.code, 1);
    assert.doesNotMatch(kill.stderr, RAW_CONTROL, JSON.stringify(kill.stderr));
    assert.ok(kill.stderr.includes(`nope${SHOWN}`), kill.stderr);

    const peek = await home.cli(["peek", `nope${NASTY}`]);
    assert.equal(peek.code, 1);
    assert.equal(peek.stderr.trimEnd().split("\n").length, 1, peek.stderr);
    assert.doesNotMatch(peek.stderr, RAW_CONTROL);

    const killed = await home.ok(["kill", id]);
    assert.doesNotMatch(killed, RAW_CONTROL);
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});
