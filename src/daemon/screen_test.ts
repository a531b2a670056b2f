import assert from "node:assert/strict";
import {
  FEED_BATCH_BYTES,
  FEED_DELAY_MS,
  FEED_LATEST_MS,
  feedBatchesSent,
  Screen,
} from "./screen.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Waits for `cond`, failing after `ms`. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("output fed to several screens goes to the worker in one batch, in order", async () => {
  const screens = Array.from({ length: 5 }, () => new Screen(40, 5, 100));
  try {
    const before = feedBatchesSent();
    screens.forEach((s, i) => {
      s.feed(enc(`screen ${i} line 1\r\n`));
      s.feed(enc(`screen ${i} line 2\r\n`));
    });
    assert.ok(screens.every((s) => s.pendingBytes > 0));
    // A peek sends what is queued first, so it sees all of it.
    for (const [i, s] of screens.entries()) {
      assert.equal(
        (await s.peek()).trimEnd(),
        `screen ${i} line 1\nscreen ${i} line 2`,
      );
    }
    assert.equal(feedBatchesSent() - before, 1);
    await until(() => screens.every((s) => s.pendingBytes === 0), "every feed acknowledged");
  } finally {
    for (const s of screens) s.dispose();
  }
});

Deno.test("a small feed goes to the worker on its own; a big one at once", async () => {
  const s = new Screen(40, 5, 100);
  try {
    let before = feedBatchesSent();
    s.feed(enc("quiet line"));
    assert.equal(feedBatchesSent(), before);
    // No request, no more output: it goes anyway, and is parsed.
    await until(() => feedBatchesSent() === before + 1, "the delayed batch");
    assert.equal((await s.peek()).trimEnd(), "quiet line");
    before = feedBatchesSent();
    s.feed(new Uint8Array(FEED_BATCH_BYTES).fill(0x41));
    assert.equal(feedBatchesSent() - before, 1);
    // A backlog this big is acknowledged without being asked.
    await until(() => s.pendingBytes === 0, "the big batch to be acknowledged");
    assert.match(await s.peek({ lines: 1 }), /^A+$/);
  } finally {
    s.dispose();
  }
});

Deno.test("a batch goes with the next output once it is old enough", async () => {
  const s = new Screen(40, 5, 100);
  try {
    const before = feedBatchesSent();
    s.feed(enc("one "));
    const t0 = performance.now();
    // Feed now and then until the batch goes: that is with a feed, not on the timer.
    let byFeed = false;
    while (feedBatchesSent() === before) {
      assert.ok(performance.now() - t0 < FEED_LATEST_MS, "sent before the timer");
      await new Promise((r) => setTimeout(r, 2));
      const n = feedBatchesSent();
      s.feed(enc("x"));
      byFeed = feedBatchesSent() > n;
    }
    assert.ok(byFeed, "sent by a feed");
    assert.ok(performance.now() - t0 >= FEED_DELAY_MS);
    assert.match(await s.peek(), /^one x+/);
  } finally {
    s.dispose();
  }
});

Deno.test("a screen fed faster than it parses asks to pause, then to resume", async () => {
  const calls: boolean[] = [];
  const s = new Screen(80, 24, 100, (paused) => calls.push(paused));
  try {
    const line = enc("\x1b[1;31mred\x1b[0m and some more text on a line\r\n");
    let fed = 0;
    while (fed <= Screen.HIGH_WATER) {
      s.feed(line);
      fed += line.length;
    }
    assert.deepEqual(calls, [true]);
    await until(() => calls.length === 2, "the resume");
    assert.deepEqual(calls, [true, false]);
    assert.ok(s.pendingBytes <= Screen.LOW_WATER);
  } finally {
    s.dispose();
  }
});
