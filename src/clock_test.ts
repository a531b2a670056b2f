import assert from "node:assert/strict";
import { alignedDelay } from "./clock.ts";

Deno.test("alignedDelay: fires at the first grid point at or after the due time", () => {
  assert.equal(alignedDelay(1000, 1100, 250), 250); // due 1100 -> 1250
  assert.equal(alignedDelay(1000, 1250, 250), 250); // on the grid already
  assert.equal(alignedDelay(1010, 1260, 250), 490); // -> 1500
  assert.equal(alignedDelay(2000, 1000, 250), 0); // overdue: at once
  // Two sessions due at different times within one step fire together.
  assert.equal(1000 + alignedDelay(1000, 1020, 250), 1100 + alignedDelay(1100, 1240, 250));
});
