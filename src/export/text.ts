import { EVENTS, type ArgType, type EventName, type EventSpec, type StackFrame } from '../format/events.js';
import type { TraceEvent } from '../reader/events.js';

/**
 * The text dump: every event as one line, for `nfr dump`, grep and diff. The line of a timed
 * event is generated from the event table, so an event added to the table prints without a
 * change here:
 *
 * ```
 * +0.082313456 t0 httpRequest     task=2 method=GET path=/block route="" remote=""
 * ```
 *
 * - the time, in seconds since `origin` (the trace's first sync), to the nanosecond;
 * - the thread, `t` and its id;
 * - the kind, padded to line up;
 * - the arguments in table order as `name=value`: numbers as they are (durations and times in
 *   ns), strings bare when they are one plain word and JSON-quoted otherwise, stacks as
 *   `[innermost (url:line:column) < caller (...) < ...]`. A backdated event's `ago` argument
 *   is left out: its time already is its real start.
 *
 * Sync lines carry the generation, the clock snapshot (wall time in ISO 8601) and the process;
 * a `generationsLost` line, the lost generations. No Node imports: the viewer may use it.
 */

const KIND_WIDTH = 15;

/** Formats one event as a line (without the newline). */
export function formatEvent(event: TraceEvent, origin = 0): string {
  if (event.kind === 'sync') {
    const c = event.clock;
    const wall = new Date(c.wallSec * 1000 + Math.floor(c.wallNsec / 1e6)).toISOString();
    const p = event.process;
    const process = p === undefined ? '' : ` pid=${p.pid} node=${formatString(p.nodeVersion)} platform=${formatString(p.platform)} arch=${formatString(p.arch)} host=${formatString(p.hostname)} title=${formatString(p.title)}`;
    return `${head(event, origin)} generation=${event.generation} final=${event.final} wall=${wall} trace=${c.trace} mono=${c.monoSec}.${String(c.monoNsec).padStart(9, '0')}${process}`;
  }
  if (event.kind === 'generationsLost') {
    return `${head(event, origin)} first=${event.first} count=${event.count} bytes=${event.bytes}`;
  }
  const format = FORMATTERS.get(event.kind);
  return format === undefined ? head(event, origin) : format(event, origin);
}

function head(event: TraceEvent, origin: number): string {
  return `${formatTime(event.time, origin)} t${event.thread} ${event.kind.padEnd(KIND_WIDTH)}`;
}

type Formatter = (event: TraceEvent, origin: number) => string;

/**
 * One formatter per timed event, generated from the table (as the reader's decoders are): a
 * single string expression with the argument names and types fixed, so a dump of millions of
 * events does not walk the table per event.
 */
const FORMATTERS: ReadonlyMap<string, Formatter> = new Map(
  (Object.keys(EVENTS) as EventName[])
    .filter((name) => (EVENTS[name] as EventSpec).timed)
    .map((name) => {
      const spec: EventSpec = EVENTS[name];
      const parts = [`time(e.time, origin)`, JSON.stringify(` t`), 'e.thread', JSON.stringify(` ${name.padEnd(KIND_WIDTH)}`)];
      for (const [arg, type] of spec.args) {
        if (arg === spec.backdatedBy) continue;
        const field = `e[${JSON.stringify(arg)}]`;
        const value = type === 'str' || type === 'text' ? `str(${field})` : type === 'stack' || type === 'frames' ? `stack(${field})` : `String(${field})`;
        parts.push(JSON.stringify(` ${arg}=`), value);
      }
      const make = new Function('time', 'str', 'stack', `return function format(e, origin) { return ${parts.join(' + ')}; };`);
      return [name, make(formatTime, formatString, formatStack) as Formatter] as const;
    }),
);

/** `+S.NNNNNNNNN`: seconds since `origin`, to the nanosecond, without floating-point rounding. */
export function formatTime(time: number, origin: number): string {
  let ns = Math.round(time - origin);
  const sign = ns < 0 ? '-' : '+';
  if (ns < 0) ns = -ns;
  const seconds = Math.floor(ns / 1e9);
  const fraction = ns - seconds * 1e9;
  return `${sign}${seconds}.${fraction < 1e8 ? String(fraction).padStart(9, '0') : fraction}`;
}

/** One argument's value as text, by its type in the event table. */
export function formatValue(value: unknown, type: ArgType): string {
  switch (type) {
    case 'u':
    case 'f64':
      return String(value);
    case 'str':
    case 'text':
      return formatString(value as string);
    case 'stack':
    case 'frames':
      return formatStack(value as readonly StackFrame[]);
    default:
      return String(value);
  }
}

/** Whether a character may appear in a bare (unquoted) string: letters, digits and `_.:/@%+,-`. */
const BARE = (() => {
  const bare = new Uint8Array(128);
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/@%+,-') bare[c.charCodeAt(0)] = 1;
  return bare;
})();

/** A string bare when it is one plain word, else JSON-quoted (so spaces, quotes and newlines stay on one line). */
export function formatString(value: string): string {
  const n = value.length;
  if (n === 0) return '""';
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || BARE[c] === 0) return JSON.stringify(value);
  }
  return value;
}

/** `[fn (url:line:column) < caller (url:line:column)]`, innermost frame first. */
export function formatStack(frames: readonly StackFrame[]): string {
  let out = '[';
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (i > 0) out += ' < ';
    out += f.functionName === '' ? '(anonymous)' : f.functionName;
    if (f.url !== '') out += ` (${f.url}:${f.line}:${f.column})`;
  }
  return `${out}]`;
}

/** The names of the events a dump can show, with their documentation: for `nfr dump --help`. */
export function describeDumpFields(): string {
  return (Object.keys(EVENTS) as EventName[])
    .filter((name) => (EVENTS[name] as EventSpec).timed)
    .map((name) => {
      const spec: EventSpec = EVENTS[name];
      const args = spec.args.filter(([arg]) => arg !== spec.backdatedBy).map(([arg]) => arg);
      return `  ${name.padEnd(KIND_WIDTH)} ${args.join(' ')}`;
    })
    .join('\n');
}
