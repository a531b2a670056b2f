import assert from "node:assert/strict";
import {
  findNotifier,
  type NotifyPayload,
  payloadEnv,
  payloadFor,
  sampleRecord,
} from "./notifier.ts";
import { defaultConfig, type NotifyConfig } from "./config.ts";
import type { SessionRecord } from "./protocol.ts";

const cfg = (over: Partial<NotifyConfig> = {}): NotifyConfig => ({
  ...defaultConfig().notify,
  ...over,
});

/** A PATH lookup that finds exactly `have` (in /opt/bin). */
const finder = (...have: string[]) => (name: string, _path: string) =>
  Promise.resolve(have.includes(name) ? `/opt/bin/${name}` : null);

function rec(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    ...sampleRecord("/home/me/api"),
    id: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R",
    name: "api",
    waitingFor: { kind: "permission", tool: "Bash", input: "ls <dir> & echo" },
    ...over,
  };
}

const payload = (): NotifyPayload => payloadFor(rec(), "permission");

Deno.test("payload: the session view's words, the record's facts, and env variables", () => {
  const p = payloadFor(rec({ tags: ["web"] }), "permission");
  assert.equal(p.title, "api: waiting for permission");
  assert.equal(p.body, "Waiting for permission to use Bash: ls <dir> & echo\nin /home/me/api");
  assert.equal(p.test, false);
  assert.deepEqual(p.session.tags, ["web"]);
  assert.deepEqual(p.session.waitingFor, {
    kind: "permission",
    tool: "Bash",
    input: "ls <dir> & echo",
  });
  const env = payloadEnv(p);
  assert.deepEqual(env, {
    CLAUDE_SESSIONS_NOTIFY_TITLE: "api: waiting for permission",
    CLAUDE_SESSIONS_NOTIFY_BODY:
      "Waiting for permission to use Bash: ls <dir> & echo\nin /home/me/api",
    CLAUDE_SESSIONS_NOTIFY_KIND: "permission",
    CLAUDE_SESSIONS_NOTIFY_ID: "01M7ZA1QCE3W6Y2T5XJ8K9VQ0R",
    CLAUDE_SESSIONS_NOTIFY_NAME: "api",
    CLAUDE_SESSIONS_NOTIFY_STATUS: "waiting_permission",
    CLAUDE_SESSIONS_NOTIFY_DIR: "/home/me/api",
    CLAUDE_SESSIONS_NOTIFY_WAITING_FOR: "permission to use Bash: ls <dir> & echo",
    CLAUDE_SESSIONS_NOTIFY_TEST: "0",
  });
  const input = payloadEnv(
    payloadFor(rec({ name: null, status: "waiting_input", waitingFor: null }), "input", true),
  );
  assert.equal(input.CLAUDE_SESSIONS_NOTIFY_NAME, "");
  assert.equal(input.CLAUDE_SESSIONS_NOTIFY_WAITING_FOR, "the next prompt");
  assert.equal(input.CLAUDE_SESSIONS_NOTIFY_TEST, "1");
  // No NUL reaches the environment (it cannot hold one).
  const nul = payloadEnv(
    payloadFor(
      rec({ waitingFor: { kind: "permission", tool: "Bash", input: "a\0b" } }),
      "permission",
    ),
  );
  assert.equal(nul.CLAUDE_SESSIONS_NOTIFY_WAITING_FOR, "permission to use Bash: ab");
});

Deno.test("findNotifier: notify.command wins, run with /bin/sh -c", async () => {
  const f = await findNotifier(
    cfg({ command: "curl -d @- ntfy.sh/x" }),
    { PATH: "/x" },
    finder("notify-send"),
    "linux",
    1000,
  );
  assert.equal(f.choice?.name, "command");
  assert.deepEqual(f.choice?.argv(payload()), ["/bin/sh", "-c", "curl -d @- ntfy.sh/x"]);
  assert.equal(f.detail, "notify.command: curl -d @- ntfy.sh/x");
  assert.equal(f.problem, undefined);
});

Deno.test("findNotifier: notify-send on Linux, urgency by kind, body markup escaped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A session bus where systemd puts it: found, and handed to notify-send.
    await Deno.writeTextFile(`${dir}/bus`, "");
    const f = await findNotifier(cfg(), { XDG_RUNTIME_DIR: dir }, finder("notify-send"), "linux");
    assert.equal(f.choice?.name, "notify-send");
    assert.equal(f.problem, undefined);
    assert.equal(f.desktop, true);
    assert.deepEqual(f.choice?.env, { DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/bus` });
    assert.deepEqual(f.choice?.argv(payload()), [
      "/opt/bin/notify-send",
      "--app-name=claude-sessions",
      "--urgency=critical",
      "--",
      "api: waiting for permission",
      "Waiting for permission to use Bash: ls &lt;dir&gt; &amp; echo\nin /home/me/api",
    ]);
    const input = f.choice!.argv(payloadFor(rec({ status: "waiting_input" }), "input"));
    assert.equal(input[2], "--urgency=normal");
    // An address already set is used as it is.
    const set = await findNotifier(
      cfg(),
      { DBUS_SESSION_BUS_ADDRESS: "unix:path=/x/bus" },
      finder("notify-send"),
      "linux",
    );
    assert.deepEqual(set.choice?.env, {});
    assert.equal(set.problem, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findNotifier: notify-send without a session bus is a problem; none at all is null", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const nobus = await findNotifier(
      cfg(),
      { XDG_RUNTIME_DIR: dir },
      finder("notify-send"),
      "linux",
    );
    assert.equal(nobus.choice?.name, "notify-send");
    assert.match(
      nobus.problem ?? "",
      /no D-Bus session bus \(DBUS_SESSION_BUS_ADDRESS is unset and there is no .*\/bus\)/,
    );
    assert.equal(nobus.desktop, false);
    const withDisplay = await findNotifier(
      cfg(),
      { XDG_RUNTIME_DIR: dir, DISPLAY: ":0" },
      finder("notify-send"),
      "linux",
    );
    assert.equal(withDisplay.desktop, true);
    const none = await findNotifier(
      cfg(),
      { PATH: "/usr/bin", XDG_RUNTIME_DIR: dir },
      finder(),
      "linux",
    );
    assert.equal(none.choice, null);
    assert.equal(none.detail, "notify-send is not on the daemon's PATH (/usr/bin)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findNotifier: macOS prefers terminal-notifier, else osascript with the text as arguments", async () => {
  const tn = await findNotifier(cfg(), {}, finder("terminal-notifier", "osascript"), "darwin");
  assert.equal(tn.choice?.name, "terminal-notifier");
  assert.equal(tn.desktop, true);
  assert.deepEqual(tn.choice?.argv(payload()), [
    "/opt/bin/terminal-notifier",
    "-title",
    "api: waiting for permission",
    "-message",
    "Waiting for permission to use Bash: ls <dir> & echo\nin /home/me/api",
    "-group",
    "claude-sessions-01M7ZA1QCE3W6Y2T5XJ8K9VQ0R",
    "-sound",
    "default",
  ]);
  // A message starting with "-" would read as an option.
  const dash = tn.choice!.argv(
    payloadFor(rec({ status: "waiting_input", lastMessage: "- done" }), "input"),
  );
  assert.equal(dash[4], " - done\nin /home/me/api");
  assert.equal(dash.includes("-sound"), false);
  const osa = await findNotifier(cfg(), {}, finder("osascript"), "darwin");
  assert.equal(osa.choice?.name, "osascript");
  const argv = osa.choice!.argv(payload());
  assert.deepEqual(argv.slice(-2), [
    "api: waiting for permission",
    "Waiting for permission to use Bash: ls <dir> & echo\nin /home/me/api",
  ]);
  // The script never contains the text.
  assert.ok(argv.slice(0, -2).every((a) => !a.includes("api")));
  const none = await findNotifier(cfg(), { PATH: "/bin" }, finder(), "darwin");
  assert.equal(none.choice, null);
  assert.match(none.detail, /neither terminal-notifier nor osascript/);
});
