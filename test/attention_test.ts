/**
 * End-to-end: the foundation of the attention loop — gap-free events
 * (`events` with a snapshot, numbered pushes), `activity`, `attached` and
 * `detached` events, tags, and clients and daemons of different features
 * talking to each other. Through the client library and the CLI.
 */

import assert from "node:assert/strict";
import { FakeDaemon, TestHome, TextSink } from "./_harness.ts";
import { MAIN } from "./_harness.ts";
import { Client, type EventSubscription } from "../src/client/client.ts";
import { SessionFeed } from "../src/client/feed.ts";
import type { EventPush, SessionRecord } from "../src/protocol.ts";
import { TIMED_OUT, within } from "../src/async.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A home whose sessions run `/bin/sh` (`-c SCRIPT` given per session). */
function shellHome(): Promise<TestHome> {
  return TestHome.create({ claude: { command: "/bin/sh", args: [] } });
}

async function newShell(c: Client, home: TestHome, script = "exec sleep 1000", extra = {}) {
  const { session } = await c.request("new", {
    cwd: home.dir,
    env: home.env,
    args: ["-c", script],
    ...extra,
  });
  return session;
}

/** Reads pushes until `pred` holds for one (returned, with all read so far); fails after 30 s. */
async function readUntil(
  sub: EventSubscription,
  seen: EventPush[],
  pred: (p: EventPush) => boolean,
  timeoutMs = 30_000,
): Promise<EventPush> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const left = deadline - Date.now();
    const p = left > 0 ? await within(sub.next(), left) : null;
    if (p === null || typeof p === "symbol") {
      throw new Error(
        `no matching event within ${timeoutMs} ms; saw:\n${
          seen.map((s) => JSON.stringify(s.event)).join("\n")
        }`,
      );
    }
    seen.push(p);
    if (pred(p)) return p;
  }
}

Deno.test(
  "events with a snapshot under concurrent news: nothing missed, seq contiguous",
  opts,
  async () => {
    const home = await shellHome();
    const daemon = await home.startDaemon();
    const makers = await Promise.all([0, 1, 2].map(() => Client.connect(home.socket)));
    const watcher = await Client.connect(home.socket);
    try {
      assert.ok(watcher.has("events.snapshot") && watcher.has("events.activity"));
      // Three clients start sessions while a fourth lists and subscribes.
      const made: Promise<SessionRecord>[] = [];
      const burst = () => {
        for (const c of makers) for (let i = 0; i < 4; i++) made.push(newShell(c, home));
      };
      burst();
      await made[0];
      const sub = await watcher.subscribe({ snapshot: true });
      burst();
      const all = await Promise.all(made);
      assert.equal(all.length, 24);
      const snap = sub.snapshot!;
      assert.equal(typeof snap.seq, "number");
      assert.equal(typeof snap.daemonStarted, "string");
      const inSnapshot = new Set(snap.sessions.map((s) => s.id));
      assert.ok(inSnapshot.size < 24, "the snapshot was taken amid the news");
      const seen: EventPush[] = [];
      const created = new Set<string>();
      const missing = () => all.filter((s) => !inSnapshot.has(s.id) && !created.has(s.id));
      while (missing().length > 0) {
        const p = await readUntil(sub, seen, (p) => p.event.event === "created");
        created.add(p.event.id);
        assert.equal(p.session?.id, p.event.id, "a snapshot subscriber gets the record");
      }
      // Every session is in the snapshot or was created after it, never both.
      for (const id of created) assert.ok(!inSnapshot.has(id), `${id} listed and created after`);
      assert.deepEqual(
        seen.map((p) => p.seq),
        seen.map((_, i) => snap.seq + 1 + i),
        "pushes are numbered one apart from the snapshot on",
      );

      // The CLI prints the sessions, then numbered events.
      const cli = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", MAIN, "events", "--snapshot", "--json"],
        env: home.env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = new TextSink(cli.stdout);
      const err = new TextSink(cli.stderr);
      await out.waitFor(/^(?:.*\n){24}/);
      const lines = () => out.text.trim().split("\n").map((l) => JSON.parse(l));
      const listed = lines();
      assert.equal(listed.length, 24);
      const base = listed[0].snapshot as number;
      assert.ok(listed.every((l) => l.snapshot === base && typeof l.session.id === "string"));
      const one = await newShell(makers[0]!, home);
      await out.waitFor(new RegExp(`"id":"${one.id}"`));
      const ev = lines().find((l) => l.event === "created" && l.id === one.id);
      assert.equal(ev.seq, base + 1);
      cli.kill("SIGINT");
      assert.equal((await cli.status).code, 0);
      await err.done;
      assert.equal(err.text, "");
    } finally {
      for (const c of [...makers, watcher]) c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "activity: at most one a second, the last output told; attached and detached counted; none logged",
  opts,
  async () => {
    const home = await shellHome();
    const daemon = await home.startDaemon();
    const c = await Client.connect(home.socket);
    const sub = await c.subscribe({ snapshot: true });
    const plain = await c.subscribe({}); // without a snapshot: no activity events
    try {
      const stamp = `${home.dir}/last-output`;
      // 2.5 s of output, ten lines a second; the time of the last one noted.
      const script = 'i=0; while [ $i -lt 25 ]; do echo "tick $i"; i=$((i+1)); sleep 0.1; done; ' +
        `echo done; date +%s%3N > ${stamp}.tmp; mv ${stamp}.tmp ${stamp}; exec sleep 1000`;
      const s = await newShell(c, home, script);
      const seen: EventPush[] = [];
      let wrote: number | null = null;
      // The last output is told (by a trailing event) within a moment of when it was written.
      await readUntil(sub, seen, (p) => {
        if (p.event.id !== s.id || p.event.event !== "activity") return false;
        try {
          wrote ??= Number(Deno.readTextFileSync(stamp).trim());
        } catch { /* not yet */ }
        return wrote !== null && Math.abs(Date.parse(p.event.lastOutputAt!) - wrote) < 300;
      });
      const acts = seen.filter((p) => p.event.id === s.id && p.event.event === "activity");
      assert.ok(acts.length >= 3 && acts.length <= 4, `${acts.length} activity events in 2.5 s`);
      for (let i = 1; i < acts.length; i++) {
        const gap = Date.parse(acts[i]!.event.at) - Date.parse(acts[i - 1]!.event.at);
        assert.ok(gap >= 990, `activity events ${gap} ms apart`);
      }
      assert.ok(acts.every((p) => p.session === undefined && p.event.lastOutputAt));
      const { session: after } = await c.request("get", { session: s.id });
      assert.equal(after.lastOutputAt, acts.at(-1)!.event.lastOutputAt);
      await c.request("kill", { session: s.id });
      const exited = await readUntil(
        sub,
        seen,
        (p) => p.event.id === s.id && p.event.event === "exited",
      );
      assert.ok(Date.parse(exited.session!.lastOutputAt!) >= Date.parse(after.lastOutputAt!));

      // Attaching and leaving are counted.
      const live = await newShell(c, home, "echo ready; exec sleep 1000");
      const other = await Client.connect(home.socket);
      const a1 = await other.attach(live.id, {}, () => {});
      const att = await readUntil(
        sub,
        seen,
        (p) => p.event.id === live.id && p.event.event === "attached",
      );
      assert.equal(att.event.clients, 1);
      assert.equal(att.session?.clients, 1);
      assert.equal((await c.request("get", { session: live.id })).session.clients, 1);
      await a1.detach();
      assert.deepEqual(await a1.ended, { kind: "detached" });
      const det = await readUntil(
        sub,
        seen,
        (p) => p.event.id === live.id && p.event.event === "detached",
      );
      assert.equal(det.event.clients, 0);
      // The connection stays usable: attach again, then close it.
      await other.attach(live.id, { readOnly: true }, () => {});
      await readUntil(sub, seen, (p) => p.event.id === live.id && p.event.event === "attached");
      other.close();
      const gone = await readUntil(
        sub,
        seen,
        (p) => p.event.id === live.id && p.event.event === "detached",
      );
      assert.equal(gone.event.clients, 0);
      assert.ok(seen.every((p, i) => i === 0 || p.seq === seen[i - 1]!.seq! + 1));

      // A subscriber without a snapshot got the lifecycle and attach events, no activity.
      const kinds = new Set<string>();
      while (plain.backlog > 0) kinds.add((await plain.next())!.event.event);
      assert.ok(
        kinds.has("created") && kinds.has("attached") && kinds.has("exited"),
        [...kinds].join(),
      );
      assert.ok(!kinds.has("activity") && !kinds.has("updated"), [...kinds].join());

      // None of it is in the sessions' logs; the output and the status changes are.
      for (const id of [s.id, live.id]) {
        const log = await Deno.readTextFile(`${home.dir}/logs/${id}.jsonl`);
        assert.match(log, /"status"/);
        assert.doesNotMatch(log, /"(activity|attached|detached)"/);
      }
      assert.match(await home.ok(["logs", s.id]), /tick 24\r?\ndone/);
      // The count of clients is not written to the record on disk.
      const onDisk = JSON.parse(await Deno.readTextFile(`${home.dir}/sessions/${live.id}.json`));
      assert.equal(onDisk.clients, undefined);
    } finally {
      c.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "the session feed follows the daemon (and its usage pushes), and starts over when it comes back",
  opts,
  async () => {
    const home = await shellHome();
    let daemon = await home.startDaemon();
    const maker = await Client.connect(home.socket);
    const first = await newShell(maker, home);
    maker.close();
    let usageCame!: () => void;
    const usage = new Promise<void>((r) => (usageCame = r));
    const feed = new SessionFeed({
      connect: () => Client.connect(home.socket),
      initialBackoffMs: 50,
      maxBackoffMs: 200,
      onUsage: () => usageCame(),
    });
    const updates = feed[Symbol.asyncIterator]();
    const next = async () => {
      const r = await within(updates.next(), 30_000);
      if (typeof r === "symbol" || r.done) throw new Error("the feed ended or stalled");
      return r.value;
    };
    try {
      assert.deepEqual(await next(), { kind: "snapshot", reconnected: false, restarted: false });
      assert.deepEqual(feed.table.records.map((r) => r.id), [first.id]);
      // The daemon measures: usage comes pushed (the first subscriber's at once).
      assert.ok(feed.usage !== null);
      assert.notEqual(await within(usage, 30_000), TIMED_OUT, "no usage push");
      assert.ok(feed.usage!.get(first.id)!.rss > 0);
      const c = feed.client!;
      const second = await newShell(c, home);
      let u;
      do u = await next(); while (!(u.kind === "event" && u.event.event === "started"));
      assert.equal(feed.table.get(second.id)?.pid, second.pid);
      // The daemon goes away: the feed says so and retries; the table keeps what it knew.
      await daemon.stop();
      do u = await next(); while (u.kind !== "down");
      assert.ok(feed.table.size === 2);
      daemon = await home.startDaemon();
      do u = await next(); while (u.kind !== "snapshot");
      assert.deepEqual(u, { kind: "snapshot", reconnected: true, restarted: true });
      // The new daemon found both sessions lost with the old one.
      assert.deepEqual(feed.table.records.map((r) => r.status), ["exited", "exited"]);
    } finally {
      feed.close();
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "tags: new --tag, tag +/-, ls --tag and its TAGS column, kill --tag, kept across restarts",
  opts,
  async () => {
    const home = await shellHome();
    let daemon = await home.startDaemon();
    const cs = (args: string[]) => home.cli(args);
    const ok = (args: string[]) => home.ok(args);
    try {
      const plain = (await ok(["new", home.dir, "--name", "plain", "--", "-c", "exec sleep 1000"]))
        .trim();
      assert.doesNotMatch(
        (await ok(["ls"])).split("\n")[0]!,
        /TAGS/,
        "no TAGS column without tags",
      );
      const a = (await ok([
        "new",
        home.dir,
        "--name",
        "a",
        "--tag",
        "ci",
        "-t",
        "web",
        "-t",
        "ci",
        "--",
        "-c",
        "exec sleep 1000",
      ])).trim();
      const b = (await ok(["new", home.dir, "--tag", "ci", "--", "-c", "exec sleep 1000"])).trim();
      const records = JSON.parse(await ok(["ls", "--json"])) as SessionRecord[];
      assert.deepEqual(records.find((r) => r.id === a)?.tags, ["ci", "web"]);
      assert.deepEqual(records.find((r) => r.id === plain)?.tags, []);
      const table = (await ok(["ls"])).split("\n");
      assert.match(table[0]!, /^ID\s+NAME\s+STATUS\s+MEM\s+CPU\s+TAGS\s+AGE\s+DIR$/);
      assert.match(table.find((l) => l.includes(" a "))!, / ci,web /);
      // MEM, CPU, then "-" for no tags.
      assert.match(table.find((l) => l.includes(" plain "))!, /running \S+\s+\S+\s+\S+\s+-\s/);

      const web = JSON.parse(await ok(["ls", "--tag", "web", "--json"])) as SessionRecord[];
      assert.deepEqual(web.map((r) => r.id), [a]);
      const ci = JSON.parse(await ok(["ls", "--tag", "ci", "--json"])) as SessionRecord[];
      assert.deepEqual(ci.map((r) => r.id).sort(), [a, b].sort());

      // tag: add and remove; the tags then are printed; others hear of it.
      const c = await Client.connect(home.socket);
      const sub = await c.subscribe({});
      assert.equal((await ok(["tag", "a", "+x", "-web", "new"])).trim(), "ci x new");
      const seen: EventPush[] = [];
      const ev = await readUntil(sub, seen, (p) => p.event.event === "tags");
      assert.equal(ev.event.id, a);
      assert.deepEqual(ev.event.tags, ["ci", "x", "new"]);
      assert.equal((await ok(["tag", "a", "-new", "-absent"])).trim(), "ci x");
      assert.equal((await ok(["tag", "a"])).trim(), "ci x");
      assert.deepEqual(JSON.parse(await ok(["tag", "a", "--json"])).tags, ["ci", "x"]);
      c.close();
      const bad = await cs(["tag", "a", "+no/slash"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /invalid tag "no\/slash"/);
      const badNew = await cs(["new", home.dir, "--tag", "-x-", "--", "-c", "exec sleep 1000"]);
      assert.equal(badNew.code, 2, "a tag starting with - reads as an option");
      const badNew2 = await cs(["new", home.dir, "--tag=.x", "--", "-c", "exec sleep 1000"]);
      assert.equal(badNew2.code, 1);
      assert.match(badNew2.stderr, /invalid tag "\.x"/);
      assert.equal((JSON.parse(await ok(["ls", "--json"])) as SessionRecord[]).length, 3);
      const usage = await cs(["tag"]);
      assert.equal(usage.code, 2);
      assert.equal((await cs(["kill"])).code, 2);

      // kill --tag: every live session with it, no other.
      const killed = await ok(["kill", "--tag", "ci"]);
      assert.equal(killed.trim().split("\n").length, 2);
      assert.match(killed, new RegExp(`${a} \\(a\\): killed`));
      assert.match(killed, new RegExp(`${b}: killed`));
      const left = JSON.parse(await ok(["ls", "--json"])) as SessionRecord[];
      assert.deepEqual(left.map((r) => r.id), [plain]);
      const none = await cs(["kill", "--tag", "ci"]);
      assert.equal(none.code, 0);
      assert.match(none.stderr, /no live session has the tag "ci"/);
      assert.match(await ok(["ls", "--all", "--tag", "x"]), /killed/);

      // Tags are kept with the record, also across a daemon restart.
      await daemon.stop();
      daemon = await home.startDaemon();
      const back = JSON.parse(await ok(["ls", "--all", "--json"])) as SessionRecord[];
      assert.deepEqual(back.find((r) => r.id === a)?.tags, ["ci", "x"]);
      assert.deepEqual(back.find((r) => r.id === b)?.tags, ["ci"]);
      assert.equal((await ok(["tag", b, "+later"])).trim(), "ci later", "exited sessions too");
    } finally {
      await daemon.stop();
      await home.cleanup();
    }
  },
);

Deno.test(
  "features: a client needing what an older daemon lacks says so; one needing less talks to more",
  opts,
  async () => {
    const home = await TestHome.create();
    // A daemon from before features.
    let fake = FakeDaemon.start(home.socket, "0.0.9");
    try {
      for (
        const [args, feature] of [
          [["tag", "x", "+a"], "tags"],
          [["ls", "--tag", "a"], "tags"],
          [["kill", "--tag", "a"], "tags"],
          [["new", home.dir, "--tag", "a"], "tags"],
          [["events", "--snapshot"], "events.snapshot"],
        ] as const
      ) {
        const r = await home.cli([...args]);
        assert.equal(r.code, 1, args.join(" "));
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 2, r.stderr);
        assert.match(
          lines[0]!,
          new RegExp(`version 0\\.0\\.9.*lacks "${feature.replace(".", "\\.")}"`),
        );
        assert.match(lines[1]!, /stop-daemon.*service restart/);
      }
      // What needs nothing new still works with it.
      assert.equal((await home.cli(["status"])).code, 0);
      await fake.close();

      // A daemon newer than this client: features and event kinds it does not know.
      const at = "2026-11-29T10:00:00.000Z";
      const base = {
        at,
        id: "01AAAAAAAAAAAAAAAAAAAAAAAA",
        name: "n",
        previous: null,
        source: null,
      };
      fake = FakeDaemon.start(home.socket, "9.0.0", 0, {
        features: ["send.confirm", "events.snapshot", "tags", "teleport.v2"],
        eventPushes: [
          { type: "event", event: { ...base, event: "teleported", status: "running" } },
          { type: "hologram", data: "a message type of the future" },
          {
            type: "event",
            event: { ...base, event: "status", status: "running", previous: "starting" },
          },
        ],
      });
      const c = await Client.connect(home.socket, { require: ["tags"] });
      assert.ok(c.has("teleport.v2"));
      c.close();
      for (const json of [true, false]) {
        const proc = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", MAIN, "events", ...(json ? ["--json"] : [])],
          env: home.env,
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const out = new TextSink(proc.stdout);
        const err = new TextSink(proc.stderr);
        await out.waitFor(/starting/);
        if (json) {
          const kinds = out.text.trim().split("\n").map((l) => JSON.parse(l).event);
          assert.deepEqual(kinds, ["teleported", "status"]);
        } else {
          assert.match(out.text, /^10:00:00\.000 01A+ \(n\) teleported\n/);
        }
        proc.kill("SIGINT");
        assert.equal((await proc.status).code, 0);
        await err.done;
        assert.equal(err.text, "");
      }
    } finally {
      await fake.close();
      await home.cleanup();
    }
  },
);
