/**
 * Worker that gzip-compresses one file into another, off the daemon's main
 * thread (Deno's CompressionStream compresses on the calling thread, and the
 * main thread reads every PTY). Message in: `{src, dst}`; out: `{ok: true}`
 * or `{ok: false, error}`, with `note` on the first when the thread could
 * not lower its priority.
 *
 * The thread runs at the lowest CPU priority (nice 19): archives of a
 * session flooding output are compressed with the CPU the byte path leaves
 * idle, not with the CPU it needs.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { niceThisThread } from "./_platform.ts";

/** Why the priority could not be lowered (told once); undefined before the first job. */
let niced: string | null | undefined;

self.onmessage = async (e: MessageEvent<{ src: string; dst: string }>) => {
  const { src, dst } = e.data;
  let note: string | undefined;
  if (niced === undefined) {
    try {
      niced = niceThisThread(19);
    } catch (err) {
      niced = (err as Error).message;
    }
    if (niced !== null) note = niced;
  }
  try {
    const input = await Deno.open(src, { read: true });
    const output = await Deno.open(dst, { write: true, create: true, truncate: true, mode: 0o600 });
    await input.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(output.writable);
    self.postMessage({ ok: true, note });
  } catch (err) {
    self.postMessage({ ok: false, error: (err as Error).message, note });
  }
};
