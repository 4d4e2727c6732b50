import { EVENTS, type EventName, type EventSpec, type StackFrame } from '../format/events.js';
import { MAX_STRING_BYTES } from '../format/limits.js';
import { decodeText } from '../format/text.js';
import { readUvarint, varintResult } from '../format/varint.js';
import type { TimedEvent } from './events.js';

/**
 * Two functions per timed event, generated from the event table:
 *
 * - a scanner, which checks an event and steps over it without making anything: varints well
 *   formed, inside the batch, string and stack references defined; and works out its time (a
 *   backdated event's real start);
 * - a builder, which makes the event object, in one literal of its final shape, from an event
 *   the scanner accepted, so it cannot fail.
 *
 * The reader scans a whole generation into typed arrays (time, batch, offset), orders it, and
 * builds each object only when it is handed out, so objects die young and the garbage
 * collector stays out of the way.
 */

/** Scan results: negative codes, and the event's time through {@link scanned}. */
export const SCAN_CUT = -1;
export const SCAN_BAD_VARINT = -2;
export const SCAN_BAD_STRING = -3;
export const SCAN_BAD_STACK = -4;
export const SCAN_TEXT_TOO_LONG = -5;

/** Out-parameters of a scanner: the event's time, and which argument failed. */
export const scanned = { time: 0, arg: '' };

/** Steps over the arguments at `p`; returns the position after them or a negative SCAN_ code. */
export type Scanner = (bytes: Uint8Array, p: number, end: number, time: number, strings: number, stacks: number) => number;

/** Builds the event whose arguments start at `p`; `time` is the scanned time. */
export type Builder = (bytes: Uint8Array, p: number, time: number, thread: number, strings: readonly string[], stacks: readonly (readonly StackFrame[])[]) => TimedEvent;

const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);

function readF64(b: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = b[p + i];
  return f64Scratch[0];
}

function scannerSource(spec: EventSpec): string {
  const lines = ['return function scan(b, p, end, time, strings, stacks) {', '  let q;', '  out.time = time;'];
  for (const [arg, type] of spec.args) {
    const fail = (code: number | string) => `{ out.arg = ${JSON.stringify(arg)}; return ${code}; }`;
    if (type === 'f64') {
      lines.push(`  if (p + 8 > end) ${fail(SCAN_CUT)}`, '  p += 8;');
      continue;
    }
    if (type === 'text') {
      lines.push(`  q = rv(b, p, end); if (q < 0) ${fail('q')}`);
      lines.push(`  if (vr.value > ${MAX_STRING_BYTES}) ${fail(SCAN_TEXT_TOO_LONG)}`);
      lines.push(`  p = q + vr.value; if (p > end) ${fail(SCAN_CUT)}`);
      continue;
    }
    lines.push(`  q = rv(b, p, end); if (q < 0) ${fail('q')}`, '  p = q;');
    if (type === 'str') lines.push(`  if (vr.value >= strings) ${fail(SCAN_BAD_STRING)}`);
    else if (type === 'stack') lines.push(`  if (vr.value >= stacks) ${fail(SCAN_BAD_STACK)}`);
    else if (type !== 'u') throw new Error(`event table: argument type ${type} cannot appear in a timed event`);
    if (arg === spec.backdatedBy) lines.push('  out.time = time - vr.value;');
  }
  lines.push('  return p;', '};');
  return lines.join('\n');
}

function builderSource(name: string, spec: EventSpec): string {
  const lines = ['return function build(b, p, time, thread, strings, stacks) {', '  const end = b.length;'];
  const fields = [`kind: ${JSON.stringify(name)}`, 'time: time', 'thread: thread'];
  spec.args.forEach(([arg, type], i) => {
    if (type === 'f64') {
      lines.push(`  const a${i} = f64(b, p); p += 8;`);
    } else if (type === 'text') {
      lines.push('  p = rv(b, p, end);');
      lines.push(`  const a${i} = text(b, p, p + vr.value); p += vr.value;`);
    } else {
      lines.push('  p = rv(b, p, end);');
      if (type === 'u') lines.push(`  const a${i} = vr.value;`);
      else if (type === 'str') lines.push(`  const a${i} = strings[vr.value];`);
      else lines.push(`  const a${i} = stacks[vr.value];`);
    }
    if (arg !== spec.backdatedBy) fields.push(`${JSON.stringify(arg)}: a${i}`);
  });
  lines.push(`  return { ${fields.join(', ')} };`, '};');
  return lines.join('\n');
}

function generate<T>(make: (name: EventName, spec: EventSpec) => T): readonly (T | undefined)[] {
  const byCode: (T | undefined)[] = new Array(256).fill(undefined);
  for (const name of Object.keys(EVENTS) as EventName[]) {
    const spec: EventSpec = EVENTS[name];
    if (spec.timed) byCode[spec.code] = make(name, spec);
  }
  return byCode;
}

/** Scanners by type byte; undefined where the code is not a timed event. */
export const SCANNERS = generate((_name, spec) => new Function('rv', 'vr', 'out', scannerSource(spec))(readUvarint, varintResult, scanned) as Scanner);

/** Builders by type byte. */
export const BUILDERS = generate((name, spec) => new Function('rv', 'vr', 'f64', 'text', builderSource(name, spec))(readUvarint, varintResult, readF64, decodeText) as Builder);
