/**
 * End-to-end: `watch` on a terminal the test owns (a PTY, its screen
 * interpreted by a terminal emulator), against a real daemon running shell
 * sessions, or a stand-in daemon whose events the test makes (statuses a
 * shell cannot reach: waiting for a permission, unknown ones).
 */

import assert from "node:assert/strict";
import { TestHome } from "./_harness.ts";
import { StandInDaemon, standInRecord } from "./_standin.ts";
import { assertRestored, BEFORE, startWatch } from "./_watch.ts";
import { TermClient } from "./_term.ts";
import { FEATURES, type SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function shellHome() {
  const h = await TestHome.create({ claude: { command: "/bin/sh", args: [] } });
  const daemon = await h.startDaemon();
  return { h, daemon };
}

async function newShell(h: TestHome, name: string, script: string, extra: string[] = []) {
  return (await h.ok(["new", h.dir, "--name", name, ...extra, "--", "-c", script])).trim();
}

Deno.test(
  "watch: lists sessions; e, /, p, ? work; q restores the terminal exactly",
  opts,
  async () => {
    const { h, daemon } = await shellHome();
    try {
      await newShell(h, "alpha", "echo PREVIEW-ALPHA; exec sleep 100000", ["--tag", "t1"]);
      await newShell(h, "beta", "exec sleep 100000");
      await newShell(h, "gone", "exit 3");
      await h.ok(["wait", "gone", "--until", "exited", "--timeout", "30"]);
      const w = startWatch(h.env);
      let screen = await w.waitForScreen(/alpha .*running[\s\S]*beta .*running/);
      assert.match(
        screen,
        /^claude-sessions watch {2}3 sessions · 2 running · 1 exited \(hidden\)/,
      );
      assert.match(
        screen,
        /\n {2}ID +NAME +STATUS +FOR +MEM +CPU +DIR +TAGS +WAITING FOR \/ LAST MESSAGE\n/,
      );
      // MEM and CPU as the daemon pushes them (the first push comes at once).
      screen = await w.waitForScreen(
        /\n> \w+ +alpha +running +\d+s +\d[\d.]*[KMG] +\d+% +\S+ +t1 *\n/,
      );
      assert.doesNotMatch(screen, /gone/);

      w.type("e");
      await w.waitForScreen(/gone +exited .*exited \(code 3\)/);
      w.type("e");
      await w.waitForScreen(/1 exited \(hidden\)(?![\s\S]*gone)/);

      // Filter as you type; Enter keeps it; Esc clears it.
      w.type("/t1");
      screen = await w.waitForScreen(/filter: t1\n(?![\s\S]*beta)/);
      assert.match(screen, /alpha/);
      w.type("\r");
      await w.waitForScreen(/filter: t1(?![\s\S]*beta)/);
      w.type("\x1b");
      await w.waitForScreen(/beta/);

      // The preview pane: the selected session's screen.
      w.type("p");
      await w.waitForScreen(/── \w+ \(alpha\) · running ─+\nPREVIEW-ALPHA/);
      w.type("\x1b[B"); // down: beta
      await w.waitForScreen(/── \w+ \(beta\) · running ─+\n/);
      w.type("p");
      await w.waitForScreen(/^(?![\s\S]*── \w+ \(beta\))/);

      w.type("?");
      await w.waitForScreen(/allow \/ deny the permission/);
      w.type("x");
      await w.waitForScreen(/^(?![\s\S]*allow \/ deny the permission)[\s\S]*beta/);

      w.type("q");
      assert.equal((await w.close()).code, 0);
      const main = await assertRestored(w, 120, 30);
      assert.deepEqual(
        main.filter((l) => l !== ""),
        [BEFORE],
        "nothing of watch on the main screen",
      );
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "watch: Enter attaches and Ctrl-B d comes back; s sends; k asks then kills; N starts; r refuses a live session",
  opts,
  async () => {
    const { h, daemon } = await shellHome();
    try {
      const id = await newShell(
        h,
        "sh1",
        'stty -echo; echo READY; while read l; do echo "got:$l"; done',
      );
      const w = startWatch(h.env);
      await w.waitForScreen(/> \w+ +sh1 +running/);

      // Attach: the session's screen; keys go to it; Ctrl-B d back to the table.
      w.type("\r");
      await w.waitForScreen(/^READY/);
      w.type("hello\r");
      await w.waitForScreen(/got:hello/);
      w.type("\x02d");
      let screen = await w.waitForScreen(/\[detached from \w+ \(sh1\)\]/);
      assert.match(screen, /^claude-sessions watch {2}1 session · 1 running\n {2}ID +NAME/);
      assert.doesNotMatch(screen, /READY|got:hello/);

      // Send a line without attaching; the preview pane follows the session's output.
      w.type("p");
      await w.waitForScreen(/── \w+ \(sh1\) · running ─+\n(?:.*\n)*got:hello/);
      w.type("s");
      await w.waitForScreen(/send to \w+ \(sh1\): *$/m);
      w.type("via watch\r");
      await w.waitForScreen(/sent to \w+ \(sh1\): typed/);
      await w.waitForScreen(/── \w+ \(sh1\) · running ─+\n(?:.*\n)*got:via watch/);
      w.type("p");
      await w.waitForScreen(/^(?![\s\S]*── \w+ \(sh1\))/);

      // r on a live session says why not.
      w.type("r");
      await w.waitForScreen(/\(sh1\) is running: nothing to resume/);

      // N: a bad directory is refused; a good one starts a session, selected.
      w.type("N");
      await w.waitForScreen(/new session in: \//);
      w.type("\x15/no/such/dir\r");
      await w.waitForScreen(/nothing started: no such directory: \/no\/such\/dir/);
      w.type("N\x15" + h.dir + "\r");
      screen = await w.waitForScreen(/started \w+ in /);
      await w.waitForScreen(/2 sessions · 2 running/);
      const [, newer] = JSON.parse(await h.ok(["ls", "--json"])) as SessionRecord[];
      await w.waitForScreen(new RegExp(`> ${newer!.id.slice(0, 8)}`));

      // k asks; anything but y keeps it; y kills it.
      w.type("\x1b[A"); // up: sh1 (the older)
      await w.waitForScreen(/> \w+ +sh1/);
      w.type("k");
      await w.waitForScreen(/kill \w+ \(sh1\)\? \(y\/N\)/);
      w.type("n");
      await w.waitForScreen(/not killed/);
      w.type("k");
      await w.waitForScreen(/kill \w+ \(sh1\)\? \(y\/N\)/);
      w.type("y");
      await w.waitForScreen(/\(sh1\): killed \(SIGHUP\)/);
      await w.waitForScreen(/1 running · 1 exited \(hidden\)/);
      const rec = JSON.parse(await h.ok(["ls", "--all", "--json"])).find((r: SessionRecord) =>
        r.id === id
      );
      assert.equal(rec.status, "exited");
      assert.equal(rec.exitReason, "killed");

      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 120, 30);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "watch: narrow terminals drop CPU, MEM, then DIR, TAGS, FOR; a resize redraws",
  opts,
  async () => {
    const { h, daemon } = await shellHome();
    try {
      await newShell(h, "wide", "exec sleep 100000", ["--tag", "backend"]);
      const w = startWatch(h.env, { cols: 140, rows: 20 });
      const all = await w.waitForScreen(/wide +running +\d+s +\d[\d.]*[KMG] +\d+% /);
      // Where the columns start says how wide the detail column is: it wants 16.
      const titles = all.split("\n")[1]!;
      assert.match(titles, /ID +NAME +STATUS +FOR +MEM +CPU +DIR +TAGS +WAITING FOR/);
      const at = (t: string) => titles.indexOf(t);
      const full = at("WAITING") + 16;
      w.resize(full - 1, 20);
      let screen = await w.waitForScreen(/ID +NAME +STATUS +FOR +MEM +DIR +TAGS +WAITING/);
      assert.doesNotMatch(screen, /CPU/);
      w.resize(full - 1 - (at("DIR") - at("CPU")), 20);
      screen = await w.waitForScreen(/ID +NAME +STATUS +FOR +DIR +TAGS +WAITING/);
      assert.doesNotMatch(screen, /CPU|MEM/);
      // The content decides what fits: here DIR goes at 66 columns, TAGS at 50, FOR at 44.
      w.resize(66, 20);
      screen = await w.waitForScreen(/ID +NAME +STATUS +FOR +TAGS +WAITING/);
      assert.doesNotMatch(screen, /DIR/);
      w.resize(50, 20);
      screen = await w.waitForScreen(/ID +NAME +STATUS +FOR +WAITING/);
      assert.doesNotMatch(screen, /DIR|TAGS/);
      w.resize(44, 20);
      screen = await w.waitForScreen(/ID +NAME +STATUS +WAITING/);
      assert.doesNotMatch(screen, /DIR|TAGS|(?<!WAITING )FOR/);
      assert.ok(screen.split("\n").every((l) => l.length <= 44));
      w.resize(140, 20);
      await w.waitForScreen(/ID +NAME +STATUS +FOR +MEM +CPU +DIR +TAGS +WAITING FOR/);
      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 140, 20);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "watch: Ctrl-C and SIGTERM restore the terminal; so does a crash, which says what failed",
  opts,
  async () => {
    const { h, daemon } = await shellHome();
    try {
      await newShell(h, "s", "exec sleep 100000");
      const a = startWatch(h.env);
      await a.waitForScreen(/> \w+ +s +running/);
      a.type("\x03");
      assert.equal((await a.close()).code, 0);
      await assertRestored(a, 120, 30);

      const b = startWatch(h.env);
      await b.waitForScreen(/> \w+ +s +running/);
      b.child.kill("SIGTERM");
      assert.equal((await b.close()).code, 1);
      await assertRestored(b, 120, 30);
    } finally {
      await daemon.stop();
    }
    // A daemon whose record watch cannot show (an id that is not a string): it fails, cleanly.
    const bad = standInRecord("01BAD", "running");
    (bad as unknown as { id: number }).id = 42;
    const fake = StandInDaemon.start(h.socket, [bad]);
    try {
      const c = startWatch(h.env);
      assert.equal((await c.close()).code, 1);
      const main = await assertRestored(c, 120, 30);
      assert.match(main[1]!, /^claude-sessions: internal error: /);
    } finally {
      await fake.close();
      await h.cleanup();
    }
  },
);

Deno.test(
  "watch: the daemon goes away — it says so, reconnects, and starts again from a fresh list",
  opts,
  async () => {
    const { h, daemon } = await shellHome();
    let second: Awaited<ReturnType<TestHome["startDaemon"]>> | null = null;
    try {
      await newShell(h, "one", "exec sleep 100000");
      const w = startWatch(h.env);
      await w.waitForScreen(/one +running/);
      await daemon.stop();
      await w.waitForScreen(/daemon unreachable, reconnecting: /);
      second = await h.startDaemon();
      await w.waitForScreen(/reconnected: the daemon restarted/);
      await w.waitForScreen(/^claude-sessions watch {2}1 session · 1 exited \(hidden\)/);
      await newShell(h, "two", "exec sleep 100000");
      await w.waitForScreen(/two +running/);
      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 120, 30);
    } finally {
      await second?.stop();
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "watch: a permission wait goes to the top with its command, once notified (bell, OSC 9); y and n answer it; an answer that does not take is said",
  opts,
  async () => {
    const h = await TestHome.create();
    const a = standInRecord("01AAAAAAAAAAAAAAAAAAAAAAAA", "running", { name: "aaa" });
    const b = standInRecord("01BBBBBBBBBBBBBBBBBBBBBBBB", "running", { name: "bbb" });
    const q = standInRecord("01CCCCCCCCCCCCCCCCCCCCCCCC", "queued", { name: "qqq" });
    const fake = StandInDaemon.start(h.socket, [a, b, q]);
    try {
      const w = startWatch({ ...h.env, TERM: "xterm-256color" });
      const screen = await w.waitForScreen(/qqq +queued/);
      assert.match(screen, /3 sessions · 2 running · 1 queued\n/);
      assert.match(
        screen,
        /> 01AAAAAA +aaa +running[^\n]*\n {2}01BBBBBB +bbb +running[^\n]*\n {2}01CCCCCC +qqq/,
      );

      const perm = { waitingFor: { kind: "permission" as const, tool: "Bash", input: "touch x" } };
      fake.setStatus(b.id, "waiting_permission", perm);
      // The waiting session is the first row, with what it waits for; the selection stays on
      // the session it was on.
      await w.waitForScreen(
        /MESSAGE\n {2}01BBBBBB +bbb +waiting_permission +\d+s +- +- +\/tmp +- +Bash: touch x\n> 01AAAAAA/,
      );
      // Once it has held: the bell and an OSC 9 notification (what the daemon's say).
      await w.waitForRaw(
        /\x07\x1b\]9;bbb: waiting for permission: Waiting for permission to use Bash: touch x in \/tmp\x07/,
      );

      // y on a session that does not wait: said, nothing sent.
      w.type("y");
      await w.waitForScreen(/\(aaa\) is not waiting for a permission/);
      assert.equal(fake.requests.filter((r) => r.type === "send").length, 0);

      // Select it (Home: the top) and allow: Enter is sent. The stand-in does not move the
      // status, as Claude does when a key comes too early: watch says so.
      w.type("\x1b[H");
      await w.waitForScreen(/> 01BBBBBB/);
      w.type("y");
      await fake.until(() => fake.requests.some((r) => r.type === "send"), "a send");
      assert.deepEqual(fake.requests.filter((r) => r.type === "send").map((r) => r.params), [
        { session: b.id, keys: ["Enter"] },
      ]);
      await w.waitForScreen(/allowed \w+ \(bbb\): permission to use Bash: touch x/);
      await w.waitForScreen(
        /\(bbb\): not allowed yet \(Claude ignores keys in a dialog's first moments\): press y again/,
      );

      // n denies: Esc; this time the status moves.
      fake.answer = (req) => {
        if (req.type === "send") fake.setStatus(b.id, "waiting_input", { waitingFor: null });
        return { result: { bytes: 1, delivery: "written" } };
      };
      w.type("n");
      await fake.until(() => fake.requests.filter((r) => r.type === "send").length === 2, "n");
      assert.deepEqual(fake.requests.at(-1)!.params, { session: b.id, keys: ["Esc"] });
      await w.waitForScreen(/denied \w+ \(bbb\)/);
      await w.waitForScreen(/01BBBBBB +bbb +waiting_input/);
      // One wait, one notification.
      assert.equal(w.raw.split("\x1b]9;").length - 1, 1);

      w.type("q");
      assert.equal((await w.close()).code, 0);
      await assertRestored(w, 120, 30);
    } finally {
      await fake.close();
      await h.cleanup();
    }
  },
);

Deno.test("watch: colours by status; NO_COLOR none at all", opts, async () => {
  const h = await TestHome.create();
  const fake = StandInDaemon.start(h.socket, [
    standInRecord("01AAAAAAAAAAAAAAAAAAAAAAAA", "running", { name: "aaa" }),
    standInRecord("01BBBBBBBBBBBBBBBBBBBBBBBB", "running", { name: "bbb" }),
  ]);
  try {
    const env = { ...h.env };
    delete env.NO_COLOR;
    const colour = startWatch(env);
    await colour.waitForScreen(/bbb +running/);
    // The unselected row's status in green; the selected row in reverse video.
    await colour.waitForRaw(/\x1b\[0;32mrunning/);
    await colour.waitForRaw(/\x1b\[0;7;32mrunning/);
    colour.type("q");
    assert.equal((await colour.close()).code, 0);

    const plain = startWatch(h.env);
    await plain.waitForScreen(/bbb +running/);
    plain.type("q");
    assert.equal((await plain.close()).code, 0);
    assert.doesNotMatch(plain.raw, /\x1b\[[0-9;]*[1-9][0-9;]*m/, "no SGR but the reset");
    await assertRestored(plain, 120, 30);
  } finally {
    await fake.close();
    await h.cleanup();
  }
});

Deno.test(
  "watch: refuses to run without a terminal, takes no arguments, and names an unknown host",
  opts,
  async () => {
    const h = await TestHome.create();
    try {
      const r = await h.cli(["watch"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /watch needs a terminal/);
      const extra = await h.cli(["watch", "x"]);
      assert.equal(extra.code, 2);
      // A host that is not configured: said so before the screen is taken.
      const bad = TermClient.spawn(["watch", "--hosts", "local,nosuch"], h.env);
      assert.equal((await bad.close()).code, 2);
      assert.match(bad.raw, /unknown host "nosuch" \(configured: none; or ssh:\/\/…, local\)/);
      assert.doesNotMatch(bad.raw, /\x1b\[\?1049h/);
      const help = await h.ok(["watch", "--help"]);
      assert.match(help, /y \/ n +allow \/ deny the permission it waits for/);
      assert.match(help, /Enter, a +attach \(Ctrl-B d comes back to watch\)/);
    } finally {
      await h.cleanup();
    }
  },
);

Deno.test(
  "watch: MEM and CPU from the daemon's usage pushes, nothing polled; a daemon that does not measure has no such columns",
  opts,
  async () => {
    const h = await TestHome.create();
    const a = standInRecord("01AAAAAAAAAAAAAAAAAAAAAAAA", "running", { name: "aaa" });
    const q = standInRecord("01QQQQQQQQQQQQQQQQQQQQQQQQ", "queued", { name: "qqq" });
    const fake = StandInDaemon.start(h.socket, [a, q]);
    try {
      const w = startWatch(h.env);
      await w.waitForScreen(/ID +NAME +STATUS +FOR +MEM +CPU +DIR/);
      await fake.until(() => fake.usageSubscribers === 1, "a usage subscription");
      // Nothing measured yet: "-".
      await w.waitForScreen(/aaa +running +\d+s +- +- +\/tmp/);
      fake.pushUsage({ [a.id]: { rss: 300 * 1024 * 1024, cpu: 12.6, processes: 4, at: "" } });
      await w.waitForScreen(/aaa +running +\d+s +300M +13% +\/tmp/);
      // The next push replaces it (CPU not measured this time).
      fake.pushUsage({ [a.id]: { rss: 1536 * 1024, cpu: null, processes: 4, at: "" } });
      const screen = await w.waitForScreen(/aaa +running +\d+s +1\.5M +- +\/tmp/);
      assert.match(screen, /qqq +queued +\d+s +- +- +\/tmp/);
      // Only pushes: watch asked for nothing else.
      assert.deepEqual(fake.requests.map((r) => r.type), []);
      w.type("q");
      assert.equal((await w.close()).code, 0);
    } finally {
      await fake.close();
    }
    // A daemon without the resources feature: no MEM or CPU, and usage is not asked for.
    const old = StandInDaemon.start(h.socket, [a], [FEATURES.eventsSnapshot]);
    try {
      const w = startWatch(h.env);
      const screen = await w.waitForScreen(/aaa +running/);
      assert.match(screen, /\n {2}ID +NAME +STATUS +FOR +DIR +TAGS +WAITING/);
      assert.equal(old.usageSubscribers, 0);
      w.type("q");
      assert.equal((await w.close()).code, 0);
    } finally {
      await old.close();
      await h.cleanup();
    }
  },
);
