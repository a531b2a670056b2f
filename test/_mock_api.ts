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
 * An HTTP error reply. Claude 2.1.330 retried both a 400 (immediately) and
 * 529s (after ~0.6 s, ~1.2 s, ...), taking the next queued reply each time, so
 * enqueue several errors in a row to make a turn fail.
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

/** Options for {@linkcode startMockApi}. */
export interface MockApiOptions {
  /** Port to listen on (default 0 = any free port). Always binds 127.0.0.1. */
  port?: number;
  /** Reply for main requests when the queue is empty (default: text "Mock reply."). */
  defaultReply?: MockReply;
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
  /** Reply used for main requests when the queue is empty. */
  defaultReply: MockReply;
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
  let defaultReply: MockReply = opts.defaultReply ?? "Mock reply.";
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
      ? (queue.shift() ?? normalize(defaultReply))
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
    set defaultReply(r: MockReply) {
      defaultReply = r;
    },
    enqueue(...replies: MockReply[]) {
      for (const r of replies) queue.push(normalize(r));
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
