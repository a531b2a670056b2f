/**
 * End-to-end: `watch` across machines, on a terminal the test owns, with a
 * real OpenSSH server on 127.0.0.1 (`test/_sshd.ts`) in front of a daemon in
 * its own home (`box`), and this machine's daemon (`local`): one table with
 * a HOST column, actions that reach the selected row's host (send, preview,
 * attach, kill, new), a wait there notified here, the ssh host going away
 * while local rows keep updating; and `watch -H box`.
 */

import assert from "node:assert/strict";
import { spoolHook, type TestHome } from "./_harness.ts";
import { HAVE_SSHD, twoMachines } from "./_sshd.ts";
import { assertRestored, startWatch } from "./_watch.ts";
import type { SessionRecord } from "../src/protocol.ts";
import type { HostConfig } from "../src/config.ts";

const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !HAVE_SSHD };

/** Echoes each line it reads, numbered. */
const ECHO = 'stty -echo; echo READY; n=0; while read l; do n=$((n+1)); echo "got$n:$l"; done';

/** A local home whose config names `box` (and `more`): a daemon in its own home behind an sshd. */
function setup(more: Record<string, HostConfig> = {}) {
  return twoMachines({ claude: { command: "/bin/sh" } }, { hosts: more });
}

async function records(h: TestHome): Promise<SessionRecord[]> {
  return JSON.parse(await h.ok(["ls", "--all", "--json"]));
}

Deno.test(
  "watch --hosts all: both machines in one table; actions reach the row's host; a wait there is notified here; the ssh host lost, local rows go on",
  opts,
  async () => {
    const t = await setup();
    try {
      await t.local.ok(["new", t.local.dir, "--name", "here", "--", "-c", ECHO]);
      const there = (await t.box(["new", t.remote.dir, "--name", "there", "--", "-c", ECHO]))
        .trim();
      await t.box(["new", t.remote.dir, "--name", "victim", "--", "-c", "exec sleep 600"]);
      const asker =
        (await t.box(["new", t.remote.dir, "--name", "asker", "--", "-c", "exec sleep 600"]))
          .trim();

      const w = startWatch({ ...t.local.env, TERM: "xterm-256color" }, { cols: 160, rows: 30 }, [
        "--hosts",
        "all",
      ]);
      let screen = await w.waitForScreen(/box +\w+ +victim +running/, 60_000);
      assert.match(screen, /^claude-sessions watch {2}4 sessions · /);
      assert.match(screen, /\n {2}HOST +ID +NAME +STATUS +FOR +MEM +CPU +DIR +TAGS +WAITING/);
      assert.match(screen, /\n[> ] local +\w+ +here +running/);
      assert.match(screen, /\n[> ] box +\w+ +there +running/);
      // Usage comes from both daemons' pushes.
      await w.waitForScreen(/box +\w+ +there +running +\d+s +\d[\d.]*[KMG] +\d+%/);

      // s sends to the session there; the preview (peek) is of its screen there.
      w.type("/there\r");
      await w.waitForScreen(/> box +\w+ +there +running/);
      w.type("s");
      await w.waitForScreen(/send to box\/\w+ \(there\): *$/m);
      w.type("via watch\r");
      await w.waitForScreen(/sent to box\/\w+ \(there\): typed/);
      w.type("p");
      await w.waitForScreen(/── box · \w+ \(there\) · running ─+\n(?:.*\n)*got1:via watch/);
      w.type("p");

      // Enter attaches over box's own connection; Ctrl-B d comes back.
      w.type("\r");
      await w.waitForScreen(/^READY\s+got1:via watch/, 30_000);
      w.type("typed there\r");
      await w.waitForScreen(/got2:typed there/);
      w.type("\x02d");
      await w.waitForScreen(/\[detached from \w+ \(there\)\]/);
      assert.match(await t.box(["peek", "there"]), /got2:typed there/);

      // k y kills the session there.
      w.type("/\x15victim\r");
      await w.waitForScreen(/> box +\w+ +victim +running/);
      w.type("k");
      await w.waitForScreen(/kill box\/\w+ \(victim\)\? \(y\/N\)/);
      w.type("y");
      await w.waitForScreen(/box\/\w+ \(victim\): killed/);
      const victim = (await records(t.remote)).find((r) => r.name === "victim")!;
      assert.equal(victim.status, "exited");
      assert.equal(victim.exitReason, "killed");
      w.type("\x1b");

      // A permission wait there (as its hook tells it): on top, and a terminal notification here, named box/….
      await spoolHook(`${t.remote.dir}/spool`, asker, BigInt(Date.now()) * 1_000_000n, {
        hook_event_name: "PermissionRequest",
        tool_name: "Bash",
        tool_input: { command: "make deploy" },
      });
      await w.waitForScreen(
        /MESSAGE\n[> ] box +\w+ +asker +waiting_permission +[^\n]*Bash: make deploy\n/,
      );
      await w.waitForRaw(
        /\x07\x1b\]9;box\/asker: waiting for permission: Waiting for permission to use Bash: make deploy/,
      );

      // N asks which host (the selected row's), then where: a session there.
      w.type("\x1b[H");
      await w.waitForScreen(/> box +\w+ +asker/);
      w.type("N");
      await w.waitForScreen(/new session on \(local, box\): box *$/m);
      w.type("\r");
      await w.waitForScreen(/new session on box in: ~ *$/m);
      w.type("\x15relative\r");
      await w.waitForScreen(/nothing started: the directory on box must be absolute/);
      w.type("N\r\x15" + t.remote.dir + "\r");
      await w.waitForScreen(/started box\/\w+ in /);
      await w.waitForScreen(/> box +\w+ +- +running/);
      assert.equal((await records(t.remote)).length, 4);
      assert.equal((await records(t.local)).length, 1);

      // The ssh host goes away: said so, its rows kept and marked; local ones go on.
      await t.sshd.stop();
      screen = await w.waitForScreen(/box unreachable, reconnecting: /, 60_000);
      assert.match(screen, /\n[> ] box +\w+ +there +running +[^\n]*unreachable/);
      await t.local.ok(["new", t.local.dir, "--name", "later", "--", "-c", ECHO]);
      await w.waitForScreen(/\n[> ] local +\w+ +later +running/);
      await t.local.ok(["kill", "here"]);
      await w.waitForScreen(/^(?![\s\S]*\bhere\b)[\s\S]*later/);
      // An action on a row there says why it cannot.
      w.type("/\x15there\r");
      await w.waitForScreen(/> box +\w+ +there/);
      w.type("ky");
      await w.waitForScreen(/box is unreachable \(reconnecting\)/);
      assert.equal((await records(t.remote)).find((r) => r.id === there)!.status, "running");

      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 160, 30);
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test(
  "watch --hosts: a host that hangs or runs no daemon holds up nothing (and none is started); watch -H box: that machine's sessions, its daemon started as by any command",
  opts,
  async () => {
    // A host whose ssh never gets an answer (ssh gives up after its ConnectTimeout, 10 s).
    const t = await setup({
      hang: { url: "ssh://nobody@hang.invalid", ssh: ["-o", "ProxyCommand=sleep 600"] },
    });
    try {
      await t.local.ok(["new", t.local.dir, "--name", "mine", "--", "-c", "exec sleep 600"]);
      // No daemon on box: --hosts says so and leaves it stopped; local rows show meanwhile.
      const listing = startWatch(t.local.env, { cols: 200, rows: 20 }, ["--hosts", "all"]);
      // Local rows at once, while hang is still being reached (ssh waits 10 s for it).
      let screen = await listing.waitForScreen(/\n> local +\w+ +mine +running/, 60_000);
      assert.match(screen, /hang connecting…/);
      await listing.waitForScreen(/\n {2}box unreachable, reconnecting: .*no daemon/, 60_000);
      screen = await listing.waitForScreen(
        /\n {2}hang unreachable, reconnecting: .*timed out/,
        60_000,
      );
      assert.match(screen, /\n> local +\w+ +mine +running/);
      listing.type("q");
      assert.equal((await listing.close()).code, 0);
      assert.equal(await Deno.stat(t.remote.socket).then(() => true, () => false), false);

      // -H starts it, as any command; the table is box's alone.
      const w = startWatch(t.local.env, { cols: 140, rows: 20 }, ["-H", "box"]);
      await w.waitForScreen(/no sessions — N starts one/, 60_000);
      w.type("N");
      await w.waitForScreen(/new session on box in: ~ *$/m);
      w.type("\x15" + t.remote.dir + "\r");
      screen = await w.waitForScreen(/> \w+ +- +running/);
      assert.match(screen, /\n {2}ID +NAME +STATUS/);
      // The row comes with the event, the message with the reply: either may be first.
      await w.waitForScreen(/started \w+ in /);
      const [rec] = await records(t.remote);
      assert.equal(rec!.cwd, await Deno.realPath(t.remote.dir));
      w.type("k");
      await w.waitForScreen(/kill \w+\? \(y\/N\)/);
      w.type("y");
      await w.waitForScreen(/\w+: killed/);
      assert.equal((await records(t.remote))[0]!.exitReason, "killed");
      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 140, 20);
    } finally {
      await t.cleanup();
    }
  },
);
