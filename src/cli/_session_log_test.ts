import assert from "node:assert/strict";
import { parseSince } from "./_session_log.ts";
import { UsageError } from "./_errors.ts";

Deno.test("--since: durations back from now, or dates and times", () => {
  const now = Date.parse("2026-02-07T18:00:00Z");
  assert.equal(parseSince("30s", "logs", now), now - 30_000);
  assert.equal(parseSince("10m", "logs", now), now - 600_000);
  assert.equal(parseSince("1.5h", "logs", now), now - 5_400_000);
  assert.equal(parseSince("2d", "logs", now), now - 2 * 86_400_000);
  assert.equal(parseSince("1w", "logs", now), now - 7 * 86_400_000);
  assert.equal(parseSince("2026-02-07T17:15:00Z", "logs", now), Date.parse("2026-02-07T17:15:00Z"));
  assert.equal(parseSince("2026-02-07", "logs", now), Date.parse("2026-02-07"));
  for (const bad of ["yesterday", "10", "-5m", "5 m", "Feb 7"]) {
    assert.throws(() => parseSince(bad, "logs", now), UsageError, bad);
  }
});
