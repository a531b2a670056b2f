/**
 * End-to-end: a client that fell behind (the daemon skipped it ahead) when
 * the program exits still ends on the program's final screen.
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";
import { TermClient } from "./_term.ts";
import { TIMED_OUT, within } from "../src/async.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** ~5 MB of numbered lines, then two last lines, then exit. */
const FLOOD = "echo READY; read x; seq 1 700000 | sed 's/$/ flood-line-padding-padding/'; " +
  "echo LAST-LINE-ONE; echo LAST-LINE-TWO; exit 0";

Deno.test(
  "a client that lags through a 5 MB flood still ends on the final screen",
  opts,
  async () => {
    const h = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c", FLOOD] } });
    const daemon = await h.startDaemon();
    try {
      await h.ok(["new", h.dir, "--name", "flood"]);
      const c = TermClient.spawn(["attach", "flood"], h.env);
      await c.waitForScreen(/READY/);
      // The terminal stops reading: the client blocks writing to it, stops
      // reading the socket, and the daemon skips it ahead.
      c.pty.pause();
      c.type("go\r");
      await h.ok(["wait", "flood", "--until", "exited", "--timeout", "120"]);
      c.pty.resume();
      const st = await within(c.exited, 60_000);
      if (st === TIMED_OUT) {
        await c.kill();
        throw new Error("attach did not end within 60 s of the session's exit");
      }
      assert.equal(st.code, 0);
      assert.match(c.raw, /\[session [0-9A-Z]+ \(flood\) exited \(code 0\)\]/);
      // The screen the client showed when the session ended (it then left
      // its alternate screen): the program's last lines.
      const last = await c.screen.peek({ final: true });
      await c.close();
      assert.match(last, /700000 flood-line-padding-padding\nLAST-LINE-ONE\nLAST-LINE-TWO/);
      // The log has them all.
      const logged = await h.ok(["logs", "flood", "--direction", "output"]);
      assert.match(logged, /699999 flood-line[^\n]*\n700000 flood-line[^\n]*\nLAST-LINE-ONE/);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);
