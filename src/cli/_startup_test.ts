/**
 * What the short commands load before they can answer: every module of a
 * command's static import graph is read and compiled at each start (~0.1 ms
 * a file, more for big ones), so what only some paths need is imported
 * where it is needed.
 */

import assert from "node:assert/strict";

const SRC = new URL("..", import.meta.url).pathname;

interface Dep {
  code?: { specifier: string };
  isDynamic?: boolean;
}

/** The modules `entry` loads before it runs: its static imports, transitively (not types, not `import()`). */
async function staticGraph(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${SRC}${entry}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: Dep[] }[];
  };
  const deps = new Map(info.modules.map((m) => [m.specifier, m.dependencies ?? []]));
  const seen = new Set<string>();
  const visit = (spec: string) => {
    if (seen.has(spec)) return;
    seen.add(spec);
    for (const d of deps.get(spec) ?? []) {
      if (d.code && !d.isDynamic) visit(d.code.specifier);
    }
  };
  visit(new URL(entry, `file://${SRC}`).href);
  return new Set([...seen].map((s) => s.replace(`file://${SRC}`, "")));
}

/** Needed only off the common path: with --hosts, --host, or when no daemon answers. */
const ONLY_WHEN_NEEDED = [
  "cli/_hosts.ts",
  "client/ssh.ts",
  "config.ts",
  "ownership.ts",
  "service/service.ts",
  "service/background.ts",
];

for (const entry of ["main.ts", "cli/ls.ts", "cli/new.ts"]) {
  Deno.test(`${entry} loads only what its common path needs`, async () => {
    const graph = await staticGraph(entry);
    assert.ok(graph.has(entry), [...graph].join(" "));
    for (const m of ONLY_WHEN_NEEDED) {
      assert.ok(!graph.has(m), `${entry} imports ${m} up front`);
    }
    // No Node compatibility layer or npm package either (each costs milliseconds to set up).
    const foreign = [...graph].filter((s) => /^(node|npm):/.test(s));
    assert.deepEqual(foreign, [], `${entry} imports ${foreign.join(", ")}`);
  });
}
