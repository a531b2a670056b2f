/**
 * End-to-end: readable text. A real daemon runs `/bin/sh` scripts that draw
 * with cursor movements on the alternate screen, as full-screen programs
 * do; `logs --text` / `--grep` render them, `peek` after the exit shows the
 * last screen shown, `transcript` refuses a session without one.
 */

import assert from "node:assert/strict";
import { type DaemonProcess, Fifo, MAIN, TestHome, TextSink } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

// MODE=draw: words placed by column on the alternate screen, left on exit.
// MODE=scroll: a frame on the alternate screen, then a screenful after it.
const SCRIPT = `stty -echo
if [ "$MODE" = scroll ]; then
  printf '\\033[?1049h\\033[HOLD FRAME\\033[?1049l'
  i=0; while [ $i -lt 40 ]; do printf 'after %s\\r\\n' $i; i=$((i+1)); done
  exit 0
fi
printf '\\033[?1049h\\033[2J\\033[H'
printf '\\033[1;1HECHO\\033[1;6Hrun\\033[1;10Hthe\\033[1;14Htests'
printf '\\033[2;1H\\033[32mFRAME-GREEN\\033[0m'
printf 'ready=1\\nEND\\n' > "$PROBE_FIFO"
IFS= read -r line
printf '\\033[3;1Hgot %s\\033[?1049l' "$line"
printf 'bye after alt\\r\\n'`;

/** A daemon whose sessions run SCRIPT, and a started session `draw` waiting for its input. */
async function drawing(): Promise<{ home: TestHome; daemon: DaemonProcess; id: string }> {
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c", SCRIPT] } });
  const daemon = await home.startDaemon();
  const fifo = await Fifo.create(home.dir);
  const ready = fifo.read();
  const id = (await home.ok(["new", home.dir, "--name", "draw", "--size", "40x6"], {
    env: { PROBE_FIFO: fifo.path, MODE: "draw" },
  })).trim();
  await ready;
  return { home, daemon, id };
}

async function exited(home: TestHome, name: string): Promise<void> {
  assert.equal((await home.cli(["wait", name, "--until", "exited", "--timeout", "30"])).code, 0);
}

Deno.test("peek after the exit shows the alternate screen the program left", opts, async () => {
  const { home, daemon } = await drawing();
  try {
    // Live, on the alternate screen: peek --ansi shows it, in colour.
    assert.match(await home.ok(["peek", "draw", "--ansi"]), /\x1b\[32mFRAME-GREEN/);
    await home.ok(["send", "draw", "hello"]);
    await exited(home, "draw");

    // The alternate screen as the program left it, then what it printed after.
    assert.equal(
      (await home.ok(["peek", "draw"])).trimEnd(),
      "ECHO run the tests\nFRAME-GREEN\ngot hello\nbye after alt",
    );
    assert.equal(
      (await home.ok(["peek", "draw", "--lines", "2"])).trimEnd(),
      "got hello\nbye after alt",
    );
    assert.match(await home.ok(["peek", "draw", "--ansi"]), /\x1b\[32mFRAME-GREEN\x1b\[0m/);

    // A program that printed a screenful after leaving the alternate screen:
    // its normal screen is the last one shown.
    await home.ok(["new", home.dir, "--name", "scroll", "--size", "40x6"], {
      env: { MODE: "scroll" },
    });
    await exited(home, "scroll");
    assert.equal(
      (await home.ok(["peek", "scroll"])).trimEnd(),
      Array.from({ length: 6 }, (_, i) => `after ${34 + i}`).join("\n"),
    );
  } finally {
    await daemon.stop();
    await home.cleanup();
  }
});

Deno.test("logs --text, --grep, --follow: the lines as they were on the screen", opts, async () => {
  const { home, daemon } = await drawing();
  let follower: Deno.ChildProcess | null = null;
  try {
    // Following: what is on the screen is printed once the output pauses.
    follower = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "logs", "draw", "--text", "--follow"],
      env: home.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const followed = new TextSink(follower.stdout);
    const followErr = new TextSink(follower.stderr);
    await followed.waitFor(/ECHO run the tests\nFRAME-GREEN\n/);
    await home.ok(["send", "draw", "hello"]);
    await exited(home, "draw");
    await followed.waitFor(/got hello\nbye after alt\n/);
    follower.kill("SIGINT");
    assert.equal((await follower.status).code, 0);
    await followErr.done;
    follower = null;
    assert.equal(followed.text, "ECHO run the tests\nFRAME-GREEN\ngot hello\nbye after alt\n");

    // Every line that was on the screen, once, in order: the last frame too,
    // although it was left in the same write that finished it.
    const all = ["ECHO run the tests", "FRAME-GREEN", "got hello", "bye after alt"];
    assert.equal(await home.ok(["logs", "draw", "--text"]), all.join("\n") + "\n");
    // --strip-ansi only removes the escapes: the words run together.
    assert.match(await home.ok(["logs", "draw", "--strip-ansi"]), /ECHOrunthetests/);
    // --grep matches rendered lines, with or without --text.
    assert.equal(await home.ok(["logs", "draw", "--grep", "the tests"]), "ECHO run the tests\n");
    assert.equal(
      await home.ok(["logs", "draw", "--text", "--grep", "^(got|bye)"]),
      "got hello\nbye after alt\n",
    );
    const json = (await home.ok(["logs", "draw", "--text", "--json"])).trimEnd().split("\n")
      .map((l) => JSON.parse(l) as { timestamp: string; text: string });
    assert.deepEqual(json.map((l) => l.text), all);
    assert.ok(json.every((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(l.timestamp)));
    assert.equal(await home.ok(["logs", "draw", "--text", "--since", "2999-01-01"]), "");
    // Typed lines of the input.
    assert.equal(
      await home.ok(["logs", "draw", "--direction", "input", "--grep", "hel"]),
      "hello\n",
    );
    const bad = await home.cli(["logs", "draw", "--text", "--direction", "input"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--text .* cannot be used with --direction input/);

    // A frame, then 40 lines scrolled through the normal screen: all of them.
    await home.ok(["new", home.dir, "--name", "scroll", "--size", "40x6"], {
      env: { MODE: "scroll" },
    });
    await exited(home, "scroll");
    assert.deepEqual((await home.ok(["logs", "scroll", "--text"])).trimEnd().split("\n"), [
      "OLD FRAME",
      ...Array.from({ length: 40 }, (_, i) => `after ${i}`),
    ]);

    // Not Claude: no transcript.
    const t = await home.cli(["transcript", "draw"]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /^claude-sessions: session [0-9A-Z]+ never reported a transcript\n/);
  } finally {
    follower?.kill("SIGKILL");
    await follower?.status;
    await daemon.stop();
    await home.cleanup();
  }
});
