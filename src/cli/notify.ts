/**
 * `notify test [--json]`: has the daemon send a sample notification through
 * the notifier it uses, and says how it went.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { CliError, UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import { FEATURES } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "notify",
  usage: "notify test [--json] | notify watch [--hosts all|HOST,…]",
  summary: "Send a test notification; or raise notifications for other machines' sessions.",
  details: `
test  the daemon sends a sample notification ("notify-test: waiting for
      permission") the way it sends real ones: through notify.command when
      set, else the desktop's notifier (notify-send; terminal-notifier or
      osascript on macOS), with notify.timeoutSeconds. The config is re-read
      first when it changed. Exits 0 when it was delivered, 1 when it failed
      or timed out (the reason is printed). It is sent even when
      notify.enabled is false, and then says so.

watch follows the sessions of other machines (--hosts: all configured hosts,
      the default, or a comma list; see "Several machines" in the README)
      and raises a notification here, through this machine's notifier and
      notify.* settings, whenever one of them waits for you — as each
      machine's daemon does for its own users there. It prints a line per
      notification, reconnects to a host that goes away, and runs until
      Ctrl-C (exit 0). Run it as a user service to always be told.

The daemon notifies when a session waits for you; see "Notifications" in the
README. doctor shows which notifier is in use.`,
  options: {
    json: { type: "boolean", description: "test: print {notification, enabled} as JSON" },
    hosts: {
      type: "string",
      arg: "all|HOST,…",
      description: "watch: the machines to follow (default: all configured hosts)",
    },
  },
  positionals: { min: 1, max: 1, names: "ACTION (test or watch)" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const action = args.positionals[0];
  if (action === "watch") return await watchHosts(strOpt(args, "hosts") ?? "all");
  if (action !== "test") {
    throw new UsageError(`unknown action "${action}" (test or watch)`, "notify");
  }
  const client = await connectOrStart(paths());
  let result;
  try {
    if (!(client.hello.features ?? []).includes(FEATURES.notify)) {
      throw new CliError(
        `the daemon (version ${client.hello.version}) does not send notifications`,
        1,
        "restart it to run this version (this stops its sessions): claude-sessions service restart",
      );
    }
    result = await client.request("notifyTest", {});
  } finally {
    client.close();
  }
  const n = result.notification;
  if (boolOpt(args, "json")) {
    console.log(JSON.stringify(result, null, 2));
    return n.outcome === "sent" ? 0 : 1;
  }
  const off = result.enabled ? "" : " (notify.enabled is false: sessions do not notify)";
  if (n.outcome === "sent") {
    console.log(printable(`sent through ${n.notifier}: ${n.title}${off}`));
    return 0;
  }
  const how = n.outcome === "timeout" ? "timed out" : "failed";
  throw new CliError(
    `the test notification ${how} (${n.notifier}): ${n.error ?? "no reason given"}${off}`,
    1,
    n.notifier === "command"
      ? "check notify.command in config.jsonc (it runs with /bin/sh -c)"
      : "see the notifier line of: claude-sessions doctor",
  );
}

/**
 * `notify watch`: other machines' sessions, followed live (a session feed
 * per host, reconnecting), notified here by the same rules as the daemon's.
 */
async function watchHosts(spec: string): Promise<number> {
  const p = paths();
  const { hostsOf } = await import("./_hosts.ts");
  const { connectRemote } = await import("./_connect.ts");
  const { SessionFeed } = await import("../client/feed.ts");
  const { Notifications } = await import("../daemon/notifications.ts");
  const { loadConfig, ConfigError } = await import("../config.ts");
  const { onHost } = await import("../session_view.ts");
  // This machine's sessions are its daemon's to notify.
  const hosts = (await hostsOf(spec, p, "notify")).filter((h) => h !== "local");
  if (hosts.length === 0) {
    throw new UsageError("no other machine to watch: configure hosts (see README)", "notify");
  }
  let config;
  try {
    config = (await loadConfig(p.config)).config;
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onInterrupt);
  const say = (line: string) => console.log(printable(`${new Date().toISOString()} ${line}`));
  const follow = async (host: string) => {
    const feed = new SessionFeed({
      connect: () => connectRemote(p, host, { noStart: true, require: [FEATURES.eventsSnapshot] }),
    });
    stop.signal.addEventListener("abort", () => feed.close(), { once: true });
    const notifications = new Notifications({
      config: () => config.notify,
      // Named with its host, so the notification says where.
      record: (id) => {
        const r = feed.table.get(id);
        return r ? onHost(r, host) : undefined;
      },
      attached: (id) => feed.table.get(id)?.clients ?? 0,
      publish: (ev) => {
        const n = ev.notification;
        if (!n) return;
        say(
          `${n.title}: ${
            n.outcome === "sent" ? `sent through ${n.notifier}` : `${n.outcome}: ${n.error}`
          }`,
        );
      },
      log: (msg) => console.error(printable(`claude-sessions: ${msg}`)),
      env: () => Deno.env.toObject(),
      sampleDir: "/",
    });
    let down = false;
    try {
      for await (const u of feed) {
        if (u.kind === "event") notifications.onEvent(u.event);
        if (u.kind === "down" && !down) say(`${host}: lost (${u.reason}); reconnecting`);
        if (u.kind === "snapshot" && (down || !u.reconnected)) say(`${host}: following`);
        down = u.kind === "down";
      }
    } finally {
      notifications.close();
    }
  };
  try {
    await Promise.all(hosts.map(follow));
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
  return 0;
}
