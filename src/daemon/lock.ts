/**
 * One daemon per home: an exclusive advisory lock on `daemon.lock`, held for
 * the daemon's lifetime and released by the kernel when it dies, however it
 * dies.
 *
 * @module
 */

/** A held lock; keep it referenced until shutdown. */
export interface HomeLock {
  release(): void;
}

/** Takes the lock, or returns null when another process holds it. */
export async function tryLockHome(lockFile: string): Promise<HomeLock | null> {
  const file = await Deno.open(lockFile, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return null;
  return {
    release() {
      try {
        file.unlockSync();
        file.close();
      } catch { /* already released */ }
    },
  };
}
