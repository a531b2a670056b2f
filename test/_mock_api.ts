/**
 * A scriptable loopback mock of the Anthropic Messages API, good enough to run
 * the real Claude Code CLI (`claude`) offline in tests.
 *
 * Point claude at it with `ANTHROPIC_BASE_URL=<mock.url>` (see `_claude_home.ts`).
 *
 * - `POST /v1/messages` (with or without `?beta=true`) answers with a streamed
 *   SSE reply (or a plain JSON message when the request has `stream: false`).
 * - Requests are classified as `"main"` (the conversation: the body carries a
 *   non-empty `tools` array) or `"side"` (title generation and other helper
 *   calls claude makes with no tools). Only main requests consume the
 *   {@linkcode MockApi.enqueue} queue; side requests get a canned reply (a JSON
 *   `{"title": ...}` when a JSON schema output is requested).
 * - `POST /v1/messages/count_tokens`, `GET /v1/models`, `HEAD /api/hello` and
 *   anything else are answered gracefully and recorded in
 *   {@linkcode MockApi.allRequests}.
 * - Control endpoints for other processes: `POST /_mock/enqueue` (body: a
 *   JSON {@linkcode MockReply}, or an array of them) and `GET /_mock/requests`.
 *
 * Synchronisation is event driven: {@linkcode MockApi.waitForRequest} resolves
 * as soon as a matching request arrives, and each {@linkcode MockRequest} has a
 * `finished` promise that settles when its reply was fully sent or the client
 * hung up (e.g. claude was interrupted with Esc).
 *
 * Observed with claude 2.1.330 (see the probe report):
 * - Every conversation turn is one main request carrying the whole history
 *   (also after `--resume`); the first prompt of a session also triggers one
 *   side request (session title, `output_config.format` = JSON schema).
 * - Streamed text is rendered line by line: a chunk without `\n` is not shown
 *   until a later newline or the end of the block. Use `chunks` ending in
 *   `"\n"` plus `gate` to hold a visibly "in progress" reply.
 * - Esc during a reply closes the HTTP stream: `finished` resolves `"aborted"`
 *   within ~100 ms.
 * - Read-only Bash commands (`echo`, `ls`) run without a permission prompt even
 *   in `--permission-mode default`; use e.g. `touch x` to get a prompt. In the
 *   default "auto" mode no prompt appears at all: start claude with
 *   `--permission-mode default`.
 * - In "auto" mode a tool call that needs auto mode's server-side check (the
 *   `Agent` tool, for one) cannot get it through the mock: claude shows an
 *   "Auto mode can't check actions in this session" dialog (state file
 *   `waiting` / `dialog open`, `Notification` `agent_needs_input` ~6 s later).
 *   Use `--permission-mode default` for such tests.
 *
 * Scripting replies: {@linkcode MockApi.defaultReply} may be a function of the
 * request ({@linkcode ReplyFn}); {@linkcode scriptedReply} is one that answers
 * `ECHO <text>`, `RUN: <cmd>` (Bash) and `AGENT: <task>` (a background
 * subagent) prompts, tool results, subagent requests, task notifications and
 * compaction requests. Recognise request kinds with
 * {@linkcode isSubagentRequest}, {@linkcode isCompactionRequest},
 * {@linkcode taskNotifications}, {@linkcode lastUserTexts} and
 * {@linkcode lastToolResults}.
 *
 * Also observed with claude 2.1.330 (probe report on branch h11-research):
 * - **Subagents.** The `Agent` tool (input `description`, `prompt`, optional
 *   `subagent_type` (default `general-purpose`; `fork` forks the
 *   conversation), `model`, `effort`, `isolation`; no `run_in_background`)
 *   always runs the agent in the background: its `tool_result` says "Async
 *   agent launched successfully" at once and the main turn goes on (and
 *   usually ends: `Stop` with `background_tasks: [{id, type: "subagent",
 *   status: "running", description, agent_type}]`). The subagent's requests
 *   are main requests too (they carry tools), told apart by the header
 *   `x-claude-code-agent-id: <agent id>` and `cc_is_subagent=true` in the
 *   billing line of `system`; their first user text is the Agent `prompt`.
 *   Hooks: `PreToolUse`(Agent) → `SubagentStart` {agent_id, agent_type} →
 *   `PostToolUse`(Agent, `tool_response.status: "async_launched"`,
 *   `agentId`) → `Stop` … then, when the subagent ends, `SubagentStop`
 *   {agent_id, agent_type, agent_transcript_path, last_assistant_message}
 *   and claude starts a turn on its own: `UserPromptSubmit` whose `prompt`
 *   is the `<task-notification>…</task-notification>` text, a main request
 *   whose last user message holds it inside a `<system-reminder>` block (so
 *   {@linkcode userTexts} skips it: use {@linkcode taskNotifications}), then
 *   `Stop` with `background_tasks: []`. Claude's state file stays `busy`
 *   while a background agent runs, even when the prompt is idle.
 * - **Compaction.** `/compact` sends a main request (tools included, so it
 *   takes a queued reply) whose last user text asks to "create a detailed
 *   summary of the conversation so far" ({@linkcode isCompactionRequest});
 *   a reply without a `<summary>` block makes claude ask a second time.
 *   Hooks: `PreCompact` (trigger `manual`), `SubagentStop` (agent_type ""),
 *   `SessionStart` (source `compact`), `PostCompact` (`compact_summary`). No
 *   `UserPromptSubmit`, no `Stop`.
 * - **Prompts typed while a reply is in progress** are queued (screen:
 *   `❯ <text>` and `⎿  Queued · ctrl+x ctrl+s to send now`); each fires
 *   `UserPromptSubmit` when it is queued, not when it is taken. After the
 *   turn's `Stop`, all queued prompts go in ONE next request: one user
 *   message with one text block each (`["queued one\n", "queued two"]`), and
 *   no further `UserPromptSubmit`.
 *
 * @module
 */

/** A content block of a Messages API request message (loosely typed). */
export interface ContentBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | ContentBlock[];
  is_error?: boolean;
  [key: string]: unknown;
}

/** A message of a Messages API request. Claude Code also sends `role: "system"` messages. */
export interface RequestMessage {
  role: string;
  content: string | ContentBlock[];
}

/** The (loosely typed) JSON body of a `POST /v1/messages` request. */
export interface MessagesRequestBody {
  model?: string;
  max_tokens?: number;
  stream?: boolean;
  system?: string | ContentBlock[];
  messages?: RequestMessage[];
  tools?: { name: string; [key: string]: unknown }[];
  output_config?: { format?: { type?: string; schema?: unknown }; [key: string]: unknown };
  [key: string]: unknown;
}

/** Which kind of Messages API call a request is. */
export type RequestKind = "main" | "side";

/** How a recorded reply ended. */
export type FinishState = "done" | "aborted";

/** One `POST /v1/messages` request received by the mock. */
export interface MockRequest {
  /** 1-based sequence number across all requests received by this mock (any path). */
  seq: number;
  /** `"main"`: conversation turn (non-empty `tools`); `"side"`: title generation and other helper calls. */
  kind: RequestKind;
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  /** Lower-cased request headers. */
  headers: Record<string, string>;
  /** The parsed JSON body. */
  body: MessagesRequestBody;
  /** `Date.now()` when the request arrived. */
  receivedAt: number;
  /** The reply the mock chose for this request. */
  reply: NormalizedReply;
  /**
   * Settles when the reply has been fully written (`"done"`) or the client
   * disconnected / the mock was closed before that (`"aborted"`).
   */
  finished: Promise<FinishState>;
  /** Current state; `"streaming"` until `finished` settles. */
  state: "streaming" | FinishState;
}

/** Any HTTP request received by the mock (including non-Messages endpoints). */
export interface RawRequest {
  seq: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
}

/** Options shared by streamed replies. */
export interface StreamOptions {
  /** Milliseconds to wait before each content delta (default 0). Use with `chunks` to simulate a slow reply. */
  chunkDelayMs?: number;
  /**
   * When set, the stream stalls after the first delta until this promise
   * settles (or the client disconnects). Lets a test hold a reply "in
   * progress" without timing assumptions.
   */
  gate?: Promise<unknown>;
}

/** A plain text assistant reply. */
export interface TextReply extends StreamOptions {
  type: "text";
  text: string;
  /** Split the text into this many deltas (default 1), or give the exact chunks. */
  chunks?: number | string[];
}

/** An assistant reply that calls a tool (e.g. `Bash`), optionally preceded by text. */
export interface ToolUseReply extends StreamOptions {
  type: "tool_use";
  name: string;
  input: Record<string, unknown>;
  /** Tool use id (default: generated `toolu_mock_<n>`). */
  id?: string;
  /** Optional text block sent before the tool_use block. */
  text?: string;
}

/**
 * An HTTP error reply. Claude retries, taking the next queued reply each
 * time, so enqueue several errors in a row to make a turn fail. Observed with
 * claude 2.1.330 (each retry is a new request; `x-stainless-retry-count`
 * stays 0):
 * - 400 `invalid_request_error`: 8 requests within ~0.3 s, whatever
 *   `CLAUDE_CODE_MAX_RETRIES` says; `StopFailure` `error: "unknown"`.
 * - 500 `api_error`, 529 `overloaded_error`, 401 `authentication_error`,
 *   429 `rate_limit_error`: 1 + 10 requests with back-off (~0.6, 1.2, 2.2,
 *   4.3, 8.5, 17, 34, 36, 37, 35 s: the turn fails after ~3 minutes). Set
 *   `CLAUDE_CODE_MAX_RETRIES=N` in claude's environment for 1 + N requests
 *   (N=2: fails ~2–3 s after the prompt). `StopFailure` `error`:
 *   `server_error` (500 and 529 alike), `authentication_failed` (401),
 *   `rate_limit` (429).
 * - A failed turn fires `StopFailure` only (never `Stop`):
 *   `{"hook_event_name":"StopFailure","error":"server_error",
 *   "last_assistant_message":"API Error: 500 <message>. This is a server-side
 *   issue, …","prompt_id":…,"effort":{…}}` plus the common fields. The screen
 *   shows `● API Error: 500 <message>…` and, for retryable errors, the
 *   input placeholder `Resend your message to try again` (401: `Please run
 *   /login · API Error: 401 <message>` and `Once fixed, resend your
 *   message`); during back-off `✻ <message> · retrying in 2s · attempt 3/10`.
 *   The next successful turn fires `UserPromptSubmit` then `Stop` as usual.
 * Use {@linkcode MockApi.clearQueue} to drop errors a turn did not consume.
 */
export interface ErrorReply {
  type: "error";
  status: number;
  /** Anthropic error type, e.g. `"invalid_request_error"`, `"overloaded_error"`. */
  errorType?: string;
  message?: string;
}

/** A scripted reply: a bare string is shorthand for `{ type: "text", text }`. */
export type MockReply = string | TextReply | ToolUseReply | ErrorReply;

/** A reply after shorthand expansion. */
export type NormalizedReply = TextReply | ToolUseReply | ErrorReply;

/** What a {@linkcode ReplyFn} sees of a main request. */
export interface ReplyContext {
  /** The request's seq (as in {@linkcode MockRequest.seq}). */
  seq: number;
  path: string;
  /** Lower-cased request headers. */
  headers: Record<string, string>;
  body: MessagesRequestBody;
}

/**
 * Chooses the reply to a main request when the queue is empty. If it throws,
 * the request gets a 400 `invalid_request_error` carrying the message (claude
 * shows it as `API Error: 400 …`), and the message is logged to stderr.
 */
export type ReplyFn = (req: ReplyContext) => MockReply;

/** Options for {@linkcode startMockApi}. */
export interface MockApiOptions {
  /** Port to listen on (default 0 = any free port). Always binds 127.0.0.1. */
  port?: number;
  /** Reply for main requests when the queue is empty, or a function choosing it (default: text "Mock reply."). */
  defaultReply?: MockReply | ReplyFn;
  /** Reply text for side requests (default "Mock side reply"; JSON-schema requests get `{"title": "Mock session"}`). */
  sideReplyText?: string;
  /** Called for every HTTP request received (e.g. `(r) => console.error(r.method, r.path)`). */
  onRequest?: (req: RawRequest) => void;
}

/** A running mock Messages API server. */
export interface MockApi {
  /** Base URL, e.g. `http://127.0.0.1:41234` — use as `ANTHROPIC_BASE_URL`. */
  readonly url: string;
  /** Port the server listens on. */
  readonly port: number;
  /** Every `POST /v1/messages` request received, in arrival order (main and side). */
  readonly requests: readonly MockRequest[];
  /** Only the main (conversation) requests, in arrival order. */
  readonly mainRequests: readonly MockRequest[];
  /** Every HTTP request received on any path, in arrival order. */
  readonly allRequests: readonly RawRequest[];
  /** Number of replies still queued. */
  readonly queued: number;
  /** Queue replies for the next main requests (FIFO). */
  enqueue(...replies: MockReply[]): void;
  /** Drops every queued reply (e.g. errors a failed turn did not consume); returns how many. */
  clearQueue(): number;
  /** Reply used for main requests when the queue is empty, or a function choosing it (see {@linkcode scriptedReply}). */
  defaultReply: MockReply | ReplyFn;
  /**
   * Resolves with the first request (already received, or arriving later)
   * matching `predicate`; rejects after `timeoutMs` (default 15000) or on close.
   */
  waitForRequest(
    predicate: (req: MockRequest) => boolean,
    timeoutMs?: number,
  ): Promise<MockRequest>;
  /** Like {@linkcode waitForRequest}, restricted to main requests whose seq is greater than `afterSeq` (default 0). */
  waitForMainRequest(
    predicate?: (req: MockRequest) => boolean,
    opts?: { afterSeq?: number; timeoutMs?: number },
  ): Promise<MockRequest>;
  /** Highest request seq so far (any path); pass it as `afterSeq` to wait for the next request only. */
  readonly lastSeq: number;
  /** Stop the server, abort in-flight streams and reject pending waiters. */
  close(): Promise<void>;
}

/** Text of a message's content (text blocks only), joined with newlines. */
export function messageText(msg: RequestMessage): string {
  if (typeof msg.content === "string") return msg.content;
  return msg.content
    .filter((b) => b.type === "text" && typeof b.text === "string")
    .map((b) => b.text as string)
    .join("\n");
}

/**
 * The user-typed texts of a request: every text block of every `user`
 * message (string contents included), excluding claude's injected
 * `<system-reminder>` blocks, in order. E.g. after two turns:
 * `["first prompt", "second prompt"]`. Claude's own markers such as
 * `"[Request interrupted by user]\n"` also appear here.
 */
export function userTexts(body: MessagesRequestBody): string[] {
  const out: string[] = [];
  for (const m of body.messages ?? []) {
    if (m.role !== "user") continue;
    const blocks: ContentBlock[] = typeof m.content === "string"
      ? [{ type: "text", text: m.content }]
      : m.content;
    for (const b of blocks) {
      if (b.type !== "text" || typeof b.text !== "string") continue;
      if (b.text.trimStart().startsWith("<system-reminder>")) continue;
      out.push(b.text);
    }
  }
  return out;
}

/** Text of every assistant message in the request (i.e. earlier replies sent back as history). */
export function assistantTexts(body: MessagesRequestBody): string[] {
  return (body.messages ?? []).filter((m) => m.role === "assistant").map(messageText)
    .filter((t) => t !== "");
}

/** The `tool_result` blocks of a request, e.g. to check a Bash command's output or a rejection. */
export function toolResults(
  body: MessagesRequestBody,
): { toolUseId: string; text: string; isError: boolean }[] {
  const out: { toolUseId: string; text: string; isError: boolean }[] = [];
  for (const m of body.messages ?? []) {
    if (typeof m.content === "string") continue;
    for (const b of m.content) {
      if (b.type !== "tool_result") continue;
      const c = b.content;
      const text = typeof c === "string"
        ? c
        : Array.isArray(c)
        ? c.filter((x) => x.type === "text").map((x) => String(x.text ?? "")).join("\n")
        : "";
      out.push({ toolUseId: String(b.tool_use_id ?? ""), text, isError: b.is_error === true });
    }
  }
  return out;
}

/** The last `user` message of a request (claude may put a `system` message after it). */
function lastUserMessage(body: MessagesRequestBody): RequestMessage | undefined {
  const msgs = body.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]!.role === "user") return msgs[i];
  return undefined;
}

function blocksOf(m: RequestMessage): ContentBlock[] {
  return typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
}

/**
 * The user-typed texts of the request's last user message (no
 * `<system-reminder>` blocks): `["the prompt"]` for a plain turn; one entry
 * per prompt when claude merged prompts queued during the previous turn
 * (`["queued one\n", "queued two"]`); `[]` when the message holds only tool
 * results or a task notification. For a subagent's request, the Agent
 * tool's `prompt`.
 */
export function lastUserTexts(body: MessagesRequestBody): string[] {
  const m = lastUserMessage(body);
  if (!m) return [];
  return blocksOf(m)
    .filter((b) => b.type === "text" && typeof b.text === "string")
    .map((b) => b.text as string)
    .filter((t) => !t.trimStart().startsWith("<system-reminder>"));
}

/** A tool result of the last user message, with the name of the tool that produced it. */
export interface LastToolResult {
  toolUseId: string;
  /** The `name` of the matching `tool_use` block (e.g. `"Bash"`, `"Agent"`), or `""` if not found. */
  name: string;
  text: string;
  isError: boolean;
}

/** The `tool_result` blocks of the request's last user message (the results claude sends back this turn). */
export function lastToolResults(body: MessagesRequestBody): LastToolResult[] {
  const m = lastUserMessage(body);
  if (!m || typeof m.content === "string") return [];
  const ids = new Set(
    m.content.filter((b) => b.type === "tool_result").map((b) => String(b.tool_use_id ?? "")),
  );
  if (ids.size === 0) return [];
  const names = new Map<string, string>();
  for (const msg of body.messages ?? []) {
    if (msg.role !== "assistant" || typeof msg.content === "string") continue;
    for (const b of msg.content) {
      if (b.type === "tool_use" && typeof b.id === "string") names.set(b.id, String(b.name ?? ""));
    }
  }
  return toolResults({ messages: [m] }).map((r) => ({ ...r, name: names.get(r.toolUseId) ?? "" }));
}

/** A background task's completion, as claude reports it to the model. */
export interface TaskNotification {
  /** The agent id (as in `SubagentStart`'s `agent_id`). */
  taskId: string;
  toolUseId: string;
  /** E.g. `"completed"`. */
  status: string;
  /** E.g. `Agent "Probe agent task" finished`. */
  summary: string;
  /** The subagent's final text. */
  result: string;
}

/**
 * The `<task-notification>` blocks of the request's last user message. When a
 * background subagent finishes, claude starts a turn by itself whose user
 * message is a `<system-reminder>` holding `<task-notification><task-id>…
 * </task-id><tool-use-id>…</tool-use-id><output-file>…</output-file><status>
 * completed</status><summary>Agent "…" finished</summary><note>…</note>
 * <result>…</result><usage>…</usage></task-notification>`.
 */
export function taskNotifications(body: MessagesRequestBody): TaskNotification[] {
  const m = lastUserMessage(body);
  if (!m) return [];
  const out: TaskNotification[] = [];
  const tag = (text: string, name: string) =>
    new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(text)?.[1] ?? "";
  for (const b of blocksOf(m)) {
    if (b.type !== "text" || typeof b.text !== "string") continue;
    for (const n of b.text.matchAll(/<task-notification>([\s\S]*?)<\/task-notification>/g)) {
      const t = n[1]!;
      out.push({
        taskId: tag(t, "task-id"),
        toolUseId: tag(t, "tool-use-id"),
        status: tag(t, "status"),
        summary: tag(t, "summary"),
        result: tag(t, "result"),
      });
    }
  }
  return out;
}

/** Text of a request's `system` field. */
function systemText(body: MessagesRequestBody): string {
  const s = body.system;
  if (typeof s === "string") return s;
  return (s ?? []).map((b) => (typeof b.text === "string" ? b.text : "")).join("\n");
}

/**
 * The subagent id of a request made by a subagent (header
 * `x-claude-code-agent-id`), or null for the main conversation's requests.
 */
export function subagentId(req: { headers: Record<string, string> }): string | null {
  return req.headers["x-claude-code-agent-id"] ?? null;
}

/**
 * Whether a request comes from a subagent rather than the main conversation:
 * it has the `x-claude-code-agent-id` header, or `cc_is_subagent=true` in the
 * billing line of its `system` (claude 2.1.330 sends both).
 */
export function isSubagentRequest(
  req: { headers: Record<string, string>; body: MessagesRequestBody },
): boolean {
  return subagentId(req) !== null || /\bcc_is_subagent=true\b/.test(systemText(req.body));
}

/** Whether a request is claude's `/compact` (or auto-compact) summary request. */
export function isCompactionRequest(body: MessagesRequestBody): boolean {
  return lastUserTexts(body).some((t) =>
    t.includes("create a detailed summary of the conversation so far")
  );
}

/** Options for {@linkcode scriptedReply}. */
export interface ScriptedReplyOptions {
  /** Reply to anything no rule matches (default: text "Mock reply."). */
  fallback?: MockReply;
}

/**
 * A {@linkcode ReplyFn} driven by the prompts themselves, so a test can
 * script a conversation by what it types. Rules, first match wins:
 *
 * 1. a compaction request: a text with `<analysis>` and `<summary>` blocks;
 * 2. the last user text (see {@linkcode lastUserTexts}; when queued prompts
 *    were merged, the last of them), trimmed, is
 *    - `ECHO <text>`: the text reply `<text>`;
 *    - `RUN: <cmd>`: a `Bash` tool_use `{command: <cmd>, description: "Mock command"}`;
 *    - `AGENT: <task>`: an `Agent` tool_use `{description: "Mock agent task",
 *      prompt: <task>}`, which starts a background subagent. Its requests
 *      follow these same rules with `<task>` as their prompt, so
 *      `AGENT: ECHO done` makes the subagent answer `done`;
 * 3. tool results came back: `Agent started in the background.` for the
 *    Agent tool, else `<tool name> result: <output>` (`(no output)` when
 *    empty), one line per result;
 * 4. a task notification: `Agent finished: <result>`;
 * 5. otherwise `fallback`.
 *
 * Combine with your own function for the rest, e.g. to hold subagents:
 * `api.defaultReply = (r) => isSubagentRequest(r) ? { type: "text", text: "x", gate } : scripted(r)`.
 */
export function scriptedReply(opts: ScriptedReplyOptions = {}): ReplyFn {
  const fallback = opts.fallback ?? "Mock reply.";
  return (req) => {
    const body = req.body;
    if (isCompactionRequest(body)) {
      return "<analysis>Mock analysis.</analysis>\n<summary>Mock summary of the conversation.</summary>";
    }
    const text = (lastUserTexts(body).at(-1) ?? "").trim();
    const echo = /^ECHO\s([\s\S]*)$/.exec(text);
    if (echo) return echo[1]!;
    const run = /^RUN:\s*([\s\S]+)$/.exec(text);
    if (run) {
      return {
        type: "tool_use",
        name: "Bash",
        input: { command: run[1]!, description: "Mock command" },
      };
    }
    const agent = /^AGENT:\s*([\s\S]+)$/.exec(text);
    if (agent) {
      return {
        type: "tool_use",
        name: "Agent",
        input: { description: "Mock agent task", prompt: agent[1]! },
      };
    }
    const results = lastToolResults(body);
    if (results.length > 0) {
      return results.map((r) =>
        r.name === "Agent"
          ? "Agent started in the background."
          : `${r.name || "Tool"} result: ${r.text.trim() || "(no output)"}`
      ).join("\n");
    }
    const notes = taskNotifications(body);
    if (notes.length > 0) return notes.map((n) => `Agent finished: ${n.result.trim()}`).join("\n");
    return fallback;
  };
}

function normalize(reply: MockReply): NormalizedReply {
  return typeof reply === "string" ? { type: "text", text: reply } : reply;
}

function isMain(body: MessagesRequestBody): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}

function splitText(text: string, chunks: number | string[] | undefined): string[] {
  if (Array.isArray(chunks)) return chunks;
  const n = Math.max(1, Math.min(chunks ?? 1, text.length || 1));
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [""];
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Waiter {
  predicate: (req: MockRequest) => boolean;
  resolve: (req: MockRequest) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Start a mock Messages API on 127.0.0.1 (a free port unless `opts.port` is given). */
export async function startMockApi(opts: MockApiOptions = {}): Promise<MockApi> {
  const queue: NormalizedReply[] = [];
  const requests: MockRequest[] = [];
  const allRequests: RawRequest[] = [];
  const waiters = new Set<Waiter>();
  const inflight = new Set<AbortController>();
  const shutdown = new AbortController();
  let seq = 0;
  let msgCounter = 0;
  let closed = false;
  let defaultReply: MockReply | ReplyFn = opts.defaultReply ?? "Mock reply.";
  const sideReplyText = opts.sideReplyText ?? "Mock side reply";

  const notify = (req: MockRequest) => {
    for (const w of [...waiters]) {
      let ok = false;
      try {
        ok = w.predicate(req);
      } catch (e) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(e instanceof Error ? e : new Error(String(e)));
        continue;
      }
      if (ok) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(req);
      }
    }
  };

  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });

  const waitGate = (gate: Promise<unknown>, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      gate.then(done, done);
    });

  /** SSE event list for a reply, as (delayBefore, text) steps. */
  function events(reply: TextReply | ToolUseReply, model: string, id: string) {
    const steps: { delay: boolean; gateAfter?: boolean; data: string }[] = [];
    const usage = {
      input_tokens: 10,
      output_tokens: 1,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    steps.push({
      delay: false,
      data: sse("message_start", {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      }),
    });
    let index = 0;
    let first = true;
    const text = reply.text;
    if (text !== undefined) {
      steps.push({
        delay: false,
        data: sse("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "" },
        }),
      });
      const chunks = reply.type === "text" ? splitText(text, reply.chunks) : [text];
      for (const c of chunks) {
        steps.push({
          delay: true,
          gateAfter: first,
          data: sse("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "text_delta", text: c },
          }),
        });
        first = false;
      }
      steps.push({
        delay: false,
        data: sse("content_block_stop", { type: "content_block_stop", index }),
      });
      index++;
    }
    if (reply.type === "tool_use") {
      const toolId = reply.id ?? `toolu_mock_${String(++msgCounter).padStart(4, "0")}`;
      steps.push({
        delay: false,
        data: sse("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: toolId, name: reply.name, input: {} },
        }),
      });
      steps.push({
        delay: true,
        gateAfter: first,
        data: sse("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: JSON.stringify(reply.input) },
        }),
      });
      steps.push({
        delay: false,
        data: sse("content_block_stop", { type: "content_block_stop", index }),
      });
    }
    steps.push({
      delay: false,
      data: sse("message_delta", {
        type: "message_delta",
        delta: {
          stop_reason: reply.type === "tool_use" ? "tool_use" : "end_turn",
          stop_sequence: null,
        },
        usage: { output_tokens: 5 },
      }),
    });
    steps.push({ delay: false, data: sse("message_stop", { type: "message_stop" }) });
    return steps;
  }

  function jsonMessage(reply: TextReply | ToolUseReply, model: string, id: string) {
    const content: unknown[] = [];
    if (reply.text !== undefined) content.push({ type: "text", text: reply.text });
    if (reply.type === "tool_use") {
      content.push({
        type: "tool_use",
        id: reply.id ?? `toolu_mock_${String(++msgCounter).padStart(4, "0")}`,
        name: reply.name,
        input: reply.input,
      });
    }
    return {
      id,
      type: "message",
      role: "assistant",
      model,
      content,
      stop_reason: reply.type === "tool_use" ? "tool_use" : "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5 },
    };
  }

  function chooseDefault(ctx: ReplyContext): NormalizedReply {
    if (typeof defaultReply !== "function") return normalize(defaultReply);
    try {
      return normalize(defaultReply(ctx));
    } catch (e) {
      const message = `mock defaultReply threw: ${e instanceof Error ? e.message : String(e)}`;
      console.error(message);
      return { type: "error", status: 400, errorType: "invalid_request_error", message };
    }
  }

  function sideReply(body: MessagesRequestBody): NormalizedReply {
    const fmt = body.output_config?.format;
    if (fmt?.type === "json_schema") {
      const schema = fmt.schema as { properties?: Record<string, unknown> } | undefined;
      const props = Object.keys(schema?.properties ?? {});
      const obj: Record<string, string> = {};
      for (const p of props) obj[p] = p === "title" ? "Mock session" : sideReplyText;
      return { type: "text", text: JSON.stringify(obj) };
    }
    return { type: "text", text: sideReplyText };
  }

  function handleMessages(raw: RawRequest): Response {
    let body: MessagesRequestBody;
    try {
      body = JSON.parse(raw.body) as MessagesRequestBody;
    } catch {
      return Response.json(
        { type: "error", error: { type: "invalid_request_error", message: "mock: bad JSON" } },
        { status: 400 },
      );
    }
    const kind: RequestKind = isMain(body) ? "main" : "side";
    const reply: NormalizedReply = kind === "main"
      ? (queue.shift() ??
        chooseDefault({ seq: raw.seq, path: raw.path, headers: raw.headers, body }))
      : sideReply(body);
    let settle!: (s: FinishState) => void;
    const finished = new Promise<FinishState>((r) => (settle = r));
    const rec: MockRequest = {
      seq: raw.seq,
      kind,
      path: raw.path,
      headers: raw.headers,
      body,
      receivedAt: raw.receivedAt,
      reply,
      finished,
      state: "streaming",
    };
    const finish = (s: FinishState) => {
      if (rec.state !== "streaming") return;
      rec.state = s;
      settle(s);
    };
    requests.push(rec);
    notify(rec);

    if (reply.type === "error") {
      finish("done");
      return Response.json(
        {
          type: "error",
          error: { type: reply.errorType ?? "api_error", message: reply.message ?? "mock error" },
        },
        { status: reply.status },
      );
    }
    const model = body.model ?? "claude-mock";
    const id = `msg_mock_${String(raw.seq).padStart(6, "0")}`;
    if (body.stream !== true) {
      finish("done");
      return Response.json(jsonMessage(reply, model, id));
    }

    const steps = events(reply, model, id);
    // Aborted by the client hanging up (stream cancel) or by close().
    const ctl = new AbortController();
    inflight.add(ctl);
    const enc = new TextEncoder();
    let i = 0;
    const stop = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      inflight.delete(ctl);
      finish("aborted");
      try {
        controller.close(); // the client sees a truncated stream (no message_stop)
      } catch { /* already closed */ }
    };
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (ctl.signal.aborted) return stop(controller);
        const step = steps[i++]!;
        if (step.delay) await sleep(reply.chunkDelayMs ?? 0, ctl.signal);
        if (ctl.signal.aborted) return stop(controller);
        controller.enqueue(enc.encode(step.data));
        if (i >= steps.length) {
          inflight.delete(ctl);
          finish("done");
          controller.close();
          return;
        }
        if (step.gateAfter && reply.gate) await waitGate(reply.gate, ctl.signal);
      },
      cancel() {
        ctl.abort();
        inflight.delete(ctl);
        finish("aborted");
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "request-id": `req_mock_${raw.seq}`,
      },
    });
  }

  const handler = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    const raw: RawRequest = {
      seq: ++seq,
      method: req.method,
      path: u.pathname + u.search,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? "" : await req.text(),
      receivedAt: Date.now(),
    };
    allRequests.push(raw);
    opts.onRequest?.(raw);
    const p = u.pathname.replace(/\/+$/, "");

    if (req.method === "POST" && p === "/v1/messages") return handleMessages(raw);
    if (req.method === "POST" && p === "/v1/messages/count_tokens") {
      return Response.json({ input_tokens: Math.max(1, Math.ceil(raw.body.length / 4)) });
    }
    if (req.method === "GET" && p === "/v1/models") {
      return Response.json({
        data: [{
          type: "model",
          id: "claude-mock",
          display_name: "Claude Mock",
          created_at: "2025-01-01T00:00:00Z",
        }],
        has_more: false,
        first_id: "claude-mock",
        last_id: "claude-mock",
      });
    }
    if (req.method === "POST" && p === "/_mock/enqueue") {
      try {
        const v = JSON.parse(raw.body) as MockReply | MockReply[];
        api.enqueue(...(Array.isArray(v) ? v : [v]));
        return Response.json({ queued: queue.length });
      } catch (e) {
        return Response.json({ error: String(e) }, { status: 400 });
      }
    }
    if (req.method === "GET" && p === "/_mock/requests") {
      return Response.json(
        requests.map(({ finished: _f, ...r }) => r),
      );
    }
    if (req.method === "HEAD" || req.method === "GET") return new Response(null, { status: 200 });
    return Response.json(
      { type: "error", error: { type: "not_found_error", message: `mock: no route ${p}` } },
      { status: 404 },
    );
  };

  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    signal: shutdown.signal,
    onListen: (addr) => onListen(addr as Deno.NetAddr),
  }, handler);
  const addr = await listening;

  const api: MockApi = {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    get requests() {
      return requests;
    },
    get mainRequests() {
      return requests.filter((r) => r.kind === "main");
    },
    get allRequests() {
      return allRequests;
    },
    get queued() {
      return queue.length;
    },
    get lastSeq() {
      return seq;
    },
    get defaultReply() {
      return defaultReply;
    },
    set defaultReply(r: MockReply | ReplyFn) {
      defaultReply = r;
    },
    enqueue(...replies: MockReply[]) {
      for (const r of replies) queue.push(normalize(r));
    },
    clearQueue() {
      return queue.splice(0).length;
    },
    waitForRequest(predicate, timeoutMs = 15000) {
      const found = requests.find(predicate);
      if (found) return Promise.resolve(found);
      if (closed) return Promise.reject(new Error("mock api closed"));
      return new Promise<MockRequest>((resolve, reject) => {
        const w: Waiter = {
          predicate,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(w);
            reject(new Error(`mock api: no matching request within ${timeoutMs}ms`));
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },
    waitForMainRequest(predicate = () => true, o = {}) {
      const after = o.afterSeq ?? 0;
      return api.waitForRequest(
        (r) => r.kind === "main" && r.seq > after && predicate(r),
        o.timeoutMs,
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error("mock api closed"));
      }
      waiters.clear();
      for (const c of inflight) c.abort();
      shutdown.abort();
      await server.finished;
    },
  };
  return api;
}
