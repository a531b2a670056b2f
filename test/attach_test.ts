/**
 * End-to-end: `attach` driven through a real PTY on the client side, with
 * the client's screen interpreted by a terminal emulator.
 */

import assert from "node:assert/strict";
import { MAIN, RawClient, TestHome } from "./_harness.ts";
import { TermClient } from "./_term.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function home(script: string, extra: Record<string, unknown> = {}) {
  const h = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", script] },
    ...extra,
  });
  const daemon = await h.startDaemon();
  return { h, daemon };
}

Deno.test(
  "attach, type, see output, detach with Ctrl-B d; reattach shows the screen as it was",
  opts,
  async () => {
    // After one line of input the program execs sleep: it never writes again,
    // so whatever a second attach shows comes from the daemon's screen model.
    const { h, daemon } = await home(
      "printf 'MARKER-START\\n> '; read x; echo \"got=$x\"; printf '\\033[32mgreen\\033[0m tail'; exec sleep 100000",
    );
    try {
      const id = (await h.ok(["new", h.dir, "--name", "s"])).trim();
      const a = TermClient.spawn(["attach", "s"], h.env);
      await a.waitForScreen(/MARKER-START\n> /);
      a.type("hello world\r");
      await a.waitForScreen(/got=hello world\ngreen tail/);
      // The program's own bytes reached the client raw (colours included).
      await a.waitForRaw(/\x1b\[32mgreen/);
      a.type("\x02d");
      const st = await a.close();
      assert.equal(st.code, 0);
      assert.match(a.raw, /\[detached from [0-9A-Z]+ \(s\)\]/);
      // The client left its alternate screen and restored the cursor.
      assert.match(a.raw, /\x1b\[\?25h[\s\S]*\x1b\[\?1049l/);

      const [rec] = JSON.parse(await h.ok(["ls", "--json"])) as SessionRecord[];
      assert.equal(rec!.id, id);
      assert.equal(rec!.status, "running");

      const b = TermClient.spawn(["attach", id], h.env);
      const screen = await b.waitForScreen(/got=hello world\ngreen tail/);
      assert.match(screen, /^MARKER-START\n> hello world\ngot=hello world\ngreen tail$/);
      b.type("\x02d");
      assert.equal((await b.close()).code, 0);

      // peek shows the same screen, plain and with colours.
      assert.equal((await h.ok(["peek", "s"])).trimEnd(), screen);
      assert.match(await h.ok(["peek", "s", "--ansi"]), /\x1b\[32mgreen/);
      assert.equal(
        (await h.ok(["peek", "s", "--lines", "2"])).trimEnd(),
        "got=hello world\ngreen tail",
      );
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "two clients: both see output; read-only keys ignored; the writer's size wins",
  opts,
  async () => {
    const { h, daemon } = await home(
      'stty -echo; echo READY; while read line; do echo "in:$line size:$(stty size)"; done',
    );
    try {
      await h.ok(["new", h.dir, "--name", "two", "--size", "80x24"]);
      const w = TermClient.spawn(["attach", "two"], h.env, { cols: 100, rows: 30 });
      await w.waitForScreen(/READY/);
      const r = TermClient.spawn(["attach", "--read-only", "two"], h.env, { cols: 60, rows: 15 });
      await r.waitForScreen(/READY/);

      // The writer attached last among writers: its size applies.
      w.type("one\r");
      await w.waitForScreen(/in:one size:30 100/);
      await r.waitForScreen(/in:one size:30 100/);

      // Keys typed on the read-only client go nowhere.
      r.type("ignored\r");
      // Resizes from the read-only client are not applied; the writer's are.
      r.resize(50, 10);
      w.resize(90, 20);
      // The client forwards a resize when it handles SIGWINCH, which keys
      // typed at the same moment may overtake: probe until the size is in.
      for (let i = 0;; i++) {
        w.type(`probe${i}\r`);
        const screen = await w.waitForScreen(new RegExp(`in:probe${i} size:\\d+ \\d+`));
        if (screen.includes(`in:probe${i} size:20 90`)) break;
        if (i === 10) throw new Error("the writer's resize never applied");
      }
      w.type("two\r");
      await w.waitForScreen(/in:two size:20 90/);
      await r.waitForScreen(/in:two size:20 90/);
      assert.doesNotMatch(await h.ok(["peek", "two", "--lines", "50"]), /ignored/);

      // The daemon enforces read-only too, whatever the client does.
      const raw = await RawClient.connect(h.socket);
      const att = await raw.request("attach", {
        session: "two",
        readOnly: true,
        cols: 40,
        rows: 10,
      });
      assert.equal(att.ok, true);
      const inp = await raw.request("input", { session: "two", data: btoa("sneaky\r") });
      assert.equal(inp.ok, false);
      assert.match((inp.error as { message: string }).message, /read-only/);
      raw.close();

      for (const c of [w, r]) c.type("\x02d");
      assert.equal((await w.close()).code, 0);
      assert.equal((await r.close()).code, 0);
      const [rec] = JSON.parse(await h.ok(["ls", "--json"])) as SessionRecord[];
      assert.deepEqual([rec!.cols, rec!.rows], [90, 20]);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "a stopped client is dropped while the session prints 100 MB; others keep going",
  opts,
  async () => {
    const { h, daemon } = await home(
      "echo READY; read x; head -c 100000000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo ALL-DONE; exec sleep 100000",
      // Keep every archive: the whole 100 MB must be in the log.
      { log: { keep: 100 } },
    );
    try {
      await h.ok(["new", h.dir, "--name", "flood"]);
      const stopped = TermClient.spawn(["attach", "--read-only", "flood"], h.env);
      await stopped.waitForScreen(/READY/);
      // The second client stands for a fast terminal: it reads everything but
      // does not emulate (a test emulator is slower than the daemon's).
      const watcher = TermClient.spawn(["attach", "--read-only", "flood"], h.env, undefined, false);
      await watcher.waitForRaw(/READY/);
      Deno.kill(stopped.child.pid, "SIGSTOP");

      await h.ok(["send", "flood", "go"]);
      await watcher.waitForRaw(/ALL-DONE/, 180_000);
      await daemon.waitForLog(/client #\d+ dropped: client not reading/);
      // The session itself is unharmed.
      const [rec] = JSON.parse(await h.ok(["ls", "--json"])) as SessionRecord[];
      assert.equal(rec!.status, "running");

      // The log is complete: every byte the program printed is in it (a
      // session is marked exited only once its log is on disk).
      await h.ok(["kill", "flood"]);
      const logged = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", MAIN, "logs", "flood", "--direction", "output"],
        env: h.env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(logged.code, 0, new TextDecoder().decode(logged.stderr));
      let xs = 0;
      for (const b of logged.stdout) if (b === 0x78) xs++;
      assert.equal(xs, 100_000_000);
      assert.match(new TextDecoder().decode(logged.stdout.subarray(-64)), /ALL-DONE/);

      Deno.kill(stopped.child.pid, "SIGCONT");
      const st = await stopped.close();
      assert.equal(st.code, 1);
      assert.match(stopped.raw, /\[detached: .*(dropped|closed)/);
      watcher.type("\x02d");
      assert.equal((await watcher.close()).code, 0);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "attach refuses a missing terminal and an exited session; the session ending detaches",
  opts,
  async () => {
    const { h, daemon } = await home("echo READY; read x; exit 3");
    try {
      await h.ok(["new", h.dir, "--name", "e"]);
      const noTty = await h.cli(["attach", "e"]);
      assert.equal(noTty.code, 1);
      assert.match(noTty.stderr, /attach needs a terminal/);

      const c = TermClient.spawn(["attach", "e"], h.env);
      await c.waitForScreen(/READY/);
      c.type("bye\r");
      assert.equal((await c.close()).code, 0);
      assert.match(c.raw, /\[session [0-9A-Z]+ \(e\) exited \(code 3\)\]/);

      const again = TermClient.spawn(["attach", "e"], h.env);
      assert.equal((await again.close()).code, 1);
      assert.match(again.raw, /is not running/);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test("send types text and named keys; peek reads the screen", opts, async () => {
  const { h, daemon } = await home(
    "stty raw -echo; echo READY; while :; do c=$(dd bs=1 count=1 2>/dev/null | od -An -tx1 | tr -d ' '); echo \"[$c]\"; done",
  );
  try {
    await h.ok(["new", h.dir, "--name", "k"]);
    const c = TermClient.spawn(["attach", "--read-only", "k"], h.env);
    await c.waitForScreen(/READY/);
    await h.ok(["send", "k", "--keys", "C-c", "Esc", "Up", "Enter"]);
    await c.waitForScreen(/\[03\]\s*\n\[1b\]\s*\n\[1b\]\s*\n\[5b\]\s*\n\[41\]\s*\n\[0d\]/);
    await h.ok(["send", "k", "hi"]);
    await c.waitForScreen(/\[68\]\s*\n\[69\]\s*\n\[0d\]/);
    const bad = await h.cli(["send", "k", "--keys", "Nope"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown key "Nope"/);
    c.type("\x02d");
    await c.close();
  } finally {
    await daemon.stop();
    await h.cleanup();
  }
});

Deno.test(
  "attached keys Ctrl-C, Ctrl-D, Ctrl-Z and Esc reach the program; the client never quits on them",
  opts,
  async () => {
    const { h, daemon } = await home(
      "stty raw -echo; echo READY; while :; do c=$(dd bs=1 count=1 2>/dev/null | od -An -tx1 | tr -d ' '); echo \"[$c]\"; done",
    );
    try {
      await h.ok(["new", h.dir, "--name", "keys"]);
      const c = TermClient.spawn(["attach", "keys"], h.env);
      await c.waitForScreen(/READY/);
      c.type("\x03\x04\x1a\x1b");
      await c.waitForScreen(/\[03\]\s*\n\[04\]\s*\n\[1a\]\s*\n\[1b\]/);
      // Still attached: more keys get through.
      c.type("z");
      await c.waitForScreen(/\[7a\]/);
      c.type("\x02d");
      assert.equal((await c.close()).code, 0);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);

Deno.test(
  "the terminal is restored when the client is killed or the daemon dies",
  opts,
  async () => {
    const { h, daemon } = await home("echo READY; exec sleep 100000");
    try {
      await h.ok(["new", h.dir, "--name", "r"]);
      // SIGTERM to the client.
      const a = TermClient.spawn(["attach", "r"], h.env);
      await a.waitForScreen(/READY/);
      a.child.kill("SIGTERM");
      assert.equal((await a.close()).code, 1);
      assert.match(a.raw, /\x1b\[\?25h[\s\S]*\x1b\[\?1049l[\s\S]*\[detached: SIGTERM\]/);

      // The daemon dies under the client.
      const b = TermClient.spawn(["attach", "r"], h.env);
      await b.waitForScreen(/READY/);
      Deno.kill(daemon.pid, "SIGKILL");
      await daemon.exited();
      assert.equal((await b.close()).code, 1);
      assert.match(b.raw, /\x1b\[\?1049l[\s\S]*\[detached: the daemon closed the connection\]/);
    } finally {
      await daemon.stop();
      await h.cleanup();
    }
  },
);
