/**
 * End-to-end: systemd socket activation, emulated by systemd-socket-activate
 * on the real socket path. The first CLI call starts the daemon, which serves
 * the inherited socket and never unlinks it.
 */

import assert from "node:assert/strict";
import { activateDaemon, haveCommand, TestHome } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "socket activation: first ls starts the daemon; the socket is never unlinked",
  ...opts,
  ignore: !(await haveCommand("systemd-socket-activate")),
  fn: async () => {
    const home = await TestHome.create();
    await Deno.chmod(home.dir, 0o700);
    const act = await activateDaemon(home);
    const activator = act.child;
    const stderr = act.stderr;
    try {
      const ino = (await Deno.lstat(home.socket)).ino;
      // Nothing runs yet; the first ls connects, activation execs the daemon.
      const ls = await home.cli(["ls"]);
      assert.equal(ls.code, 0, ls.stderr + stderr.text);
      const st = JSON.parse(await home.ok(["status", "--json"]));
      assert.equal(st.socketActivated, true);
      assert.equal(st.pid, activator.pid, "the daemon replaced the activator (exec)");
      assert.match(await home.ok(["stop-daemon"]), /daemon stopped/);
      const status = await activator.status;
      assert.equal(status.code, 0);
      // The activation socket is still there: the daemon did not unlink it.
      assert.equal((await Deno.lstat(home.socket)).ino, ino);
      assert.match(stderr.text, /socket-activated/);
    } finally {
      await act.stop();
      await home.cleanup();
    }
  },
});
