import { NfrError } from '../errors/errors.js';

/**
 * Option checking shared by the recorders: unknown names and wrong values are typed errors that
 * name the option, at construction, never later.
 */

type Check = (value: unknown) => string | undefined;

export const positiveNumber: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? undefined : 'a finite number > 0');
/** For options checked elsewhere in full (level, sources): accepted here, validated by their owner. */
export const checkedLater: Check = () => undefined;
export const positiveInteger: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? undefined : 'an integer > 0');

/** Checks `options` against `checks` and returns it typed; `what` names the caller in messages. */
export function checkOptions<T extends object>(what: string, options: unknown, checks: Record<keyof T & string, Check>): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new NfrError('ERR_INVALID_OPTION', `${what}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const [name, value] of Object.entries(options)) {
    const check = (checks as Record<string, Check>)[name];
    if (check === undefined) {
      throw new NfrError('ERR_INVALID_OPTION', `${what}: unknown option "${name}"; known options: ${Object.keys(checks).join(', ')}`);
    }
    if (value === undefined) continue;
    const expected = check(value);
    if (expected !== undefined) {
      throw new NfrError('ERR_INVALID_OPTION', `${what}: option "${name}" must be ${expected}, got ${describe(value)}`);
    }
  }
  return options as Partial<T>;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeof value;
}
