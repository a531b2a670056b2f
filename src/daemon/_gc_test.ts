import assert from "node:assert/strict";
import { COLLECT_AFTER_BYTES, Collector, QUIET_BYTES } from "./_gc.ts";

/** A collector over a pretend heap: `heap.used` is what it measures; a collection frees `heap.garbage`. */
function pretend() {
  const heap = { used: 0, garbage: 0, runs: 0 };
  const c = new Collector(() => {
    heap.runs++;
    heap.used -= heap.garbage;
    heap.garbage = 0;
  }, () => heap.used);
  return { heap, c };
}

Deno.test("Collector: collects once the heap has grown and stopped changing", () => {
  const { heap, c } = pretend();
  assert.equal(c.check(), false, "nothing grew");
  heap.used += COLLECT_AFTER_BYTES / 2;
  heap.garbage = COLLECT_AFTER_BYTES / 4;
  assert.equal(c.check(), false, "not grown enough");
  heap.used += COLLECT_AFTER_BYTES;
  assert.equal(c.check(), false, "grown, but still changing (a burst goes on)");
  heap.used += QUIET_BYTES / 2;
  assert.equal(c.check(), true, "grown and quiet");
  assert.equal(heap.runs, 1);
  assert.equal(c.check(), false, "no growth since");
  heap.used += COLLECT_AFTER_BYTES - 1;
  assert.equal(c.check(), false, "changing");
  assert.equal(c.check(), false, "quiet, but not grown enough since the last time");
  assert.equal(heap.runs, 1);
});

Deno.test("Collector: collects when asked, once quiet, without growth", () => {
  const { heap, c } = pretend();
  c.check();
  c.request();
  heap.used += QUIET_BYTES * 2;
  assert.equal(c.check(), false, "changing");
  assert.equal(c.check(), true);
  assert.equal(c.check(), false, "once");
  assert.equal(heap.runs, 1);
});

Deno.test("Collector: nothing where V8 does not expose gc", () => {
  const c = new Collector(undefined);
  c.request();
  assert.equal(c.check(), false);
  assert.equal(c.check(), false);
});
