/**
 * A claude-sessions daemon for a benchmark: a temporary home whose
 * sessions run `sh -c <script>`, the daemon started from source, and a
 * protocol client — all gone when the benchmark's function returns.
 *
 * @module
 */

import { RawClient, TestHome } from "../test/_harness.ts";
import type { SessionRecord } from "../src/protocol.ts";

/** What a benchmark gets to work with. */
export interface BenchDaemon {
  home: TestHome;
  /** The daemon's pid. */
  pid: number;
  c: RawClient;
  /** Starts a session running `sh -c script`; returns its id. */
  start(script: string, size?: { cols: number; rows: number }): Promise<string>;
  /** A request on `c` (or `via`); throws on an error reply. */
  request(type: string, params: Record<string, unknown>, via?: RawClient): Promise<unknown>;
}

/** Runs `fn` against a daemon with `config` (merged into its config.jsonc); stops it after. */
export async function withDaemon<T>(
  config: Record<string, unknown>,
  fn: (d: BenchDaemon) => Promise<T>,
): Promise<T> {
  const home = await TestHome.create({ claude: { command: "/bin/sh", args: ["-c"] }, ...config });
  const daemon = await home.startDaemon();
  const c = await RawClient.connect(home.socket);
  const request = async (type: string, params: Record<string, unknown>, via = c) => {
    const r = await via.request(type, params);
    if (!r.ok) throw new Error(`${type}: ${JSON.stringify(r.error)}`);
    return r.result;
  };
  try {
    return await fn({
      home,
      pid: daemon.pid,
      c,
      request,
      start: async (script, size = { cols: 120, rows: 40 }) => {
        const result = await request("new", {
          cwd: home.dir,
          env: home.env,
          args: [script],
          ...size,
        });
        return (result as { session: SessionRecord }).session.id;
      },
    });
  } finally {
    c.close();
    await daemon.stop();
    await home.cleanup();
  }
}
