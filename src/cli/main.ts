import { readFileSync } from 'node:fs';
import { isNfrError } from '../errors/errors.js';
import type { Command, CommandIO } from './command.js';
import { COMMANDS } from './commands/index.js';
import { CliError, EXIT_USAGE, OutputClosed, UsageError } from './errors.js';

/** Exit status of an unexpected failure (a bug): EX_SOFTWARE of sysexits.h. */
const EXIT_INTERNAL = 70;

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** `nfr --help`: the commands, one line each. */
export function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: nfr <command> FILE [options]

Reads node-flight-recorder traces (.nfrt files), offline, on the machine where they are.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "nfr <command> --help" for a command's options and examples.
  nfr findings trace.nfrt     what went wrong, most severe first
  nfr stats trace.nfrt        where the time went

Options:
  -h, --help      this help
  -v, --version   the version of node-flight-recorder

Exit status: 0 done; 1 the trace cannot be read or is invalid; 2 wrong command line.`;
}

function isHelp(arg: string): boolean {
  return arg === '--help' || arg === '-h';
}

/**
 * Runs `nfr` with `argv` (the arguments after `nfr`); resolves to the exit status. Every failure
 * becomes one line on `io.stderr`: `nfr: FILE: what is wrong` for input, `nfr CMD: what is
 * wrong` for the command line.
 */
export async function main(argv: readonly string[], io: CommandIO, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.stderr.write(`${usage(commands)}\n`);
    return EXIT_USAGE;
  }
  if (isHelp(name) || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === args[0]) : undefined;
    io.stdout.write(`${topic !== undefined ? topic.usage : usage(commands)}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    const what = name.startsWith('-') ? `unknown option "${name}"` : `unknown command "${name}"`;
    io.stderr.write(`nfr: ${what} (commands: ${commands.map((c) => c.name).join(', ')}; see nfr --help)\n`);
    return EXIT_USAGE;
  }
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).some(isHelp)) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run([...args], io);
  } catch (err) {
    if (err instanceof OutputClosed) return 0;
    if (err instanceof UsageError) {
      io.stderr.write(`nfr ${command.name}: ${oneLine(err.message)}\n`);
      return err.exitCode;
    }
    if (err instanceof CliError) {
      io.stderr.write(`nfr: ${oneLine(err.message)}\n`);
      return err.exitCode;
    }
    if (isNfrError(err)) {
      io.stderr.write(`nfr ${command.name}: ${oneLine(err.message)}\n`);
      return 1;
    }
    const detail = process.env.NFR_DEBUG ? ` ${(err as Error)?.stack ?? ''}` : ' (set NFR_DEBUG=1 for the stack)';
    io.stderr.write(`nfr ${command.name}: internal error: ${oneLine(err instanceof Error ? err.message : String(err))}${process.env.NFR_DEBUG ? `\n${detail}` : detail}\n`);
    return EXIT_INTERNAL;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
