/**
 * Worker that gzip-compresses one file into another, off the daemon's main
 * thread (Deno's CompressionStream compresses on the calling thread, and the
 * main thread reads every PTY). Message in: `{src, dst}`; out: `{ok: true}`
 * or `{ok: false, error}`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

self.onmessage = async (e: MessageEvent<{ src: string; dst: string }>) => {
  const { src, dst } = e.data;
  try {
    const input = await Deno.open(src, { read: true });
    const output = await Deno.open(dst, { write: true, create: true, truncate: true, mode: 0o600 });
    await input.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(output.writable);
    self.postMessage({ ok: true });
  } catch (err) {
    self.postMessage({ ok: false, error: (err as Error).message });
  }
};
