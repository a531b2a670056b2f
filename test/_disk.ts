/**
 * Helpers for tests on a full disk: a small tmpfs mounted over a test home
 * (root only; {@linkcode CAN_MOUNT} says whether it works here), filled up
 * with a file.
 *
 * @module
 */

import { TestHome } from "./_harness.ts";

/** Mounts a tmpfs of `size` on `dir`; false where that is not allowed. */
export async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    const r = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

export async function umount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: ["-l", dir], stdout: "null", stderr: "null" })
    .output().catch(() => {});
}

/** Fills the filesystem holding `dir` (a file that grows until the disk refuses). */
export async function fill(dir: string, name: string): Promise<void> {
  const f = await Deno.open(`${dir}/${name}`, { write: true, create: true, append: true });
  const block = new Uint8Array(64 * 1024);
  try {
    while (true) await f.write(block);
  } catch {
    /* full */
  } finally {
    f.close();
  }
}

/** Polls `cond` every 50 ms until it holds; fails after `ms`. */
export async function until(
  what: string,
  cond: () => Promise<boolean>,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with `p`, or fails after `ms` (a hang is a failure, not a stuck test). */
export async function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) =>
        timer = setTimeout(() => rej(new Error(`${what} took over ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a tmpfs can be mounted here (root on Linux). */
export const CAN_MOUNT: boolean = await (async () => {
  const probe = await TestHome.create();
  const ok = await mountTmpfs(probe.dir, "1m");
  if (ok) await umount(probe.dir);
  await probe.cleanup();
  return ok;
})();
