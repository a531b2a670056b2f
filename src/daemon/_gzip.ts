/**
 * gzip-compresses files on one shared worker thread, so compressing log
 * archives never competes with the daemon's main thread (which reads every
 * PTY). Jobs run one at a time; the worker is started on demand and ended
 * after a short idle time (or by {@linkcode stopGzipWorker}).
 *
 * @module
 */

import { WORKER_BUNDLES, workerUrl } from "../worker_url.ts";

const IDLE_MS = 2000;

type Reply = { ok: boolean; error?: string; note?: string };

let worker: Worker | null = null;
let pending: ((r: Reply) => void) | null = null;
let chain: Promise<unknown> = Promise.resolve();
let idleTimer: ReturnType<typeof setTimeout> | null = null;

function start(): Worker {
  const w = new Worker(
    workerUrl(import.meta.url, "./_gzip_worker.ts", WORKER_BUNDLES.gzip),
    { type: "module" },
  );
  w.onmessage = (e: MessageEvent<Reply>) => {
    if (e.data.note) {
      console.error(
        `${new Date().toISOString()} log compression runs at normal priority: ${e.data.note}`,
      );
    }
    const p = pending;
    pending = null;
    p?.(e.data);
  };
  w.onerror = (e) => {
    e.preventDefault();
    const p = pending;
    pending = null;
    stopGzipWorker();
    p?.({ ok: false, error: e.message });
  };
  return w;
}

/** Compresses `src` into `dst` (created with mode 0600). */
export function gzipFile(src: string, dst: string): Promise<void> {
  const job = chain.then(async () => {
    if (idleTimer !== null) clearTimeout(idleTimer);
    idleTimer = null;
    worker ??= start();
    const reply = await new Promise<Reply>((resolve) => {
      pending = resolve;
      worker!.postMessage({ src, dst });
    });
    idleTimer = setTimeout(stopGzipWorker, IDLE_MS);
    if (!reply.ok) throw new Error(`cannot compress ${src}: ${reply.error}`);
  });
  chain = job.catch(() => {});
  return job;
}

/** Ends the worker now (it is started again when needed). */
export function stopGzipWorker(): void {
  if (idleTimer !== null) clearTimeout(idleTimer);
  idleTimer = null;
  worker?.terminate();
  worker = null;
  const p = pending;
  pending = null;
  p?.({ ok: false, error: "the compression worker was stopped" });
}
