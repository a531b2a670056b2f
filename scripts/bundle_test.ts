import assert from "node:assert/strict";
import { lazyImports } from "./bundle.ts";

Deno.test("lazyImports: dynamic imports of bundle files are no longer statically analyzable", () => {
  const code = [
    'load: () => import("./ls-D5E3KLJ3.js"),',
    'const w = await import("../chunk-MCGVQAC3.js");',
    'import("./missing.js");',
    'import("node:fs");',
    'import { a } from "./chunk-ZSLP5RH6.js";',
    'const s = "import(\\"./ls-D5E3KLJ3.js\\")";',
  ].join("\n");
  const exists = (p: string) => p !== "./missing.js";
  assert.equal(
    lazyImports(code, exists),
    [
      'load: () => import(String("./ls-D5E3KLJ3.js")),',
      'const w = await import(String("../chunk-MCGVQAC3.js"));',
      'import("./missing.js");',
      'import("node:fs");',
      'import { a } from "./chunk-ZSLP5RH6.js";',
      'const s = "import(\\"./ls-D5E3KLJ3.js\\")";',
    ].join("\n"),
  );
});
