/**
 * The mock Messages API's scripting helpers, driven over HTTP with request
 * bodies shaped like claude 2.1.330's (see `_mock_api.ts`).
 */

import assert from "node:assert/strict";
import {
  isCompactionRequest,
  isSubagentRequest,
  lastToolResults,
  lastUserTexts,
  type MessagesRequestBody,
  type ReplyContext,
  scriptedReply,
  startMockApi,
  subagentId,
  taskNotifications,
} from "./_mock_api.ts";

const TOOLS = [{ name: "Bash" }, { name: "Agent" }];
const REMINDER = { type: "text", text: "<system-reminder>\nsome context\n</system-reminder>" };

/** A main-request body whose last user message has `content` (after a system message, as claude sends). */
function body(...content: Record<string, unknown>[]): MessagesRequestBody {
  return {
    model: "claude-mock",
    stream: false,
    tools: TOOLS,
    system: [{
      type: "text",
      text: "x-anthropic-billing-header: cc_version=2.1.330; cc_entrypoint=cli;",
    }],
    messages: [
      { role: "user", content: [REMINDER, { type: "text", text: "earlier prompt" }] },
      { role: "system", content: "# Environment" },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "echo hi" } },
          {
            type: "tool_use",
            id: "toolu_2",
            name: "Agent",
            input: { prompt: "x" },
          },
        ],
      },
      { role: "user", content: content as never },
    ],
  };
}

const ctx = (b: MessagesRequestBody, headers: Record<string, string> = {}): ReplyContext => ({
  seq: 1,
  path: "/v1/messages",
  headers,
  body: b,
});

async function post(url: string, b: MessagesRequestBody, headers: Record<string, string> = {}) {
  const r = await fetch(`${url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(b),
  });
  return { status: r.status, json: await r.json() };
}

Deno.test("mock api: defaultReply may be a function of the request; the queue comes first", async () => {
  const seen: ReplyContext[] = [];
  const api = await startMockApi({
    defaultReply: (req) => {
      seen.push(req);
      return `reply to ${lastUserTexts(req.body).join("|")}`;
    },
  });
  try {
    api.enqueue("queued first");
    const a = await post(api.url, body({ type: "text", text: "one" }));
    assert.equal(a.json.content[0].text, "queued first");
    assert.equal(seen.length, 0);
    const b = await post(api.url, body({ type: "text", text: "two" }), { "x-test": "1" });
    assert.equal(b.json.content[0].text, "reply to two");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers["x-test"], "1");
    assert.equal(seen[0]!.seq, api.mainRequests.at(-1)!.seq);
    // Set later, as a property.
    api.defaultReply = () => ({ type: "tool_use", name: "Bash", input: { command: "ls" } });
    const c = await post(api.url, body({ type: "text", text: "three" }));
    assert.equal(c.json.content[0].type, "tool_use");
    assert.deepEqual(c.json.content[0].input, { command: "ls" });
  } finally {
    await api.close();
  }
});

Deno.test("mock api: a defaultReply function that throws answers 400 with its message", async () => {
  const api = await startMockApi({
    defaultReply: () => {
      throw new Error("no rule for this");
    },
  });
  try {
    const r = await post(api.url, body({ type: "text", text: "one" }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, "invalid_request_error");
    assert.match(r.json.error.message, /mock defaultReply threw: no rule for this/);
  } finally {
    await api.close();
  }
});

Deno.test("mock api: clearQueue drops queued replies", async () => {
  const api = await startMockApi({ defaultReply: "default" });
  try {
    api.enqueue({ type: "error", status: 529 }, { type: "error", status: 529 });
    assert.equal(api.clearQueue(), 2);
    assert.equal(api.queued, 0);
    const r = await post(api.url, body({ type: "text", text: "one" }));
    assert.equal(r.json.content[0].text, "default");
  } finally {
    await api.close();
  }
});

Deno.test("mock api: lastUserTexts skips reminders, tool results and earlier turns", () => {
  // Queued prompts merged into one message: one block each.
  const merged = body(REMINDER, { type: "text", text: "queued one\n" }, {
    type: "text",
    text: "queued two",
  });
  assert.deepEqual(lastUserTexts(merged), ["queued one\n", "queued two"]);
  assert.deepEqual(lastUserTexts(body({ type: "tool_result", tool_use_id: "toolu_1" })), []);
  assert.deepEqual(lastUserTexts({ messages: [{ role: "user", content: "plain" }] }), ["plain"]);
  assert.deepEqual(lastUserTexts({}), []);
});

Deno.test("mock api: lastToolResults names the tool of each result", () => {
  const b = body(
    { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "hi\n" }] },
    { type: "tool_result", tool_use_id: "toolu_2", content: "Async agent launched" },
    { type: "tool_result", tool_use_id: "toolu_x", content: "", is_error: true },
  );
  assert.deepEqual(lastToolResults(b), [
    { toolUseId: "toolu_1", name: "Bash", text: "hi\n", isError: false },
    { toolUseId: "toolu_2", name: "Agent", text: "Async agent launched", isError: false },
    { toolUseId: "toolu_x", name: "", text: "", isError: true },
  ]);
  assert.deepEqual(lastToolResults(body({ type: "text", text: "no results" })), []);
});

Deno.test("mock api: taskNotifications parses the notification inside a system reminder", () => {
  const text = "<system-reminder>\n[SYSTEM NOTIFICATION - NOT USER INPUT]\n\n" +
    "<task-notification>\n<task-id>a6c58edae5785d313</task-id>\n" +
    "<tool-use-id>toolu_mock_0001</tool-use-id>\n<output-file>/tmp/x.output</output-file>\n" +
    '<status>completed</status>\n<summary>Agent "Probe agent task" finished</summary>\n' +
    "<note>…</note>\n<result>Subagent result: hi.\n</result>\n" +
    "<usage><subagent_tokens>15</subagent_tokens></usage>\n</task-notification>\n</system-reminder>";
  const b = body({ type: "text", text });
  assert.deepEqual(taskNotifications(b), [{
    taskId: "a6c58edae5785d313",
    toolUseId: "toolu_mock_0001",
    status: "completed",
    summary: 'Agent "Probe agent task" finished',
    result: "Subagent result: hi.\n",
  }]);
  assert.deepEqual(lastUserTexts(b), []);
  assert.deepEqual(taskNotifications(body({ type: "text", text: "hello" })), []);
});

Deno.test("mock api: subagent and compaction requests are recognised", () => {
  const main = body({ type: "text", text: "hello" });
  assert.equal(isSubagentRequest({ headers: {}, body: main }), false);
  assert.equal(subagentId({ headers: {} }), null);
  const headers = { "x-claude-code-agent-id": "a6c58edae5785d313" };
  assert.equal(isSubagentRequest({ headers, body: main }), true);
  assert.equal(subagentId({ headers }), "a6c58edae5785d313");
  const billed = {
    ...main,
    system: [{
      type: "text",
      text:
        "x-anthropic-billing-header: cc_version=2.1.330.e83; cc_entrypoint=cli; cc_is_subagent=true;",
    }],
  };
  assert.equal(isSubagentRequest({ headers: {}, body: billed }), true);
  assert.equal(isCompactionRequest(main), false);
  assert.equal(
    isCompactionRequest(body({
      type: "text",
      text: "CRITICAL: Respond with TEXT ONLY.\n\nYour task is to create a detailed summary of " +
        "the conversation so far, paying close attention to…",
    })),
    true,
  );
});

Deno.test("mock api: scriptedReply follows ECHO, RUN, AGENT, tool results and notifications", () => {
  const s = scriptedReply();
  assert.equal(
    s(ctx(body({ type: "text", text: "ECHO hello there\nline two" }))),
    "hello there\nline two",
  );
  assert.deepEqual(s(ctx(body({ type: "text", text: "RUN: touch x" }))), {
    type: "tool_use",
    name: "Bash",
    input: { command: "touch x", description: "Mock command" },
  });
  assert.deepEqual(s(ctx(body({ type: "text", text: "AGENT: ECHO done" }))), {
    type: "tool_use",
    name: "Agent",
    input: { description: "Mock agent task", prompt: "ECHO done" },
  });
  // Merged queued prompts: the last one counts.
  assert.equal(
    s(ctx(body({ type: "text", text: "ECHO a\n" }, { type: "text", text: "ECHO b" }))),
    "b",
  );
  assert.equal(
    s(ctx(body(
      { type: "tool_result", tool_use_id: "toolu_1", content: "hi\n" },
      { type: "tool_result", tool_use_id: "toolu_2", content: "Async agent launched" },
    ))),
    "Bash result: hi\nAgent started in the background.",
  );
  assert.equal(
    s(ctx(body({ type: "tool_result", tool_use_id: "toolu_1", content: "" }))),
    "Bash result: (no output)",
  );
  assert.equal(
    s(ctx(body({
      type: "text",
      text: "<system-reminder><task-notification><result>done\n</result></task-notification>" +
        "</system-reminder>",
    }))),
    "Agent finished: done",
  );
  assert.match(
    String(
      s(ctx(body({ type: "text", text: "create a detailed summary of the conversation so far" }))),
    ),
    /<summary>[\s\S]+<\/summary>/,
  );
  assert.equal(s(ctx(body({ type: "text", text: "just chatting" }))), "Mock reply.");
  assert.equal(
    scriptedReply({ fallback: "other" })(ctx(body({ type: "text", text: "x" }))),
    "other",
  );
});
