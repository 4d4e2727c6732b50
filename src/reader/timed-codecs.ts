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

/**
 * In- and out-parameters of a scanner: the event's time (set to the record's timestamp before the
 * call, moved back for a backdated event), and which argument failed. The time goes through this
 * object rather than as an argument: a time in ns is not a small integer, and passing it to the
 * scanners (never inlined: one per kind) would box it, one heap number per event.
 */
export const scanned = { time: 0, arg: '' };

/** Steps over the arguments at `p` (the record's time is in `scanned.time`); returns the position after them or a negative SCAN_ code. */
export type Scanner = (bytes: Uint8Array, p: number, end: number, strings: number, stacks: number) => number;

/** Builds the event whose arguments start at `p`; `time` is the scanned time. */
export type Builder = (bytes: Uint8Array, p: number, time: number, thread: number, strings: readonly string[], stacks: readonly (readonly StackFrame[])[]) => TimedEvent;

/**
 * Like {@link Builder}, but writes the event's fields into the one object of its kind and returns
 * it; the time comes through {@link fillState} (not boxed, as for the scanners).
 */
export type Filler = (bytes: Uint8Array, p: number, thread: number, strings: readonly string[], stacks: readonly (readonly StackFrame[])[]) => TimedEvent;

/** The time of the event a filler fills, set before the call. */
export const fillState = { time: 0 };

const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);

function readF64(b: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = b[p + i];
  return f64Scratch[0];
}

function scannerSource(spec: EventSpec): string {
  // Varints of up to three bytes (ids, counts and references below 2^21) are read inline when
  // they lie in the batch, anything else (errors included) through `rv`: a call per argument
  // was most of a scanner's cost.
  const lines = ['return function scan(b, p, end, strings, stacks) {', '  let q, v, c;'];
  const varint = (failing: string) => [
    '  q = -1;',
    '  if (p + 3 <= end) {',
    '    v = b[p];',
    '    if (v < 0x80) { q = p + 1; }',
    '    else { c = b[p + 1]; v = (v & 0x7f) | ((c & 0x7f) << 7); if (c < 0x80) q = p + 2; else { c = b[p + 2]; if (c < 0x80) { v |= c << 14; q = p + 3; } } }',
    '  }',
    `  if (q < 0) { q = rv(b, p, end); if (q < 0) ${failing} v = vr.value; }`,
    '  p = q;',
  ];
  for (const [arg, type] of spec.args) {
    const fail = (code: number | string) => `{ out.arg = ${JSON.stringify(arg)}; return ${code}; }`;
    if (type === 'f64') {
      lines.push(`  if (p + 8 > end) ${fail(SCAN_CUT)}`, '  p += 8;');
      continue;
    }
    lines.push(...varint(fail('q')));
    if (type === 'text') {
      lines.push(`  if (v > ${MAX_STRING_BYTES}) ${fail(SCAN_TEXT_TOO_LONG)}`);
      lines.push(`  p = p + v; if (p > end) ${fail(SCAN_CUT)}`);
      continue;
    }
    if (type === 'str') lines.push(`  if (v >= strings) ${fail(SCAN_BAD_STRING)}`);
    else if (type === 'stack') lines.push(`  if (v >= stacks) ${fail(SCAN_BAD_STACK)}`);
    else if (type !== 'u') throw new Error(`event table: argument type ${type} cannot appear in a timed event`);
    if (arg === spec.backdatedBy) lines.push('  out.time = out.time - v;');
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

/**
 * A filler: the builder's decoding, writing into one object per kind made once (with the same
 * fields in the same order as the builder's literal), so a consumer that reads each event before
 * asking for the next makes no object per event.
 */
function fillerSource(name: string, spec: EventSpec): string {
  const lines = ['return function fill(b, p, thread, strings, stacks) {', '  const end = b.length;', '  let v, c;', '  const o = target;', '  o.time = at.time;', '  o.thread = thread;'];
  const initial = [`kind: ${JSON.stringify(name)}`, 'time: 0', 'thread: 0'];
  for (const [arg, type] of spec.args) {
    const field = `o[${JSON.stringify(arg)}]`;
    const keep = arg !== spec.backdatedBy;
    if (type === 'f64') {
      lines.push(keep ? `  ${field} = f64(b, p); p += 8;` : '  p += 8;');
    } else {
      // The scanner checked the event: varints of up to three bytes inline, longer ones through `rv`.
      lines.push('  v = b[p]; if (v < 0x80) p++; else { c = b[p + 1]; v = (v & 0x7f) | ((c & 0x7f) << 7); if (c < 0x80) p += 2; else { c = b[p + 2]; if (c < 0x80) { v |= c << 14; p += 3; } else { p = rv(b, p, end); v = vr.value; } } }');
      if (type === 'text') lines.push(keep ? `  ${field} = text(b, p, p + v); p += v;` : '  p += v;');
      else if (keep) lines.push(`  ${field} = ${type === 'u' ? 'v' : type === 'str' ? 'strings[v]' : 'stacks[v]'};`);
    }
    if (keep) initial.push(`${JSON.stringify(arg)}: ${type === 'u' || type === 'f64' ? '0' : type === 'stack' ? 'noFrames' : "''"}`);
  }
  lines.push('  return o;', '};');
  return [`const target = { ${initial.join(', ')} };`, ...lines].join('\n');
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

const NO_FRAMES: readonly StackFrame[] = Object.freeze([]);

/** Fillers by type byte: each returns the same object (of its kind) on every call. */
export const FILLERS = generate((name, spec) => new Function('rv', 'vr', 'f64', 'text', 'noFrames', 'at', fillerSource(name, spec))(readUvarint, varintResult, readF64, decodeText, NO_FRAMES, fillState) as Filler);

/** Builders by type byte. */
export const BUILDERS = generate((name, spec) => new Function('rv', 'vr', 'f64', 'text', builderSource(name, spec))(readUvarint, varintResult, readF64, decodeText) as Builder);
