/**
 * A whole session record for unit tests, with `over` on top.
 *
 * @module
 */

import type { SessionRecord } from "./protocol.ts";

/** A live Claude session's record (`running`), changed by `over`. */
export function testRecord(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: "01HZZZZZZZAAAAAAAAAAAAAAAA",
    name: null,
    cwd: "/home/u/src/p",
    command: "claude",
    args: [],
    pid: 1,
    status: "running",
    statusSince: "2026-11-29T09:58:00Z",
    statusSource: "hook",
    history: [],
    created: "2026-11-29T09:00:00Z",
    updated: "2026-11-29T09:58:00Z",
    exitCode: null,
    signal: null,
    exitReason: null,
    cols: 80,
    rows: 24,
    runs: [{
      pid: 1,
      started: "2026-11-29T09:00:00Z",
      ended: null,
      exitCode: null,
      signal: null,
      exitReason: null,
      resumed: false,
    }],
    tty: null,
    hooks: true,
    conversationId: null,
    transcriptPath: null,
    lastMessage: null,
    lastError: null,
    tags: [],
    clients: 0,
    ...over,
  };
}
