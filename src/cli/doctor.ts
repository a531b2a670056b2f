/**
 * `doctor [--json]`: checks the install and prints ✓ / ✗ (with a fix) / –.
 *
 * @module
 */

import type { CommandSpec, Parsed } from "./_args.ts";
import { boolOpt, strOpt } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { paths } from "../paths.ts";
import { ConfigError, loadConfig, type LoadedConfig } from "../config.ts";
import { type CheckReport, CHECKS, type DoctorContext, runChecks } from "../doctor/checks.ts";
import { Service, type ServiceStatus } from "../service/service.ts";
import { printable } from "../printable.ts";

/** Command interface. */
export const spec: CommandSpec = {
  name: "doctor",
  usage: "doctor [--only ID[,ID…]] [--json]",
  summary: "Check the install: program, claude, home, daemon, service, notifier, disk.",
  details: `
Each check prints ✓ (fine), ✗ (a problem, with the fix on the next line) or
– (does not apply here). Like other commands, it starts the daemon when none
answers, to prove that it can. Exits 0 when no check failed, 1 otherwise.

Check ids (for --only): ${CHECKS.map((c) => c.id).join(", ")}.`,
  options: {
    only: { type: "string", arg: "ID[,ID…]", description: "run only these checks" },
    json: { type: "boolean", description: "print the results as JSON" },
  },
  positionals: { min: 0, max: 0 },
  remote: false,
};

const MARK = { ok: "✓", fail: "✗", skip: "–" } as const;

/** Runs the command. */
export async function run(args: Parsed): Promise<number> {
  const p = paths();
  let service: Promise<Service> | undefined;
  let config: Promise<LoadedConfig | ConfigError> | undefined;
  let status: Promise<ServiceStatus> | undefined;
  const ctx: DoctorContext = {
    paths: p,
    env: (k) => Deno.env.get(k),
    service: () => (service ??= Service.forThisMachine()),
    config: () => (config ??= loadConfig(p.config).catch((e) => {
      if (e instanceof ConfigError) return e;
      throw e;
    })),
    serviceStatus: () => (status ??= ctx.service().then((s) => s.status())),
  };
  const json = boolOpt(args, "json");
  const reports = await runChecks(ctx, selectChecks(strOpt(args, "only")));
  const failed = reports.filter((r) => r.status === "fail").length;
  if (json) {
    console.log(JSON.stringify({ ok: failed === 0, checks: reports }, null, 2));
  } else {
    console.log(formatReports(reports));
    console.log(
      failed === 0 ? "\nall checks passed" : `\n${failed} check${failed === 1 ? "" : "s"} failed`,
    );
  }
  return failed === 0 ? 0 : 1;
}

/** The checks `--only` names (every check without it). */
function selectChecks(only: string | undefined): typeof CHECKS {
  if (only === undefined) return CHECKS;
  const ids = only.split(",").map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new UsageError("--only needs check ids", "doctor");
  for (const id of ids) {
    if (!CHECKS.some((c) => c.id === id)) {
      throw new UsageError(
        `unknown check "${id}" (one of: ${CHECKS.map((c) => c.id).join(", ")})`,
        "doctor",
      );
    }
  }
  return CHECKS.filter((c) => ids.includes(c.id));
}

/** The human form: one line per check, the fix indented below a failure. */
export function formatReports(reports: CheckReport[]): string {
  const w = Math.max(...reports.map((r) => r.title.length));
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${MARK[r.status]} ${r.title.padEnd(w)}  ${printable(r.detail)}`);
    if (r.status === "fail" && r.fix) lines.push(`  ${" ".repeat(w)}  fix: ${printable(r.fix)}`);
  }
  return lines.join("\n");
}
