/**
 * One `nfr` subcommand. The dispatcher (cli/nfr.ts) finds it by name, prints `usage` for
 * `--help`, and exits with what `run` resolves to.
 */
export interface Command {
  readonly name: string;
  /** One line, for `nfr --help`. */
  readonly summary: string;
  /** The full help text: usage line, options, examples. */
  readonly usage: string;
  run(args: string[], io: CommandIO): Promise<number>;
}

export interface CommandIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}
