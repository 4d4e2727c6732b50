import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's arguments with node:util's parseArgs (strict: unknown options are
 * errors), and expects exactly `files` positional arguments. Errors are {@link UsageError}s
 * that say how to get help.
 */
export function parseCommandArgs<O extends Options>(command: string, args: string[], options: O, files = 1): { values: Record<keyof O, unknown>; positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/, '')} (see nfr ${command} --help)`);
  }
  if (parsed.positionals.length < files) throw new UsageError(`missing FILE (see nfr ${command} --help)`);
  if (parsed.positionals.length > files) throw new UsageError(`unexpected argument "${parsed.positionals[files]}" (see nfr ${command} --help)`);
  return parsed as { values: Record<keyof O, unknown>; positionals: string[] };
}

/** A positive integer option, or the default. */
export function integerOption(command: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} needs a whole number, got "${String(value)}"`);
  return n;
}
