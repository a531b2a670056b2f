/**
 * How to run this same program again (to start the daemon in the background,
 * or to write an absolute command into service files): the compiled binary,
 * or `deno run -A <entry>` when running from source or from a bundle.
 *
 * @module
 */

/** True when the running executable is the Deno CLI itself (not a compiled binary). */
export function runningUnderDeno(): boolean {
  const base = Deno.execPath().split("/").pop() ?? "";
  return base === "deno" || base === "deno.exe";
}

/** argv prefix that re-runs this program; append a command and its arguments. */
export function selfCommand(): string[] {
  if (!runningUnderDeno()) return [Deno.execPath()];
  const main = new URL(Deno.mainModule);
  if (main.protocol !== "file:") {
    throw new Error(`cannot re-run ${Deno.mainModule}: not a local file`);
  }
  return [Deno.execPath(), "run", "-A", "--quiet", decodeURIComponent(main.pathname)];
}
