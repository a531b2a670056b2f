import assert from "node:assert/strict";
import { describe } from "./events.ts";

Deno.test("events: the human line escapes control characters from names and details", () => {
  const line = describe({
    event: "status",
    at: "2026-01-02T03:04:05.678Z",
    id: "01HZZZZZZZZZZZZZZZZZZZZZZZ",
    name: "n",
    status: "waiting_permission",
    previous: "running",
    source: "hook",
    detail: "Notification: allow \x1b[2J\x07rm -rf?\nfake line",
  });
  assert.equal(
    line,
    "03:04:05.678 01HZZZZZZZZZZZZZZZZZZZZZZZ (n) running -> waiting_permission " +
      "[hook: Notification: allow \\e[2J\\x07rm -rf?\\nfake line]",
  );
});

Deno.test("events: a notified event says what kind, through what, and how it went", () => {
  const base = {
    event: "notified" as const,
    at: "2026-01-02T03:04:05.678Z",
    id: "01HZZZZZZZZZZZZZZZZZZZZZZZ",
    name: "n",
    status: "waiting_permission" as const,
    previous: null,
    source: "hook" as const,
  };
  const n = { kind: "permission" as const, title: "t", body: "b", notifier: "notify-send" };
  assert.equal(
    describe({ ...base, notification: { ...n, outcome: "sent" } }),
    "03:04:05.678 01HZZZZZZZZZZZZZZZZZZZZZZZ (n) notified (permission) via notify-send: sent",
  );
  assert.equal(
    describe({ ...base, notification: { ...n, outcome: "timeout", error: "killed after 10s" } }),
    "03:04:05.678 01HZZZZZZZZZZZZZZZZZZZZZZZ (n) notified (permission) via notify-send: " +
      "timeout (killed after 10s)",
  );
});
