/**
 * Where a worker thread's module is, however the program runs: beside the
 * calling module when running from source or compiled (`deno compile
 * --include` embeds it), or — in a bundle, as the launcher installs it — the
 * worker's own bundle next to the main one.
 *
 * @module
 */

/**
 * The URL of worker module `source` (relative to `here`, the caller's
 * `import.meta.url`), or of its bundle `bundled` when `here` is a bundle.
 */
export function workerUrl(here: string, source: string, bundled: string): string {
  if (new URL(here).pathname.endsWith(".ts")) return new URL(source, here).href;
  return new URL(`./${bundled}`, here).href;
}

/** File names of the worker bundles (see the `bundle` task and install.sh). */
export const WORKER_BUNDLES = {
  screen: "claude-sessions-screen.js",
  gzip: "claude-sessions-gzip.js",
  pty: "claude-sessions-pty.js",
} as const;
