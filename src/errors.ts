/**
 * The one kind of failure reported to a person as one line (and a hint),
 * never a stack trace: the CLI's own errors and the client library's alike.
 *
 * @module
 */

/** A failure to report as one line, with an optional second line (a hint). */
export class UserError extends Error {
  /** Process exit code, for a command that ends on it. */
  readonly exitCode: number;
  /** Optional second line: what to do about it. */
  readonly hint: string | undefined;

  constructor(message: string, exitCode = 1, hint?: string) {
    super(message);
    this.name = "UserError";
    this.exitCode = exitCode;
    this.hint = hint;
  }
}
