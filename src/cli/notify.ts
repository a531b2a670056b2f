/**
 * `notify test [--json]`: has the daemon send a sample notification through
 * the notifier it uses, and says how it went.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt } from "./_args.ts";
import { connectOrStart } from "./_connect.ts";
import { CliError, UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { printable } from "../printable.ts";
import { FEATURES } from "../protocol.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "notify",
  usage: "notify test [--json]",
  summary: "Send a test notification through the daemon's notifier.",
  details: `
test  the daemon sends a sample notification ("notify-test: waiting for
      permission") the way it sends real ones: through notify.command when
      set, else the desktop's notifier (notify-send; terminal-notifier or
      osascript on macOS), with notify.timeoutSeconds. The config is re-read
      first when it changed. Exits 0 when it was delivered, 1 when it failed
      or timed out (the reason is printed). It is sent even when
      notify.enabled is false, and then says so.

The daemon notifies when a session waits for you; see "Notifications" in the
README. doctor shows which notifier is in use.`,
  options: {
    json: { type: "boolean", description: "print {notification, enabled} as JSON" },
  },
  positionals: { min: 1, max: 1, names: "ACTION (test)" },
};

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const action = args.positionals[0];
  if (action !== "test") throw new UsageError(`unknown action "${action}" (test)`, "notify");
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
