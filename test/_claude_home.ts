/**
 * Helpers to run the real Claude Code CLI (`claude`) offline in tests, against
 * the loopback mock from `_mock_api.ts`.
 *
 * ```ts
 * const api = await startMockApi();
 * const { home, env, cleanup } = await createClaudeHome({ cwd, baseUrl: api.url });
 * const bin = await findClaudeBin();
 * // spawn `bin --permission-mode default --settings <json>` in a PTY with
 * // env = claudeEnv(env), cwd = cwd; Claude shows its prompt box in ~1 s.
 * ```
 *
 * Verified with claude 2.1.330: with this HOME there is no onboarding, theme,
 * API-key or folder-trust dialog; the only network request at startup is
 * `HEAD /api/hello` to the mock.
 *
 * Folder trust (claude 2.1.330, probe report on branch h11-research): a
 * directory is trusted when `projects[<dir>].hasTrustDialogAccepted` is true
 * for the directory itself or any parent (`/` included; keys are exact
 * strings: `<dir>/` with a trailing slash does not count; the cwd is the
 * real path, so a symlinked cwd matches its target's entry). Inside a git
 * repository only the directories from the cwd up to the repository root
 * count, and accepting the dialog records the root. `$HOME` itself: the
 * dialog's answer is not recorded (one session only), but a `projects[$HOME]`
 * entry written by hand counts, for its subdirectories too. So to get the
 * dialog in a test, run claude in a directory outside `cwd` and
 * `trustedDirs` (and not under them). The dialog (no hook fires, no state
 * file is written, no API request is made until it is answered; it turns on
 * bracketed paste `\x1b[?2004h` and focus reporting, but neither the
 * alternate screen nor mouse tracking) reads:
 *
 * ```text
 *  Accessing workspace:
 *
 *  /path/to/dir
 *
 *  Quick safety check: Is this a project you created or one you trust? (Like your own code, a
 *  well-known open source project, or work from your team). If not, take a moment to review what's in
 *  this folder first.
 *
 *  Claude Code'll be able to read, edit, and execute files here.
 *
 *  Security guide
 *
 *  ❯ No, exit
 *    Yes, I trust this folder
 *
 *  Enter to confirm · Esc to cancel
 * ```
 *
 * The cursor starts on "No, exit": Enter exits with code 1 (and so does a
 * pasted prompt followed by Enter), Esc exits with code 0, both printing
 * "Claude Code didn't start because this folder isn't trusted.". Down or Up
 * (they wrap) then Enter accepts; `1`, `2`, `y`, Tab and pasted text do
 * nothing. After accepting: bracketed paste off, then `SessionStart`
 * (`startup`), then the normal start-up (bracketed paste on, alternate
 * screen, the prompt).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Options for {@linkcode createClaudeHome}. */
export interface ClaudeHomeOptions {
  /** Working directory claude will run in; pre-trusted in `.claude.json`. Extra dirs: `trustedDirs`. */
  cwd: string;
  /** Base URL of the mock API, e.g. `api.url`. */
  baseUrl: string;
  /** API key to use (default `sk-ant-test-` + 40 hex chars); its last 20 chars are pre-approved. */
  apiKey?: string;
  /** More directories to mark as trusted (e.g. other session cwds). */
  trustedDirs?: string[];
  /** If given, written to `<home>/.claude/settings.json` (user settings; its hooks merge with `--settings`). */
  userSettings?: Record<string, unknown>;
  /** Extra top-level keys merged into `.claude.json`. */
  extraConfig?: Record<string, unknown>;
  /** Parent dir for the temp HOME (default: the OS temp dir). */
  tmpDir?: string;
}

/** A temp HOME configured for claude. */
export interface ClaudeHome {
  /** The temp HOME directory (contains `.claude.json` and `.claude/`). */
  home: string;
  /** `<home>/.claude`: sessions/<pid>.json, projects/<slug>/<sessionId>.jsonl transcripts, settings.json. */
  configDir: string;
  /** The API key configured. */
  apiKey: string;
  /**
   * Variables to set when running claude offline against the mock: HOME,
   * ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY, TERM and the "no background traffic"
   * switches. Merge over the parent env with {@linkcode claudeEnv}, which also
   * drops inherited `CLAUDE*`/`ANTHROPIC_*` variables (e.g. `CLAUDECODE`,
   * `CLAUDE_CONFIG_DIR`, `ANTHROPIC_AUTH_TOKEN`) that would change claude's behaviour.
   */
  env: Record<string, string>;
  /** Remove the temp HOME. */
  cleanup(): Promise<void>;
}

/** Default fake API key used by {@linkcode createClaudeHome}. */
export const DEFAULT_TEST_API_KEY = "sk-ant-test-0123456789abcdef0123456789abcdef01234567";

/**
 * Create a temp HOME whose `.claude.json` lets claude start with no dialogs:
 * `hasCompletedOnboarding: true`, `projects[cwd].hasTrustDialogAccepted: true`
 * and `customApiKeyResponses.approved: [<last 20 chars of the key>]`.
 */
export async function createClaudeHome(opts: ClaudeHomeOptions): Promise<ClaudeHome> {
  const apiKey = opts.apiKey ?? DEFAULT_TEST_API_KEY;
  const home = await Deno.makeTempDir({ dir: opts.tmpDir, prefix: "claude-home-" });
  const configDir = join(home, ".claude");
  await Deno.mkdir(configDir, { recursive: true });
  const projects: Record<string, unknown> = {};
  for (const dir of [opts.cwd, ...(opts.trustedDirs ?? [])]) {
    projects[dir] = { hasTrustDialogAccepted: true };
  }
  const config = {
    hasCompletedOnboarding: true,
    projects,
    customApiKeyResponses: { approved: [apiKey.slice(-20)], rejected: [] },
    ...(opts.extraConfig ?? {}),
  };
  await Deno.writeTextFile(join(home, ".claude.json"), JSON.stringify(config, null, 2) + "\n");
  if (opts.userSettings) {
    await Deno.writeTextFile(
      join(configDir, "settings.json"),
      JSON.stringify(opts.userSettings, null, 2) + "\n",
    );
  }
  const env: Record<string, string> = {
    HOME: home,
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_API_KEY: apiKey,
    TERM: "xterm-256color",
    // Not required to start offline (verified), but they cut background
    // traffic to hosts that are unreachable in tests.
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  };
  return {
    home,
    configDir,
    apiKey,
    env,
    cleanup: () => Deno.remove(home, { recursive: true }).catch(() => {}),
  };
}

/**
 * Build a full environment for claude: `base` (default: this process's env)
 * minus every `CLAUDE*` / `ANTHROPIC_*` variable (a parent Claude Code session
 * sets e.g. `CLAUDECODE=1`), plus `vars` (e.g. {@linkcode ClaudeHome.env}).
 */
export function claudeEnv(
  vars: Record<string, string>,
  base: Record<string, string> = Deno.env.toObject(),
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (/^(CLAUDE|ANTHROPIC_)/.test(k)) continue;
    out[k] = v;
  }
  return { ...out, ...vars };
}

/** The repository root (/work/main), derived from this file's location. */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Locate the claude binary. Lookup order:
 * 1. `$CLAUDE_BIN` (returned as is if it is an executable file; throws otherwise);
 * 2. `claude` on `$PATH`;
 * 3. `<repo root>/.cache/claude-code/node_modules/.bin/claude` (installed by `.ci/run`),
 *    then `<repo root>/node_modules/.bin/claude`.
 *
 * Returns `null` when none is found, so tests can skip (`ignore`) cleanly.
 */
export async function findClaudeBin(repoRoot: string = REPO_ROOT): Promise<string | null> {
  const fromEnv = Deno.env.get("CLAUDE_BIN");
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return fromEnv;
    throw new Error(`CLAUDE_BIN=${fromEnv} is not an executable file`);
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, "claude");
    if (await isExecutable(p)) return p;
  }
  for (
    const local of [
      join(repoRoot, ".cache", "claude-code", "node_modules", ".bin", "claude"),
      join(repoRoot, "node_modules", ".bin", "claude"),
    ]
  ) {
    if (await isExecutable(local)) return local;
  }
  return null;
}
