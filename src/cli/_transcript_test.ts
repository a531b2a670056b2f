import assert from "node:assert/strict";
import { entriesOf, formatEntry, type TranscriptEntry } from "./_transcript.ts";

const T = "2026-11-29T06:10:44.929Z";
const user = (content: unknown, extra: Record<string, unknown> = {}) => ({
  type: "user",
  timestamp: T,
  message: { role: "user", content },
  ...extra,
});
const assistant = (content: unknown[]) => ({
  type: "assistant",
  timestamp: T,
  message: { role: "assistant", content },
});

Deno.test("transcript: prompts, replies, thinking, tool calls and results become entries", () => {
  const lines = [
    { type: "mode", mode: "normal" },
    user("run echo please"),
    { type: "attachment", attachment: { type: "date" } },
    assistant([
      { type: "thinking", thinking: "Let me run it." },
      { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "echo hi", d: 1 } },
    ]),
    user([{ type: "tool_result", tool_use_id: "toolu_1", content: "hi", is_error: false }]),
    user([{
      type: "tool_result",
      tool_use_id: "toolu_2",
      content: [{ type: "text", text: "boom" }],
      is_error: true,
    }]),
    assistant([{ type: "text", text: "Done." }]),
    { type: "system", subtype: "turn_duration" },
  ];
  const entries = lines.flatMap(entriesOf);
  assert.deepEqual(
    entries,
    [
      { timestamp: T, type: "prompt", text: "run echo please" },
      { timestamp: T, type: "thinking", text: "Let me run it." },
      {
        timestamp: T,
        type: "tool_use",
        id: "toolu_1",
        tool: "Bash",
        input: { command: "echo hi", d: 1 },
      },
      { timestamp: T, type: "tool_result", id: "toolu_1", text: "hi", isError: false },
      { timestamp: T, type: "tool_result", id: "toolu_2", text: "boom", isError: true },
      { timestamp: T, type: "reply", text: "Done." },
    ] satisfies TranscriptEntry[],
  );
  assert.equal(
    entries.map(formatEntry).join("\n"),
    "\n❯ run echo please\n\n∴ Let me run it.\n\n● Bash(echo hi)\n  ⎿ hi\n  ⎿ Error: boom\n\n● Done.",
  );
});

Deno.test("transcript: side chains, meta lines, reminders and caveats are left out; commands shown", () => {
  const entries = [
    user("from a subagent", { isSidechain: true }),
    user("meta", { isMeta: true }),
    user([{ type: "text", text: "<system-reminder>\nnot the user's\n</system-reminder>" }]),
    user("<local-command-caveat>Caveat: …</local-command-caveat>"),
    user(
      "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args>opus</command-args>",
    ),
    user("<local-command-stdout>Set model to opus</local-command-stdout>"),
    user([{ type: "text", text: "look" }, { type: "image", source: {} }]),
    "not an object",
    { type: "user" },
  ].flatMap(entriesOf);
  assert.deepEqual(entries.map((e) => [e.type, "text" in e ? e.text : ""]), [
    ["prompt", "/model opus"],
    ["tool_result", "Set model to opus"],
    ["prompt", "look\n[image]"],
  ]);
});

Deno.test("transcript: long results are cut in the readable form, multi-line text indented", () => {
  const long = Array.from({ length: 25 }, (_, i) => `l${i}`).join("\n");
  assert.equal(
    formatEntry({ timestamp: null, type: "tool_result", id: null, text: long, isError: false }),
    "  ⎿ l0\n" + Array.from({ length: 9 }, (_, i) => `    l${i + 1}`).join("\n") +
      "\n    … 15 more lines (--json has them all)",
  );
  assert.equal(formatEntry({ timestamp: null, type: "reply", text: "a\nb" }), "\n● a\n  b");
  assert.equal(
    formatEntry({ timestamp: null, type: "tool_use", id: null, tool: "Edit", input: { x: 1 } }),
    '\n● Edit({"x":1})',
  );
  assert.equal(
    formatEntry({ timestamp: null, type: "tool_result", id: null, text: "", isError: false }),
    "  ⎿ (no output)",
  );
});
