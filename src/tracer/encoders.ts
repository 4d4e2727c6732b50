import { EVENTS, type ArgType, type EventSpec, type StackFrame, type TimedEventName } from '../format/events.js';
import { MAX_STRING_BYTES, MAX_VARINT_BYTES } from '../format/limits.js';
import { putTextFast } from '../format/text.js';
import { putUvarint } from '../format/varint.js';
import { RETRY, ROOM } from './batch-writer.js';
import { traceNow } from './clock.js';

/**
 * Encoders for the timed events, generated from the event table when the module loads. Each one
 * is a straight-line function specialised to its event (no loop over arguments, no switch on
 * types, no closure or object per call), which is what keeps writing an event as cheap as
 * hand-written code while the table stays the only description of the format.
 */

type ArgValue<T extends ArgType> = T extends 'u' | 'f64' ? number : T extends 'str' | 'text' ? string : T extends 'stack' ? readonly StackFrame[] : never;

type ArgValues<A> = { [I in keyof A]: A[I] extends readonly [string, infer T extends ArgType] ? ArgValue<T> : never };

/**
 * One method per timed event, with the event's arguments in table order. A backdated event
 * (one with `backdatedBy`) takes, in place of that argument, the trace time at which it began.
 * Each returns the trace time it wrote the event at (ns, unrounded), or undefined when it wrote
 * nothing (tracing off, or the event dropped): a caller that also needs the time of what it
 * records (the `http` source, for the slow-request trigger) reads no clock of its own.
 */
export type Emitters = {
  [K in TimedEventName]: (...args: ArgValues<(typeof EVENTS)[K]['args']>) => number | undefined;
};

/** What a generated encoder needs from the thread's tracer. */
export interface EncoderHost {
  /** False when tracing is off; also where a new generation resets the interning tables. */
  begin(): boolean;
  /** String id for this generation, defining it if new; -1 when trace memory is full, RETRY when the generation ended meanwhile. */
  str(value: string): number;
  /** Stack id for this generation, defining it if new; -1 or RETRY as for strings. */
  stack(frames: readonly StackFrame[]): number;
  /** Counts an event dropped because trace memory is full. */
  dropped(): void;
  readonly events: {
    bytes: Uint8Array;
    pos: number;
    end: number;
    reserve(need: number, time: number): number;
    putTime(time: number): void;
    /** False when the batch was taken while the event was written: write it again. */
    commit(): boolean;
  };
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);

function maxArgBytes(type: ArgType): number {
  switch (type) {
    case 'u':
    case 'str':
    case 'stack':
      return MAX_VARINT_BYTES;
    case 'f64':
      return 8;
    case 'text':
      return 0; // counted per call: see encoderSource
    default:
      throw new Error(`event table: argument type ${type} cannot appear in a timed event`);
  }
}

/**
 * Lines writing the unsigned varint `value` at `p` (see putUvarint): values below 2^28, almost
 * all ids, deltas and sizes, are written in place, and only larger ones call putUvarint. Written
 * out rather than called because TurboFan's inlining budget for an encoder ran out after a few
 * putUvarint calls, leaving `begin`, the clock and the time delta as real calls on every event.
 */
function varintLines(value: string): string[] {
  return [
    `  v = ${value};`,
    '  if (v < 0x80) b[p++] = v;',
    '  else if (v < 0x10000000) { do { b[p++] = (v & 0x7f) | 0x80; v >>>= 7; } while (v >= 0x80); b[p++] = v; }',
    '  else p = putUvarint(b, p, v);',
  ];
}

function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`event table: bad argument name ${name}`);
  return name;
}

/** Source of the encoder for one timed event. Exported for the tests that check it against the table. */
export function encoderSource(name: string, spec: EventSpec): string {
  const params = spec.args.map(([argName]) => identifier(argName === spec.backdatedBy ? 'startTime' : argName));
  const lines: string[] = [];
  lines.push(`return function ${identifier(name)}(${params.join(', ')}) {`);
  // The loop runs again only on a worker whose batch the main thread took while this event was
  // being written (see WorkerBatchWriter): the event is then written again, in the next generation.
  lines.push('  for (;;) {');
  lines.push('  if (!this.begin()) return;');
  spec.args.forEach(([argName, type], i) => {
    const onFailure = `if (a${i} < 0) { if (a${i} === RETRY) continue; this.dropped(); return; }`;
    if (type === 'str') {
      // A one-entry cache per argument: repeated strings (categories, names) skip the map.
      const slot = STRING_CACHE_SLOTS.get(`${name}.${argName}`)!;
      lines.push(`  let a${i};`);
      lines.push(`  if (${params[i]} === this.cachedStrings[${slot}]) a${i} = this.cachedIds[${slot}];`);
      lines.push(`  else { a${i} = this.str(${params[i]}); ${onFailure} this.cachedStrings[${slot}] = ${params[i]}; this.cachedIds[${slot}] = a${i}; }`);
    } else if (type === 'stack') {
      lines.push(`  const a${i} = this.stack(${params[i]}); ${onFailure}`);
    }
  });
  const fixed = 1 + MAX_VARINT_BYTES + spec.args.reduce((n, [, type]) => n + maxArgBytes(type), 0);
  // Inline text: its two-byte length and at most three bytes per UTF-16 unit, up to the limit.
  const textRoom = spec.args.flatMap(([, type], i) => (type === 'text' ? [`2 + Math.min(${params[i]}.length * 3, ${MAX_STRING_BYTES})`] : []));
  const need = textRoom.length === 0 ? String(fixed) : `need`;
  spec.args.forEach(([, type], i) => {
    if (type === 'text') lines.push(`  if (typeof ${params[i]} !== 'string') ${params[i]} = String(${params[i]});`);
  });
  if (textRoom.length > 0) lines.push(`  const need = ${fixed} + ${textRoom.join(' + ')};`);
  lines.push('  const w = this.events;');
  lines.push('  const time = now();');
  lines.push(`  if (w.pos + ${need} > w.end) { const room = w.reserve(${need}, time); if (room !== ROOM) { if (room === RETRY) continue; return; } }`);
  lines.push('  const b = w.bytes;');
  lines.push(`  b[w.pos++] = ${spec.code};`);
  lines.push('  w.putTime(time);');
  lines.push('  let p = w.pos;');
  lines.push('  let v = 0;');
  spec.args.forEach(([argName, type], i) => {
    if (argName === spec.backdatedBy) {
      lines.push(...varintLines(`${params[i]} < time ? Math.round(time - ${params[i]}) : 0`));
    } else if (type === 'u') {
      lines.push(...varintLines(params[i]));
    } else if (type === 'str' || type === 'stack') {
      lines.push(...varintLines(`a${i}`));
    } else if (type === 'text') {
      lines.push(`  p = putText(b, p, ${params[i]});`);
    } else if (type === 'f64') {
      lines.push(`  f64[0] = ${params[i]};`);
      for (let k = 0; k < 8; k++) lines.push(`  b[p + ${k}] = f64Bytes[${k}];`);
      lines.push('  p += 8;');
    }
  });
  lines.push('  w.pos = p;');
  lines.push('  if (w.commit()) return time;');
  lines.push('  }');
  lines.push('};');
  return lines.join('\n');
}

/**
 * The slot of each string argument of each timed event in the tracer's one-entry caches
 * (`cachedStrings`, `cachedIds`): arrays indexed by constants baked into the encoders, so the
 * tracer's own shape stays small however many events the table has.
 */
export const STRING_CACHE_SLOTS: ReadonlyMap<string, number> = (() => {
  const slots = new Map<string, number>();
  for (const name of Object.keys(EVENTS) as (keyof typeof EVENTS)[]) {
    const spec: EventSpec = EVENTS[name];
    if (!spec.timed) continue;
    for (const [arg, type] of spec.args) if (type === 'str') slots.set(`${name}.${arg}`, slots.size);
  }
  return slots;
})();

function compile(name: string, spec: EventSpec): (...args: unknown[]) => void {
  const factory = new Function('putUvarint', 'putText', 'now', 'f64', 'f64Bytes', 'ROOM', 'RETRY', encoderSource(name, spec));
  return factory(putUvarint, putTextFast, traceNow, f64, f64Bytes, ROOM, RETRY) as (...args: unknown[]) => void;
}

/** Installs the generated encoders as methods of `prototype`. */
export function installEncoders(prototype: object): void {
  for (const name of Object.keys(EVENTS) as (keyof typeof EVENTS)[]) {
    const spec: EventSpec = EVENTS[name];
    if (!spec.timed) continue;
    Object.defineProperty(prototype, name, { value: compile(name, spec), writable: false, enumerable: false, configurable: false });
  }
}
