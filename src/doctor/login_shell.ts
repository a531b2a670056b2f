/**
 * What a new terminal would find: runs the user's login shell (interactive,
 * with a clean environment, as a terminal starts it) and asks it which
 * `claude-sessions` it runs. The installer's own PATH, or doctor's, says
 * nothing about that: install.sh may have put `~/.local/bin` on its own PATH
 * only.
 *
 * @module
 */

import { shellQuote } from "../self.ts";

/** How long a login shell may take to answer. */
const TIMEOUT_MS = 5000;
const MARK = "@@claude-sessions-login-shell@@";

/** What a login shell found for a command. */
export type LoginShellAnswer =
  /** `found`: the path it runs, or null when it has none. */
  | { shell: string; found: string | null }
  /** The shell could not be asked (missing, hung, failed). */
  | { shell: string; error: string };

/** The user's login shell: `$SHELL`, else the password database's, else /bin/sh. */
export async function userShell(env: (k: string) => string | undefined): Promise<string> {
  const fromEnv = env("SHELL");
  if (fromEnv && fromEnv.startsWith("/")) return fromEnv;
  try {
    const uid = Deno.uid();
    for (const line of (await Deno.readTextFile("/etc/passwd")).split("\n")) {
      const f = line.split(":");
      if (f.length >= 7 && Number(f[2]) === uid && f[6]!.startsWith("/")) return f[6]!;
    }
  } catch { /* no /etc/passwd (macOS keeps users elsewhere): the default below */ }
  return "/bin/sh";
}

/**
 * Asks a new interactive login shell of the user (environment: only HOME,
 * USER, LOGNAME, SHELL, TERM) which `command` it would run.
 */
export async function loginShellFinds(
  command: string,
  opts: { shell: string; home: string; env: (k: string) => string | undefined },
): Promise<LoginShellAnswer> {
  const shell = opts.shell;
  const env: Record<string, string> = { HOME: opts.home, SHELL: shell, TERM: "dumb" };
  for (const k of ["USER", "LOGNAME"]) {
    const v = opts.env(k);
    if (v) env[k] = v;
  }
  // `echo` and `command -v` mean the same in sh, bash, zsh, ksh and fish;
  // the marks fence off anything the user's rc files print.
  const script = `echo ${MARK}; command -v ${shellQuote(command)}; echo ${MARK}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(shell, {
      args: ["-l", "-i", "-c", script],
      env,
      clearEnv: true,
      cwd: opts.home,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch (e) {
    return { shell, error: `cannot run ${shell}: ${(e as Error).message}` };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, TIMEOUT_MS);
  const out = await child.output().finally(() => clearTimeout(timer));
  if (timedOut) return { shell, error: `${shell} did not answer within ${TIMEOUT_MS / 1000}s` };
  const text = new TextDecoder().decode(out.stdout);
  const parts = text.split(MARK);
  if (parts.length < 3) {
    return { shell, error: `${shell} -l -i -c … did not run the check (exit ${out.code})` };
  }
  const found = parts[1]!.trim().split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? null;
  return { shell, found };
}

/**
 * The file a user of `shell` adds a PATH line to, and the exact line, for
 * `dir` (written as `$HOME/…` when it is under `home`).
 */
export async function profileLine(
  shell: string,
  dir: string,
  home: string,
): Promise<{ file: string; line: string }> {
  const name = shell.split("/").pop() ?? "sh";
  const rel = home && dir.startsWith(`${home}/`) ? dir.slice(home.length + 1) : null;
  if (name === "fish") {
    return {
      file: "~/.config/fish/config.fish",
      line: `fish_add_path ${rel !== null ? `$HOME/${shellQuote(rel)}` : shellQuote(dir)}`,
    };
  }
  const shown = rel !== null ? `$HOME/${rel}` : dir;
  const line = /^[A-Za-z0-9_\/.,:=@%+$-]+$/.test(shown)
    ? `export PATH="${shown}:$PATH"`
    : `export PATH=${shellQuote(dir)}:"$PATH"`;
  let file = "~/.profile";
  if (name === "zsh") {
    file = "~/.zshrc";
  } else if (name === "bash") {
    // A login bash reads the first of these that exists, and only that one.
    for (const f of [".bash_profile", ".bash_login"]) {
      try {
        await Deno.stat(`${home}/${f}`);
        file = `~/${f}`;
        break;
      } catch { /* not there */ }
    }
  }
  return { file, line };
}
