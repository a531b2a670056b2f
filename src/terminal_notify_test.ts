import assert from "node:assert/strict";
import {
  BELL,
  chooseOsc,
  insideTmux,
  osc777,
  osc9,
  oscText,
  TERMINAL_TEXT_LIMIT,
  terminalNotification,
  tmuxPassthrough,
} from "./terminal_notify.ts";

const env = (vars: Record<string, string>) => (k: string) => vars[k];

Deno.test("osc9 and osc777 build the notification sequences", () => {
  assert.equal(osc9("api: waiting for input"), "\x1b]9;api: waiting for input\x07");
  assert.equal(
    osc777("api: waiting", "Waiting for permission"),
    "\x1b]777;notify;api: waiting;Waiting for permission\x07",
  );
  // The title ends at the first ";": one inside it must not move the body.
  assert.equal(osc777("a;b", "c;d"), "\x1b]777;notify;a,b;c;d\x07");
  // "4;…" would be ConEmu's / Windows Terminal's progress bar.
  assert.equal(osc9("4;50 done"), "\x1b]9; 4;50 done\x07");
});

Deno.test("session text cannot end or inject a sequence", () => {
  const evil = "x\x07\x1b]0;title\x1b\\y\x9cz\nw";
  const seq = osc9(evil);
  // One ESC (the start) and one BEL (the end), nothing else that controls.
  assert.equal(seq.split("\x1b").length - 1, 1);
  assert.equal(seq.split("\x07").length - 1, 1);
  assert.equal(seq, "\x1b]9;x ]0;title \\y z w\x07");
  assert.equal(oscText("a".repeat(2000)).length, TERMINAL_TEXT_LIMIT);
  assert.ok(oscText("a".repeat(2000)).endsWith("…"));
  const seq777 = osc777("t\x1b", "b\x07");
  assert.equal(seq777, "\x1b]777;notify;t;b\x07");
});

Deno.test("tmux passthrough wraps the sequence and doubles its ESCs", () => {
  assert.equal(tmuxPassthrough("\x1b]9;hi\x07"), "\x1bPtmux;\x1b\x1b]9;hi\x07\x1b\\");
  assert.equal(insideTmux(env({ TMUX: "/tmp/tmux-0/default,1,0" })), true);
  assert.equal(insideTmux(env({})), false);
  assert.equal(insideTmux(env({ TMUX: "" })), false);
});

Deno.test("terminalNotification: bell, then the OSC the terminal takes, wrapped in tmux", () => {
  const n = { title: "api: waiting for input", body: "Done." };
  assert.equal(
    terminalNotification(n, { tmux: false, osc: "9" }),
    `${BELL}\x1b]9;api: waiting for input: Done.\x07`,
  );
  assert.equal(
    terminalNotification(n, { tmux: false, osc: "777" }),
    `${BELL}\x1b]777;notify;api: waiting for input;Done.\x07`,
  );
  // The bell stays outside the passthrough: tmux forwards bells itself.
  assert.equal(
    terminalNotification(n, { tmux: true, osc: "9" }),
    `${BELL}\x1bPtmux;\x1b\x1b]9;api: waiting for input: Done.\x07\x1b\\`,
  );
  assert.equal(terminalNotification(n, { tmux: true, osc: "none" }), BELL);
  assert.equal(terminalNotification(n, { tmux: false, osc: "9", bell: false }).at(0), "\x1b");
});

Deno.test("chooseOsc: OSC 777 for foot and urxvt, OSC 9 elsewhere", () => {
  assert.equal(chooseOsc(env({ TERM: "foot" })), "777");
  assert.equal(chooseOsc(env({ TERM: "rxvt-unicode-256color" })), "777");
  assert.equal(chooseOsc(env({ TERM: "xterm-256color", TERM_PROGRAM: "iTerm.app" })), "9");
  assert.equal(chooseOsc(env({})), "9");
});
