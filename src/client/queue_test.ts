import assert from "node:assert/strict";
import { BoundedQueue } from "./queue.ts";

Deno.test("BoundedQueue: items in order; a waiting reader is woken; end after the rest", async () => {
  const q = new BoundedQueue<number>(10, () => new Error("overflow"));
  const first = q.next();
  q.push(1);
  assert.deepEqual(await first, { done: false, value: 1 });
  q.push(2);
  q.push(3);
  q.end();
  q.push(4); // after the end: dropped
  const got: number[] = [];
  for await (const n of q) got.push(n);
  assert.deepEqual(got, [2, 3]);
});

Deno.test("BoundedQueue: past the limit the reader gets the overflow after what was queued", async () => {
  const q = new BoundedQueue<number>(3, () => new Error("fell behind"));
  for (let i = 0; i < 5; i++) q.push(i);
  assert.equal(q.size, 3);
  assert.deepEqual(await q.next(), { done: false, value: 0 });
  assert.deepEqual(await q.next(), { done: false, value: 1 });
  assert.deepEqual(await q.next(), { done: false, value: 2 });
  await assert.rejects(() => q.next(), /fell behind/);
});

Deno.test("BoundedQueue: a long stream read as it comes stays bounded", async () => {
  const q = new BoundedQueue<number>(4, () => new Error("overflow"));
  let sum = 0;
  const reader = (async () => {
    for await (const n of q) sum += n;
  })();
  for (let i = 1; i <= 600; i++) {
    q.push(i);
    if (i % 3 === 0) await new Promise((r) => setTimeout(r, 0)); // the reader catches up
  }
  q.end();
  await reader;
  assert.equal(sum, (600 * 601) / 2);
});
