/**
 * Where a worker thread's module is, however the program runs: beside the
 * calling module when running from source or compiled (`deno compile
 * --include` embeds it), or — in the launcher's bundle (`deno task bundle`:
 * one directory, split per command) — the worker's own entry file, which
 * sits under `daemon/` of the bundle's directory. Every other module of the
 * bundle is a chunk at the top of that directory, so the worker's entry is
 * found relative to the caller.
 *
 * @module
 */

/**
 * The URL of worker module `source` (relative to `here`, the caller's
 * `import.meta.url`), or of its bundle entry `bundled` when `here` is a bundle.
 */
export function workerUrl(here: string, source: string, bundled: string): string {
  if (new URL(here).pathname.endsWith(".ts")) return new URL(source, here).href;
  return new URL(`./${bundled}`, here).href;
}

/** The worker entries of the bundle, relative to its directory (see the `bundle` task). */
export const WORKER_BUNDLES = {
  screen: "daemon/_screen_worker.js",
  gzip: "daemon/_gzip_worker.js",
  pty: "daemon/_pty_reactor_worker.js",
} as const;
