/**
 * Whether Claude Code will ask "do you trust this folder?" before it starts
 * in a directory — a dialog that fires no hook and writes no state file, so
 * `new` says so up front and the session watches its screen for it.
 *
 * Claude's rule (verified on claude 2.1.330): starting from the real path of
 * the directory, it walks up towards `/` — stopping at the root of the git
 * repository the directory is in — and trusts it when any directory on the
 * way has `projects[<dir>].hasTrustDialogAccepted` in its global config
 * (`$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`). Keys are exact
 * paths (no trailing slash). `CLAUDE_CODE_SANDBOXED` makes every directory
 * trusted.
 *
 * @module
 */

/**
 * True when Claude trusts `cwd` for a session with environment `env`, false
 * when it will ask, null when that cannot be told (its config is unreadable).
 */
export async function claudeTrusts(
  cwd: string,
  env: Record<string, string>,
): Promise<boolean | null> {
  const sandboxed = env.CLAUDE_CODE_SANDBOXED;
  if (sandboxed && sandboxed !== "0" && sandboxed !== "false") return true;
  const base = env.CLAUDE_CONFIG_DIR || env.HOME;
  if (!base) return null;
  let projects: Record<string, unknown>;
  try {
    const config = JSON.parse(await Deno.readTextFile(`${base}/.claude.json`));
    projects = typeof config?.projects === "object" && config.projects !== null
      ? config.projects
      : {};
  } catch (e) {
    // No config yet: a first run, which asks.
    if (e instanceof Deno.errors.NotFound) return false;
    return null;
  }
  let dir: string;
  try {
    dir = await Deno.realPath(cwd);
  } catch {
    return null;
  }
  const top = await gitRoot(dir);
  while (true) {
    const entry = projects[dir] as Record<string, unknown> | undefined;
    if (entry?.hasTrustDialogAccepted === true) return true;
    if (dir === top || dir === "/") return false;
    dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
  }
}

/** The root of the git work tree holding `dir` (a `.git` directory or file), or null. */
async function gitRoot(dir: string): Promise<string | null> {
  let d = dir;
  while (true) {
    try {
      await Deno.lstat(`${d}/.git`);
      return d;
    } catch { /* not here */ }
    if (d === "/") return null;
    d = d.slice(0, d.lastIndexOf("/")) || "/";
  }
}

/** Whether a screen shows Claude's folder-trust dialog. */
export function showsTrustDialog(screen: string): boolean {
  return screen.includes("Yes, I trust this folder") ||
    (screen.includes("Accessing workspace") && /\btrust\b/.test(screen));
}
