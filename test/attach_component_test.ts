/**
 * End-to-end: attaching as a component (what `watch` does) — a full-screen
 * program attaches, gets the terminal back on detach, attaches again over the
 * same connection, and no keystroke is lost between them.
 */

import assert from "node:assert/strict";
import { ROOT, TestHome } from "./_harness.ts";
import { TermClient } from "./_term.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

for (const old of [false, true]) {
  Deno.test(
    `attach and come back: the caller gets the terminal and every key back (${
      old ? "a daemon without attach.binary: JSON output" : "binary stream"
    })`,
    opts,
    () => attachAndComeBack(old),
  );
}

async function attachAndComeBack(oldDaemon: boolean): Promise<void> {
  const way = oldDaemon ? "json" : "binary";
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: [] } });
  const daemon = await home.startDaemon();
  const id = (await home.ok(["new", home.dir, "--", "-c", "echo HELLO-SESSION; exec cat"]))
    .trim();
  const clients = async () =>
    (JSON.parse(await home.ok(["ls", "--json"])) as SessionRecord[])[0]!.clients;
  const term = TermClient.spawnArgv(
    [
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      `${ROOT}test/fixtures/attach_and_return.ts`,
      home.socket,
      id,
      ...(oldDaemon ? ["--old-daemon"] : []),
    ],
    home.env,
  );
  try {
    await term.waitForScreen(/MENU/);
    term.type("a");
    await term.waitForScreen(/HELLO-SESSION/);
    assert.equal(await clients(), 1);
    term.type("typed-in-1\r");
    await term.waitForScreen(/typed-in-1\n/);
    term.type("\x02d");
    await term.waitForScreen(new RegExp(`BACK 1 detached \\[detached from ${id}\\] \\(${way}\\)`));
    // The keys after the detach are the program's, none lost.
    term.type("x");
    await term.waitForScreen(/KEYS x/);
    term.type("y");
    await term.waitForScreen(/KEYS xy/);
    assert.equal(await clients(), 0);
    // Again, over the same connection: the screen is redrawn as it is.
    term.type("a");
    await term.waitForScreen(/typed-in-1/);
    term.type("typed-in-2\r");
    await term.waitForScreen(/typed-in-2\n/);
    term.type("\x02d");
    await term.waitForScreen(new RegExp(`BACK 2 detached .* \\(${way}\\)`));
    term.type("z");
    await term.waitForScreen(/KEYS xyz/);
    // The session ends while attached: back too, saying so.
    term.type("a");
    await term.waitForScreen(/typed-in-2/);
    await home.ok(["kill", id]);
    await term.waitForScreen(new RegExp(`BACK 3 exited \\[session .* killed.* \\(${way}\\)`));
    term.type("q");
    await term.waitForScreen(/QUIT after 3 attachments; keys: xyz/);
    assert.equal((await term.close()).code, 0);
    const log = await home.ok(["logs", id, "--direction", "input"]);
    // Exactly what was typed while attached: no key meant for the program.
    assert.equal(log, "typed-in-1\rtyped-in-2\r");
  } finally {
    await term.kill().catch(() => {});
    await daemon.stop();
    await home.cleanup();
  }
}
