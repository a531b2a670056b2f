import assert from "node:assert/strict";
import { formatDuration, formatUptime, paintStatus, statusSgr, table } from "./_format.ts";
import type { SessionStatus } from "../protocol.ts";

Deno.test("durations use the largest whole unit", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(59_999), "59s");
  assert.equal(formatDuration(120_000), "2m");
  assert.equal(formatDuration(3 * 3600_000), "3h");
  assert.equal(formatDuration(50 * 3600_000), "2d");
  assert.equal(formatDuration(-5), "0s");
  assert.equal(formatUptime(3_723_000), "1h 2m 3s");
  assert.equal(formatUptime(90_061_000), "1d 1h 1m 1s");
});

Deno.test("tables align columns, ignoring colour codes", () => {
  const t = table(["A", "BB"], [["\x1b[32mxxx\x1b[0m", "y"], ["z", "w"]]);
  assert.equal(t.replace(/\x1b\[[0-9;]*m/g, ""), "A    BB\nxxx  y\nz    w");
});

Deno.test("statuses are coloured when known, plain when not (a newer daemon's)", () => {
  assert.equal(paintStatus("running 4m", "running", true), "\x1b[32mrunning 4m\x1b[0m");
  assert.equal(paintStatus("running 4m", "running", false), "running 4m");
  assert.equal(statusSgr("waiting_permission"), "1;31");
  assert.equal(statusSgr("hibernated"), "36");
  assert.equal(statusSgr("dreaming"), "");
  assert.equal(paintStatus("dreaming 2m", "dreaming" as SessionStatus, true), "dreaming 2m");
});
