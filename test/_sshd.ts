/**
 * A real OpenSSH server on 127.0.0.1 for the tests of `--host`: started on
 * a free port with its own host key and a generated client key, accepting
 * only that key, for the current user (root: it needs privilege separation).
 * `.ci/run` installs Debian's `openssh-server`; elsewhere, without `sshd`
 * or root, the tests that need it are skipped (under CI that is an error).
 *
 * @module
 */

import { ROOT, TestHome, TextSink } from "./_harness.ts";
import type { HostConfig } from "../src/config.ts";

/** The server program. */
export const SSHD = "/usr/sbin/sshd";

/** Whether a test sshd can run here (sshd installed, and root). */
export const HAVE_SSHD: boolean = await Deno.stat(SSHD).then(() => true, () => false) &&
  Deno.uid() === 0;
if (!HAVE_SSHD && Deno.env.get("CI")) {
  throw new Error(`CI requires ${SSHD} and root for the --host tests (Debian: openssh-server)`);
}

/** Deno's cache of this test run, for the "remote" claude-sessions (run from source). */
const DENO_DIR = JSON.parse(
  new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
  ),
).denoDir as string;

/** Quotes a word for a POSIX shell. */
export function q(word: string): string {
  return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A running test sshd. */
export class Sshd {
  readonly dir: string;
  readonly port: number;
  readonly user: string;
  readonly #child: Deno.ChildProcess;
  readonly #log: TextSink;

  private constructor(
    dir: string,
    port: number,
    user: string,
    child: Deno.ChildProcess,
    log: TextSink,
  ) {
    this.dir = dir;
    this.port = port;
    this.user = user;
    this.#child = child;
    this.#log = log;
  }

  /** Starts one; resolves once it listens. */
  static async start(): Promise<Sshd> {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cs-sshd-" });
    for (const k of ["host_key", "client_key"]) {
      const r = await new Deno.Command("ssh-keygen", {
        args: ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/${k}`],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!r.success) throw new Error(`ssh-keygen failed: ${new TextDecoder().decode(r.stderr)}`);
    }
    await Deno.copyFile(`${dir}/client_key.pub`, `${dir}/authorized_keys`);
    await Deno.chmod(`${dir}/authorized_keys`, 0o600);
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (free.addr as Deno.NetAddr).port;
    free.close();
    await Deno.writeTextFile(
      `${dir}/sshd_config`,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${dir}/host_key`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "MaxSessions 100",
        "MaxStartups 100",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    // Privilege separation's directory (Debian's package makes it at boot).
    await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    const child = new Deno.Command(SSHD, {
      args: ["-D", "-e", "-f", `${dir}/sshd_config`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const log = new TextSink(child.stderr);
    await log.waitFor(/Server listening on 127\.0\.0\.1 port/, 20_000);
    const user = Deno.env.get("USER") || "root";
    return new Sshd(dir, port, user, child, log);
  }

  /** What the server logged. */
  get log(): string {
    return this.#log.text;
  }

  /** The `ssh://` address. */
  get url(): string {
    return `ssh://${this.user}@127.0.0.1:${this.port}`;
  }

  /** ssh options: this server's client key and host key, nothing of the user's ssh config. */
  get sshOptions(): string[] {
    return [
      "-F",
      "/dev/null",
      "-i",
      `${this.dir}/client_key`,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      `UserKnownHostsFile=${this.dir}/known_hosts`,
      "-o",
      "StrictHostKeyChecking=accept-new",
      "-o",
      "LogLevel=ERROR",
    ];
  }

  /**
   * A `hosts` entry reaching claude-sessions (from this checkout) behind this
   * server, with its own `home`; `env` is set for it (e.g. what its sessions
   * need: the daemon it starts gives them its environment).
   */
  host(home: string, env: Record<string, string> = {}): HostConfig {
    const deno = Deno.execPath();
    const vars = {
      DENO_DIR,
      NO_COLOR: "1",
      PATH: `${deno.slice(0, deno.lastIndexOf("/"))}:/usr/local/bin:/usr/bin:/bin`,
      ...env,
    };
    const assign = Object.entries(vars).map(([k, v]) => `${k}=${q(v)}`).join(" ");
    return {
      url: this.url,
      command: `env ${assign} ${q(deno)} run -A --quiet ${q(`${ROOT}src/main.ts`)}`,
      home,
      ssh: this.sshOptions,
    };
  }

  /** Ends the multiplexing masters that a client home's connections left (see `src/client/ssh.ts`). */
  async closeMasters(clientHome: string): Promise<void> {
    await new Deno.Command("ssh", {
      args: [
        ...this.sshOptions,
        "-o",
        `ControlPath=${clientHome}/ssh/%C`,
        "-p",
        String(this.port),
        "-O",
        "exit",
        `${this.user}@127.0.0.1`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
  }

  /**
   * Stops the server and ends the connections in progress (its children:
   * stopping the listener alone leaves them, and ssh's multiplexing master
   * would go on using its connection).
   */
  async stop(): Promise<void> {
    await new Deno.Command("pkill", { args: ["-TERM", "-P", String(this.#child.pid)] }).output()
      .catch(() => {});
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.#child.status;
  }

  /** Stops the server and removes its files. */
  async cleanup(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Two machines on this one: `local`, a home whose config names `box` (and
 * `hosts`), and behind a test sshd, a daemon in `remote`'s own home (with
 * `remoteConfig`; `env` set for it there). Both run `/bin/sh` sessions here
 * unless `remoteConfig` says otherwise.
 */
export async function twoMachines(
  remoteConfig: unknown,
  opts: { env?: Record<string, string>; hosts?: Record<string, HostConfig> } = {},
) {
  const sshd = await Sshd.start();
  const remote = await TestHome.create(remoteConfig);
  const local = await TestHome.create({
    claude: { command: "/bin/sh" },
    hosts: { box: sshd.host(remote.dir, opts.env), ...opts.hosts },
  });
  return {
    sshd,
    remote,
    local,
    /** Runs `claude-sessions COMMAND -H box ARGS…`. */
    box: (args: string[]) => local.ok([args[0]!, "-H", "box", ...args.slice(1)]),
    async cleanup() {
      // The daemon there runs on this machine: stopped through its own socket (sshd may be down).
      await remote.cli(["stop-daemon"]).catch(() => {});
      await sshd.closeMasters(local.dir);
      await sshd.cleanup();
      await local.cli(["stop-daemon"]);
      await remote.cleanup();
      await local.cleanup();
    },
  };
}
