/**
 * End-to-end: sessions on another machine, over a real OpenSSH server on
 * 127.0.0.1 (`test/_sshd.ts`), with a daemon in its own home behind it:
 * every command with `--host`, attach through a real terminal (and its
 * connection cut), `ls --hosts` with a host that cannot answer, and a real
 * Claude exchange with `send --wait`.
 */

import assert from "node:assert/strict";
import { Fifo, spoolHook } from "./_harness.ts";
import { TermClient } from "./_term.ts";
import { HAVE_SSHD, twoMachines } from "./_sshd.ts";
import { CLAUDE_BIN } from "./_claude.ts";
import { claudeEnv, createClaudeHome } from "./_claude_home.ts";
import { scriptedReply, startMockApi } from "./_mock_api.ts";
import type { SessionRecord } from "../src/protocol.ts";

const opts = { sanitizeOps: false, sanitizeResources: false, ignore: !HAVE_SSHD };

/** A local home whose config names `box`: a daemon in `remote`'s home behind `sshd`. */
function setup(remoteConfig: unknown, env: Record<string, string> = {}) {
  return twoMachines(remoteConfig, { env });
}

Deno.test(
  "--host over ssh: new, ls, send, wait, events, peek, logs, attach, kill",
  opts,
  async () => {
    const t = await setup({ claude: { command: "/bin/sh" } });
    try {
      // The remote program: echoes lines, numbered, until stdin ends.
      const id = (await t.box([
        "new",
        t.remote.dir,
        "--name",
        "r",
        "--",
        "-c",
        'stty -echo; echo READY; n=0; while read l; do n=$((n+1)); echo "got$n:$l"; done',
      ])).trim();
      assert.match(id, /^[0-9A-Z]{26}$/);
      // It runs there, not here.
      assert.equal(JSON.parse(await t.local.ok(["ls", "--json"])).length, 0);
      assert.match(await t.remote.ok(["ls"]), /\br\s+running/);
      assert.match(await t.box(["ls"]), /\br\s+running/);
      await t.box(["wait", "r", "--until", "running", "--timeout", "30"]);

      // A remote event stream sees what happens there.
      const events = TermClient.spawn(["events", "r", "-H", "box"], t.local.env, {
        cols: 200,
        rows: 30,
      }, false);
      await t.box(["send", "r", "hello over ssh"]);
      const peeked = async (re: RegExp) => {
        for (let i = 0; i < 50; i++) {
          const screen = await t.box(["peek", "r"]);
          if (re.test(screen)) return screen;
          await t.box(["wait", "r", "--until", "exited", "--next", "--timeout", "0.2"]).catch(
            () => {},
          );
        }
        throw new Error(`the remote screen never showed ${re}`);
      };
      await peeked(/got1:hello over ssh/);
      assert.match(await t.box(["logs", "r"]), /got1:hello over ssh/);
      assert.match(
        await t.box(["logs", "r", "--json", "--direction", "input"]),
        /"direction":"input"/,
      );

      // Attach through a real terminal, type, detach: the terminal is restored.
      const a = TermClient.spawn(["attach", "r", "-H", "box"], t.local.env);
      await a.waitForScreen(/got1:hello over ssh/, 30_000);
      a.type("typed remotely\r");
      await a.waitForScreen(/got2:typed remotely/);
      a.type("\x02d");
      const st = await a.close();
      assert.equal(st.code, 0, a.raw.slice(-500));
      assert.match(a.raw, /\x1b\[\?1049l[\s\S]*\[detached from/);

      // kill ends it there; the stream told of it.
      assert.match(await t.box(["kill", "r"]), /killed/);
      const rec = JSON.parse(await t.box(["ls", "--all", "--json"]))[0] as SessionRecord;
      assert.equal(rec.id, id);
      assert.equal(rec.status, "exited");
      await events.waitForRaw(new RegExp(`${id}.*killed`), 30_000);
      await events.kill();

      // Commands that read log files here read them through the daemon there.
      assert.match(await t.box(["logs", id, "--text"]), /got2:typed remotely/);
      const cast = await t.box(["export", "r", "-o", "-"]);
      assert.match(cast.split("\n")[0]!, /"version":2/);
      // A directory here means nothing there: refused before anything starts.
      const rel = await t.local.cli(["new", "-H", "box", "relative/dir"]);
      assert.equal(rel.code, 2);
      assert.match(rel.stderr, /must be absolute/);
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test(
  "ls --hosts: every machine at once; one that cannot answer is shown as such",
  opts,
  async () => {
    const t = await setup({ claude: { command: "/bin/sh" } });
    try {
      await t.local.ok(["new", t.local.dir, "--name", "here", "--", "-c", "exec sleep 600"]);
      await t.box(["new", t.remote.dir, "--name", "there", "--", "-c", "exec sleep 600"]);
      const both = await t.local.ok(["ls", "--hosts", "all"]);
      assert.match(both, /^HOST\s+ID\s+NAME\s+STATUS/);
      assert.match(both, /^local\s+\S+\s+here\s+running/m);
      assert.match(both, /^box\s+\S+\s+there\s+running/m);
      const json = JSON.parse(await t.local.ok(["ls", "--hosts", "local,box", "--json"]));
      assert.deepEqual(json.map((h: { host: string }) => h.host), ["local", "box"]);

      // The host's daemon stopped: listed as unreachable (not started for a listing).
      await t.box(["stop-daemon"]);
      const started = Date.now();
      const down = await t.local.cli(["ls", "--hosts", "all"]);
      assert.equal(down.code, 1);
      assert.match(down.stdout, /^local\s+\S+\s+here\s+running/m);
      assert.match(down.stdout, /^box\s+-\s+-\s+unreachable\s/m);
      assert.match(down.stderr, /box: unreachable: .*no daemon is answering/);
      // sshd down: the same, and promptly.
      await t.sshd.stop();
      const gone = await t.local.cli(["ls", "--hosts", "all"]);
      assert.equal(gone.code, 1);
      assert.match(gone.stdout, /^local\s+\S+\s+here\s+running/m);
      assert.match(gone.stdout, /^box\s+-\s+-\s+unreachable\s/m);
      assert.match(gone.stderr, /box: unreachable: .*Connection refused/);
      assert.ok(Date.now() - started < 60_000);
      await t.local.ok(["kill", "here"]);
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test(
  "attach over ssh: a cut connection restores the terminal; the session lives on",
  opts,
  async () => {
    const t = await setup({ claude: { command: "/bin/sh" } });
    try {
      await t.box(["new", t.remote.dir, "--name", "cut", "--", "-c", "echo STILL-HERE; exec cat"]);
      const a = TermClient.spawn(["attach", "cut", "-H", "box"], t.local.env);
      await a.waitForScreen(/STILL-HERE/, 30_000);
      // Cut the ssh connection under it (the ssh process the client runs).
      const ssh = await childPids(a.child.pid, "ssh");
      assert.ok(ssh.length > 0, "attach runs ssh");
      for (const pid of ssh) Deno.kill(pid, "SIGKILL");
      const st = await a.close();
      assert.equal(st.code, 1, a.raw.slice(-500));
      assert.match(a.raw, /\x1b\[\?1049l[\s\S]*connection/i);
      // Still running there, and attachable again.
      assert.match(await t.box(["ls"]), /\bcut\s+running/);
      const b = TermClient.spawn(["attach", "cut", "-H", "box"], t.local.env);
      await b.waitForScreen(/STILL-HERE/, 30_000);
      b.type("\x02d");
      assert.equal((await b.close()).code, 0);
    } finally {
      await t.cleanup();
    }
  },
);

Deno.test({
  name: "--host with the real Claude: send --wait answers from the other machine",
  ...opts,
  ignore: !HAVE_SSHD || CLAUDE_BIN === null,
  fn: async () => {
    const api = await startMockApi({ defaultReply: scriptedReply() });
    const work = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-rwork-" });
    const claudeHome = await createClaudeHome({ cwd: await Deno.realPath(work), baseUrl: api.url });
    // The daemon there gives sessions its own environment: Claude's offline setup.
    const t = await setup({ claude: { command: CLAUDE_BIN } }, claudeEnv(claudeHome.env));
    try {
      await t.box(["new", await Deno.realPath(work), "--name", "c"]);
      assert.equal(
        (await t.box(["send", "c", "ECHO answered from afar", "--wait", "--timeout", "60"])).trim(),
        "answered from afar",
      );
      assert.match(await t.box(["transcript", "c"]), /answered from afar/);
    } finally {
      await t.cleanup();
      await api.close();
      await claudeHome.cleanup();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});

/** Pids of `pid`'s descendants named `name`. */
async function childPids(pid: number, name: string): Promise<number[]> {
  const out = await new Deno.Command("ps", { args: ["-A", "-o", "pid=,ppid=,comm="] }).output();
  const rows = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => {
    const [p, pp, ...c] = l.trim().split(/\s+/);
    return { pid: Number(p), ppid: Number(pp), comm: c.join(" ") };
  });
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const r of rows.filter((r) => r.ppid === parent)) {
      if (r.comm === name) found.push(r.pid);
      walk(r.pid);
    }
  };
  walk(pid);
  return found;
}

Deno.test(
  "notify watch and next --hosts: a wait on another machine is told here",
  opts,
  async () => {
    // There: a stand-in Claude (hooks on, its prompt up) whose hooks the test spools.
    const t = await setup({
      claude: {
        command: "/bin/sh",
        args: ["-c", "printf '\\033[?2004h'; exec sleep 600"],
        hooks: true,
      },
    });
    const fifo = await Fifo.create(t.local.dir, "notified.fifo");
    await t.local.writeConfig({
      claude: { command: "/bin/sh" },
      hosts: { box: t.sshd.host(t.remote.dir) },
      notify: {
        command: `printf 'title=%s\\nEND\\n' "$CLAUDE_SESSIONS_NOTIFY_TITLE" > ${fifo.path}`,
      },
    });
    const watcher = TermClient.spawn(["notify", "watch", "--hosts", "box"], t.local.env, {
      cols: 200,
      rows: 20,
    }, false);
    try {
      const id = (await t.box(["new", t.remote.dir, "--name", "w"])).trim();
      await watcher.waitForRaw(/box: following/, 30_000);
      assert.equal((await t.local.cli(["next", "--hosts", "box"])).code, 1, "nothing waits yet");
      await spoolHook(`${t.remote.dir}/spool`, id, BigInt(Date.now()) * 1_000_000n, {
        hook_event_name: "PermissionRequest",
        tool_name: "Bash",
        tool_input: { command: "make deploy" },
      });
      // Told here, named with its host.
      const told = await fifo.read(30_000);
      assert.equal(told.title, "box/w: waiting for permission");
      await watcher.waitForRaw(/box\/w: waiting for permission: sent through command/, 30_000);
      // next across machines finds it there.
      const next = await t.local.ok(["next", "--hosts", "all"]);
      assert.equal(next.trim(), `box ${id}`);
      const json = JSON.parse(await t.local.ok(["next", "--hosts", "all", "--json"]));
      assert.deepEqual([json.host, json.id, json.waitingFor.input], ["box", id, "make deploy"]);
    } finally {
      await watcher.kill();
      fifo.close();
      await t.cleanup();
    }
  },
);
