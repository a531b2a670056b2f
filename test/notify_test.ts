/**
 * End-to-end: systemd Type=notify. The daemon sends READY=1 to NOTIFY_SOCKET
 * from its own process once it serves, and STOPPING=1 when it shuts down.
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";
import { NotifySocket } from "./_notify_socket.ts";

Deno.test({
  name: "Type=notify: READY=1 once serving, STOPPING=1 on SIGTERM",
  ignore: Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const home = await TestHome.create();
    const ns = NotifySocket.bind(`${home.dir}/notify.sock`);
    try {
      const d = await home.startDaemon({ NOTIFY_SOCKET: ns.path });
      const ready = await ns.receive();
      assert.match(ready, /^READY=1$/m);
      assert.match(ready, new RegExp(`^STATUS=serving on ${home.socket}$`, "m"));
      // Ready means serving: a client gets an answer now.
      assert.match(await home.ok(["status"]), /running/);
      const stopped = d.stop();
      assert.equal(await ns.receive(), "STOPPING=1");
      assert.equal((await stopped).code, 0);
    } finally {
      ns.close();
      await home.cleanup();
    }
  },
});

Deno.test({
  name: "Type=notify: a relative NOTIFY_SOCKET is a clear start error",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const home = await TestHome.create();
    try {
      const r = await home.cli(["daemon", "--foreground"], { env: { NOTIFY_SOCKET: "relative" } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^claude-sessions: NOTIFY_SOCKET must be an absolute path/);
    } finally {
      await home.cleanup();
    }
  },
});
