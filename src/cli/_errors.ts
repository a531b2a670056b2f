/**
 * Errors the CLI reports as one line on stderr, with a documented exit code:
 * 0 ok, 1 error, 2 usage, 3 waiting for permission (`send --wait`), 124 timeout.
 *
 * @module
 */

import { UserError } from "../errors.ts";

/** Exit codes. */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, PERMISSION: 3, TIMEOUT: 124 } as const;

/** A failure to report without a stack trace. */
export class CliError extends UserError {
  constructor(message: string, exitCode: number = EXIT.ERROR, hint?: string) {
    super(message, exitCode, hint);
    this.name = "CliError";
  }
}

/** Bad command-line usage (exit 2). */
export class UsageError extends CliError {
  /** The command whose usage was wrong, for the hint. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message, EXIT.USAGE, `see: claude-sessions ${command ? `${command} ` : ""}--help`);
    this.name = "UsageError";
    this.command = command;
  }
}
