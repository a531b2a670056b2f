/**
 * Telling a full disk from other I/O errors.
 *
 * @module
 */

/** Whether an error is "no space left on device" (or over a disk quota). */
export function isNoSpace(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return true;
  return /No space left on device|Disk quota exceeded|os error (28|122)\b/.test(
    String((e as Error)?.message ?? e),
  );
}
