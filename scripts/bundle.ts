/**
 * `deno task bundle`: the launcher's bundle, `dist/bundle/` — the program
 * split per command (`deno bundle --code-splitting`), with the worker
 * threads' entries under `daemon/`, and its entry renamed
 * `claude-sessions.js`.
 *
 * Deno loads every statically analyzable dynamic import (`import("./x.js")`)
 * of a program before running it, so that the whole bundle would be read
 * and analysed for `ls` too. Written as `import(String("./x.js"))` they are
 * loaded when the command needs them: `ls` reads 13 of its files, not 48.
 *
 *   deno run -A scripts/bundle.ts
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const OUT = `${ROOT}dist/bundle`;
const ENTRIES = [
  "src/main.ts",
  "src/daemon/_screen_worker.ts",
  "src/daemon/_gzip_worker.ts",
  "src/daemon/_pty_reactor_worker.ts",
];

/**
 * `code` with each dynamic import of a bundle file (`./` or `../`, for which
 * `exists` says yes) written so that Deno does not load it ahead of time.
 */
export function lazyImports(code: string, exists: (relative: string) => boolean): string {
  return code.replace(
    /\bimport\("(\.\.?\/[A-Za-z0-9_./-]+\.js)"\)/g,
    (all, path: string) => (exists(path) ? `import(String(${JSON.stringify(path)}))` : all),
  );
}

function* files(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* files(p);
    else if (e.name.endsWith(".js")) yield p;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--code-splitting",
      "--platform",
      "deno",
      "--outdir",
      OUT,
      ...ENTRIES,
    ],
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exit(out.code || 1);
  await Deno.rename(`${OUT}/main.js`, `${OUT}/claude-sessions.js`);
  for (const file of files(OUT)) {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const code = await Deno.readTextFile(file);
    if (code.includes('/main.js"')) {
      console.error(`bundle: ${file} imports the entry, which was renamed`);
      Deno.exit(1);
    }
    const lazy = lazyImports(code, (rel) => isFile(`${dir}/${rel}`));
    if (lazy !== code) await Deno.writeTextFile(file, lazy);
  }
}
