import assert from "node:assert/strict";
import { parseTagEdits } from "./tag.ts";

Deno.test("tag edits: +T and bare T add, -T removes; a lone sign is a usage error", () => {
  assert.deepEqual(parseTagEdits(["+a", "b", "-c", "+d"]), {
    add: ["a", "b", "d"],
    remove: ["c"],
  });
  assert.deepEqual(parseTagEdits([]), { add: [], remove: [] });
  assert.throws(() => parseTagEdits(["+"]), /a tag is missing after the sign/);
  assert.throws(() => parseTagEdits(["-"]), /a tag is missing/);
});
