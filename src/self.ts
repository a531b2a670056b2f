/**
 * How to run this same program again (to start the daemon in the background,
 * or to write an absolute command into service files and hook settings): the
 * compiled binary, the installed launcher, or `deno run -A <entry>` when
 * running from source.
 *
 * The launcher that install.sh writes (when `deno compile` is not possible)
 * tells the program its own absolute path in `CLAUDE_SESSIONS_LAUNCHER` (and
 * lists in `CLAUDE_SESSIONS_LAUNCHER_UNSET` the variables it set for Deno
 * alone); {@linkcode claimLauncher} takes them out of the environment at
 * startup so they never leak into sessions.
 *
 * @module
 */

/** Environment variable by which the installed launcher names itself. */
export const LAUNCHER_ENV = "CLAUDE_SESSIONS_LAUNCHER";

/** How this program is running. */
export type SelfKind = "binary" | "launcher" | "source";

let launcher: string | null | undefined;

/**
 * Reads (once) and removes `CLAUDE_SESSIONS_LAUNCHER` from the environment.
 * Called first thing by the entry point; later calls return the same value.
 */
export function claimLauncher(): string | null {
  if (launcher !== undefined) return launcher;
  const value = Deno.env.get(LAUNCHER_ENV);
  Deno.env.delete(LAUNCHER_ENV);
  // Variables the launcher set for Deno alone (e.g. DENO_NO_UPDATE_CHECK).
  const unset = Deno.env.get(`${LAUNCHER_ENV}_UNSET`);
  Deno.env.delete(`${LAUNCHER_ENV}_UNSET`);
  for (const name of (value && unset ? unset.split(",") : [])) {
    if (/^[A-Z_][A-Z0-9_]*$/.test(name)) Deno.env.delete(name);
  }
  launcher = value && value.startsWith("/") && runningUnderDeno() ? value : null;
  return launcher;
}

/** True when the running executable is the Deno CLI itself (not a compiled binary). */
export function runningUnderDeno(): boolean {
  const base = Deno.execPath().split("/").pop() ?? "";
  return base === "deno" || base === "deno.exe";
}

/** Whether this is the compiled binary, the installed launcher, or a run from source. */
export function selfKind(): SelfKind {
  if (!runningUnderDeno()) return "binary";
  return claimLauncher() ? "launcher" : "source";
}

/** argv prefix that re-runs this program; append a command and its arguments. */
export function selfCommand(): string[] {
  if (!runningUnderDeno()) return [Deno.execPath()];
  const l = claimLauncher();
  if (l) return [l];
  const main = new URL(Deno.mainModule);
  if (main.protocol !== "file:") {
    throw new Error(`cannot re-run ${Deno.mainModule}: not a local file`);
  }
  return [Deno.execPath(), "run", "-A", "--quiet", decodeURIComponent(main.pathname)];
}

/**
 * The absolute command that runs this CLI, as one POSIX shell word list
 * (e.g. `/home/me/.local/bin/claude-sessions`), for a hook command or any
 * other place that runs the CLI through `sh -c`. Append arguments with
 * {@linkcode shellQuote}.
 */
export function selfShellCommand(): string {
  return selfCommand().map(shellQuote).join(" ");
}

/** Quotes one word for a POSIX shell (left bare when it is plainly safe). */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
