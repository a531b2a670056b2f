/**
 * End-to-end: many sessions at once. Each PTY is watched by one shared
 * reactor thread, so the number of sessions is not bounded by Deno's
 * blocking thread pool (a few dozen threads): with one blocked reader per
 * session, the daemon used to stop serving after about thirty.
 */

import assert from "node:assert/strict";
import { MAIN, RawClient, TestHome } from "./_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const N = 60;

Deno.test(`${N} live sessions: every one runs, and the daemon keeps serving`, opts, async () => {
  const home = await TestHome.create({
    claude: { command: "/bin/sh", args: ["-c", 'echo "ready $CLAUDE_SESSIONS_ID"; exec cat'] },
  });
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  try {
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = await c.request("new", { cwd: home.dir, env: home.env, cols: 80, rows: 24 });
      assert.equal(r.ok, true, JSON.stringify(r.error));
      ids.push((r.result as { session: SessionRecord }).session.id);
    }
    // File operations still work (records on disk, logs), with every PTY watched.
    const live = JSON.parse(await home.ok(["ls", "--json"])) as SessionRecord[];
    assert.equal(live.length, N);
    // Output larger than a pipe holds, to a reader that stops early (`| head`): ls ends quietly.
    const cut = await new Deno.Command("bash", {
      args: [
        "-c",
        `'${Deno.execPath()}' run -A --quiet '${MAIN}' ls --json 2>"$1" | head -c 100 >/dev/null; ` +
        'echo "${PIPESTATUS[0]}"; cat "$1"',
        "bash",
        `${home.dir}/ls.err`,
      ],
      env: home.env,
      clearEnv: true,
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(cut.stdout), "0\n");
    // The last session answers input through its PTY (cat echoes the line).
    const last = ids[N - 1]!;
    const events = await RawClient.connect(home.socket);
    await events.request("attach", { session: last, readOnly: true });
    await home.ok(["send", last, "ping-the-last-one"]);
    while (true) {
      const m = await events.next((m) => m.type === "output" || m.type === "screen");
      const text = m.type === "screen" ? String(m.data) : atob(String(m.data));
      if (text.includes("ping-the-last-one")) break;
    }
    events.close();
    assert.match(await home.ok(["peek", ids[0]!]), new RegExp(`ready ${ids[0]}`));
    const st = await daemon.stop();
    assert.equal(st.code, 0);
  } finally {
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
});
