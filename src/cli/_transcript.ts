/**
 * Claude Code's own transcript of a conversation (the JSON-lines file whose
 * path its hooks report as `transcript_path`), read as the conversation
 * itself: the prompts, the replies, the tool calls and their results, in
 * order. Everything else the file holds (attachments, system notes, request
 * shapes, snapshots…) and subagents' side chains are left out.
 *
 * @module
 */

/** One item of the conversation. */
export type TranscriptEntry =
  & {
    /** When Claude recorded it (RFC 3339), or null when the line has no time. */
    timestamp: string | null;
  }
  & (
    /** What the user typed (a slash command as `/name args`). */
    | { type: "prompt"; text: string }
    /** Claude's reply text. */
    | { type: "reply"; text: string }
    /** Claude's visible thinking. */
    | { type: "thinking"; text: string }
    /** A tool call: the tool's name and its input. */
    | { type: "tool_use"; id: string | null; tool: string; input: unknown }
    /** A tool's result (or a local command's output), as text. */
    | { type: "tool_result"; id: string | null; text: string; isError: boolean }
  );

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The text of a message's content: a string, or text blocks (images as `[image]`). */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const parts: string[] = [];
  for (const b of content) {
    if (!isObject(b)) continue;
    if (b.type === "text" && typeof b.text === "string") parts.push(b.text);
    else if (b.type === "image") parts.push("[image]");
  }
  return parts.join("\n");
}

const TAG = (name: string) => new RegExp(`<${name}>([\\s\\S]*?)</${name}>`);

/** The entries of one parsed transcript line (none for lines that are not conversation). */
export function entriesOf(line: unknown): TranscriptEntry[] {
  if (!isObject(line) || line.isSidechain === true || line.isMeta === true) return [];
  if (line.type !== "user" && line.type !== "assistant") return [];
  const message = line.message;
  if (!isObject(message)) return [];
  const timestamp = typeof line.timestamp === "string" ? line.timestamp : null;
  const out: TranscriptEntry[] = [];
  if (line.type === "user") {
    const content = message.content;
    const blocks = Array.isArray(content) ? content : [];
    for (const b of blocks) {
      if (!isObject(b) || b.type !== "tool_result") continue;
      out.push({
        timestamp,
        type: "tool_result",
        id: typeof b.tool_use_id === "string" ? b.tool_use_id : null,
        text: contentText(b.content),
        isError: b.is_error === true,
      });
    }
    const text = contentText(
      Array.isArray(content)
        ? blocks.filter((b) => isObject(b) && b.type !== "tool_result")
        : content,
    );
    if (text.trim() === "" || text.startsWith("<system-reminder>")) return out;
    // A slash command, and a local command's output, are recorded as tagged text.
    const command = TAG("command-name").exec(text);
    const stdout = TAG("local-command-stdout").exec(text);
    if (command) {
      const args = TAG("command-args").exec(text)?.[1]?.trim() ?? "";
      out.push({ timestamp, type: "prompt", text: args ? `${command[1]} ${args}` : command[1]! });
    } else if (stdout) {
      out.push({ timestamp, type: "tool_result", id: null, text: stdout[1]!, isError: false });
    } else if (!text.startsWith("<local-command-caveat>")) {
      out.push({ timestamp, type: "prompt", text });
    }
    return out;
  }
  const content = Array.isArray(message.content)
    ? message.content
    : [{ type: "text", text: message.content }];
  for (const b of content) {
    if (!isObject(b)) continue;
    if (b.type === "text" && typeof b.text === "string" && b.text !== "") {
      out.push({ timestamp, type: "reply", text: b.text });
    } else if (b.type === "thinking" && typeof b.thinking === "string" && b.thinking !== "") {
      out.push({ timestamp, type: "thinking", text: b.thinking });
    } else if (b.type === "tool_use" || b.type === "server_tool_use") {
      out.push({
        timestamp,
        type: "tool_use",
        id: typeof b.id === "string" ? b.id : null,
        tool: typeof b.name === "string" ? b.name : "?",
        input: b.input ?? null,
      });
    }
  }
  return out;
}

/** Lines of a tool result shown in the readable form; `--json` has them all. */
const RESULT_LINES = 10;
/** Characters of a tool's input summary. */
const INPUT_CHARS = 200;

function indent(text: string, first: string, rest: string): string {
  return text.split("\n").map((l, i) => (i === 0 ? first : rest) + l).join("\n");
}

/** A tool call's input in a line: its main argument when it has one, else its JSON. */
function inputSummary(input: unknown): string {
  let s: string;
  if (isObject(input)) {
    const main = ["command", "file_path", "path", "pattern", "url", "query", "prompt"]
      .map((k) => input[k]).find((v) => typeof v === "string");
    s = typeof main === "string" ? main : JSON.stringify(input);
  } else {
    s = JSON.stringify(input) ?? "";
  }
  s = s.replace(/\s*\n\s*/g, " ");
  return s.length > INPUT_CHARS ? s.slice(0, INPUT_CHARS - 1) + "…" : s;
}

/**
 * An entry in the readable form, after Claude Code's own look: `❯` a prompt,
 * `●` a reply or a tool call, `⎿` a tool result (its first lines), `∴`
 * thinking. Entries are separated by a blank line, a result stays with its
 * call.
 */
export function formatEntry(e: TranscriptEntry): string {
  switch (e.type) {
    case "prompt":
      return "\n" + indent(e.text, "❯ ", "  ");
    case "reply":
      return "\n" + indent(e.text, "● ", "  ");
    case "thinking":
      return "\n" + indent(e.text, "∴ ", "  ");
    case "tool_use":
      return "\n" + `● ${e.tool}(${inputSummary(e.input)})`;
    case "tool_result": {
      const lines = e.text.replace(/\n+$/, "").split("\n");
      let shown = lines.slice(0, RESULT_LINES).join("\n");
      if (lines.length > RESULT_LINES) {
        shown += `\n… ${lines.length - RESULT_LINES} more lines (--json has them all)`;
      }
      if (e.isError) shown = `Error: ${shown}`;
      return indent(shown === "" ? "(no output)" : shown, "  ⎿ ", "    ");
    }
  }
}
