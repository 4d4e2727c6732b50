/**
 * How `nfr` commands fail. The dispatcher prints the message as one line on stderr, prefixed
 * with `nfr: `, and exits with the code: 2 for a wrong command line, 1 for input that cannot
 * be read (missing, unreadable, not a trace, truncated, corrupt) and for output that cannot be
 * written.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A wrong command line: unknown option, missing file argument. Exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/**
 * Standard output was closed by the reader (`nfr dump big.nfrt | head`): not an error, the
 * command stops quietly.
 */
export class OutputClosed extends Error {
  constructor() {
    super('standard output was closed');
    this.name = 'OutputClosed';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
