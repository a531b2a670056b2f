import assert from "node:assert/strict";
import { printable } from "./printable.ts";

Deno.test("printable: controls become visible escapes; other text is untouched", () => {
  assert.equal(printable("plain/dir with spaces é 日本"), "plain/dir with spaces é 日本");
  assert.equal(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  assert.equal(printable("\x1b]0;pwned\x07\x1b[2J"), "\\e]0;pwned\\x07\\e[2J");
  assert.equal(printable("\x00\x7f\x9b"), "\\x00\\x7f\\x9b");
  assert.equal(printable("abc\u202edef\u2066\u2028"), "abc\\u202edef\\u2066\\u2028");
  // Nothing in the result can act on a terminal.
  assert.doesNotMatch(printable("\x1b\x07\n\u0085"), /[\x00-\x1f\x7f-\x9f]/);
});
