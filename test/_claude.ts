/**
 * Setup for end-to-end tests with the real Claude Code binary, offline: a
 * loopback mock of the Messages API, a temp HOME configured for it, and a
 * claude-sessions home whose `claude.command` is that binary.
 *
 * Without a claude binary these tests are skipped, except under CI (`CI` set),
 * where a missing binary is an error: CI must prove them.
 *
 * @module
 */

import { claudeEnv, type ClaudeHome, createClaudeHome, findClaudeBin } from "./_claude_home.ts";
import { type MockApi, startMockApi } from "./_mock_api.ts";
import { type DaemonProcess, TestHome } from "./_harness.ts";

/** The claude binary, or null when none is installed. */
export const CLAUDE_BIN: string | null = await findClaudeBin();
if (!CLAUDE_BIN && Deno.env.get("CI")) {
  throw new Error(
    "CI requires the claude binary for end-to-end tests (CLAUDE_BIN, PATH, or .cache/claude-code)",
  );
}

/** Deno.test options for tests that need claude. */
export const claudeTest = {
  ignore: CLAUDE_BIN === null,
  sanitizeOps: false,
  sanitizeResources: false,
};

/** Everything a Claude test needs. */
export interface ClaudeSetup {
  home: TestHome;
  daemon: DaemonProcess;
  api: MockApi;
  claudeHome: ClaudeHome;
  /** The project directory sessions run in. */
  work: string;
  /** Environment for CLI runs (and so for the sessions they start). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Starts the mock API, a Claude HOME, and a daemon running claude with `args`. */
export async function setupClaude(
  opts: { args?: string[]; config?: Record<string, unknown> } = {},
): Promise<ClaudeSetup> {
  const api = await startMockApi();
  const home = await TestHome.create({
    claude: { command: CLAUDE_BIN, args: opts.args ?? [] },
    ...(opts.config ?? {}),
  });
  const work = await Deno.realPath(await Deno.makeTempDir({ dir: home.dir, prefix: "proj-" }));
  const claudeHome = await createClaudeHome({ cwd: work, baseUrl: api.url, tmpDir: home.dir });
  const env = {
    ...claudeEnv(claudeHome.env),
    CLAUDE_SESSIONS_HOME: home.dir,
    NO_COLOR: "1",
  };
  const daemon = await home.startDaemon();
  return {
    home,
    daemon,
    api,
    claudeHome,
    work,
    env,
    async cleanup() {
      await daemon.stop();
      await api.close();
      await home.cleanup();
    },
  };
}

/**
 * Approves the permission prompt session `ref` waits on with Enter. Claude
 * drops keys that arrive in a dialog's first ~100 ms, so it retries until
 * the status moves (bounded).
 */
export async function approvePrompt(t: ClaudeSetup, ref: string): Promise<void> {
  for (let i = 0;; i++) {
    await t.home.ok(["send", ref, "--keys", "Enter"], { env: t.env, cwd: t.work });
    const r = await t.home.cli(
      ["wait", ref, "--until", "running,waiting_input", "--timeout", "3"],
      {
        env: t.env,
      },
    );
    if (r.code === 0) return;
    if (i === 5) throw new Error("the approval never took");
  }
}
