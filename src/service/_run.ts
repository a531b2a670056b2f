/**
 * Running the service manager's tools (`systemctl`, `launchctl`), behind an
 * interface so tests can stand in for them.
 *
 * @module
 */

/** What a tool printed and how it exited. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with arguments; never throws for a non-zero exit. */
export type Runner = (program: string, args: string[]) => Promise<RunResult>;

/** The real runner: no stdin, output captured. A missing program exits 127. */
export const realRunner: Runner = async (program, args) => {
  try {
    const out = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    return { code: 127, stdout: "", stderr: `${program}: ${(e as Error).message}` };
  }
};

/** The first non-empty line of a tool's error output, for a one-line message. */
export function firstLine(r: RunResult): string {
  const line = (r.stderr.trim() || r.stdout.trim()).split("\n")[0]?.trim();
  return line || `exit code ${r.code}`;
}
