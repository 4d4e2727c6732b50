import { NfrError } from '../errors/errors.js';
import { EVENTS, SPEC_BY_CODE, type ArgType, type EventName, type EventSpec, type StackFrame } from '../format/events.js';
import { MAX_STACK_FRAMES, MAX_STRING_BYTES } from '../format/limits.js';
import { decodeText } from '../format/text.js';
import { readUvarint, varintResult } from '../format/varint.js';
import type { TimedEvent } from './events.js';

/**
 * Record decoders, driven by the event table. Timed events (the bulk of a trace) get a decoder
 * generated per event, a straight line that builds the event object with its final shape in
 * one literal; the few untimed records (sync, tables, end of generation, loss) go through one
 * table-walking decoder.
 */

/** Where a decoder reads, and the thread's tables it resolves references against. */
export interface DecodeState {
  bytes: Uint8Array;
  pos: number;
  end: number;
  /** File offset of `bytes[0]`, for error messages. */
  fileOffset: number;
  strings: string[];
  stacks: (readonly StackFrame[])[];
}

const NO_FRAMES: readonly StackFrame[] = Object.freeze([]);

export function corrupt(state: DecodeState, pos: number, message: string): never {
  throw new NfrError('ERR_TRACE_CORRUPT', `corrupt trace at byte ${state.fileOffset + pos}: ${message}`, { offset: state.fileOffset + pos });
}

function badVarint(state: DecodeState, result: number, what: string): never {
  return corrupt(state, state.pos, result === -1 ? `${what} runs past the end of its batch` : `${what} is a varint longer than 8 bytes or above 2^53`);
}

function stringRef(state: DecodeState, id: number, pos: number, what: string): string {
  const value = state.strings[id];
  if (value === undefined) corrupt(state, pos, `${what} refers to string ${id}, which its thread's table does not define`);
  return value;
}

function stackRef(state: DecodeState, id: number, pos: number, what: string): readonly StackFrame[] {
  if (id === 0) return NO_FRAMES;
  const value = state.stacks[id];
  if (value === undefined) corrupt(state, pos, `${what} refers to stack ${id}, which its thread's table does not define`);
  return value;
}

const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);

function readF64(b: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = b[p + i];
  return f64Scratch[0];
}

function decoderSource(name: string, spec: EventSpec): string {
  const lines: string[] = ['return function (s, time, thread) {', '  const b = s.bytes, end = s.end; let p = s.pos;'];
  const fields: string[] = [`kind: ${JSON.stringify(name)}`];
  let timeExpression = 'time';
  spec.args.forEach(([arg, type], i) => {
    const what = JSON.stringify(`${name}.${arg}`);
    if (type === 'f64') {
      lines.push(`  if (p + 8 > end) { s.pos = p; bad(s, -1, ${what}); }`);
      lines.push(`  const a${i} = f64(b, p); p += 8;`);
    } else {
      lines.push(`  { const q = rv(b, p, end); if (q < 0) { s.pos = p; bad(s, q, ${what}); } p = q; }`);
      if (type === 'u') lines.push(`  const a${i} = vr.value;`);
      else if (type === 'str') lines.push(`  const a${i} = str(s, vr.value, p, ${what});`);
      else if (type === 'stack') lines.push(`  const a${i} = stack(s, vr.value, p, ${what});`);
      else throw new Error(`event table: argument type ${type} cannot appear in a timed event`);
    }
    if (arg === spec.backdatedBy) timeExpression = `time - a${i}`;
    else fields.push(`${JSON.stringify(arg)}: a${i}`);
  });
  fields.splice(1, 0, `time: ${timeExpression}`, 'thread: thread');
  lines.push('  s.pos = p;');
  lines.push(`  return { ${fields.join(', ')} };`);
  lines.push('};');
  return lines.join('\n');
}

export type TimedDecoder = (state: DecodeState, time: number, thread: number) => TimedEvent;

/** Timed decoders by type byte; undefined for codes that are not timed events. */
export const TIMED_DECODERS: readonly (TimedDecoder | undefined)[] = (() => {
  const decoders: (TimedDecoder | undefined)[] = new Array(256).fill(undefined);
  for (const name of Object.keys(EVENTS) as EventName[]) {
    const spec: EventSpec = EVENTS[name];
    if (!spec.timed) continue;
    const factory = new Function('rv', 'vr', 'bad', 'str', 'stack', 'f64', decoderSource(name, spec));
    decoders[spec.code] = factory(readUvarint, varintResult, badVarint, stringRef, stackRef, readF64) as TimedDecoder;
  }
  return decoders;
})();

/** Values of an untimed record, in table order. */
export type RecordValues = (number | string | readonly StackFrame[])[];

function readArg(state: DecodeState, type: ArgType, what: string): number | string | readonly StackFrame[] {
  const b = state.bytes;
  const at = state.pos;
  if (type === 'f64') {
    if (at + 8 > state.end) corrupt(state, at, `${what} runs past the end of its batch`);
    state.pos = at + 8;
    return readF64(b, at);
  }
  const next = readUvarint(b, at, state.end);
  if (next < 0) badVarint(state, next, what);
  state.pos = next;
  const value = varintResult.value;
  switch (type) {
    case 'u':
      return value;
    case 'str':
      return stringRef(state, value, at, what);
    case 'stack':
      return stackRef(state, value, at, what);
    case 'text': {
      if (value > MAX_STRING_BYTES) corrupt(state, at, `${what} is ${value} bytes long, above the limit of ${MAX_STRING_BYTES}`);
      if (next + value > state.end) corrupt(state, at, `${what} runs past the end of its batch`);
      state.pos = next + value;
      return decodeText(b, next, next + value);
    }
    case 'frames': {
      if (value > MAX_STACK_FRAMES) corrupt(state, at, `${what} has ${value} frames, above the limit of ${MAX_STACK_FRAMES}`);
      const frames: StackFrame[] = [];
      for (let i = 0; i < value; i++) {
        const functionName = readArg(state, 'str', `${what}[${i}].functionName`) as string;
        const url = readArg(state, 'str', `${what}[${i}].url`) as string;
        const line = readArg(state, 'u', `${what}[${i}].line`) as number;
        const column = readArg(state, 'u', `${what}[${i}].column`) as number;
        frames.push({ functionName, url, line, column });
      }
      return frames;
    }
  }
}

/** Decodes the arguments of an untimed record whose type byte was just read. */
export function decodeRecord(state: DecodeState, spec: EventSpec & { name: string }): RecordValues {
  const values: RecordValues = [];
  for (const [arg, type] of spec.args) values.push(readArg(state, type, `${spec.name}.${arg}`));
  return values;
}

/** Reads a type byte and returns its spec, failing on codes the table does not define. */
export function readType(state: DecodeState): EventSpec & { name: EventName } {
  const code = state.bytes[state.pos];
  const spec = SPEC_BY_CODE[code];
  if (spec === undefined) corrupt(state, state.pos, `unknown event type ${code}`);
  state.pos++;
  return spec;
}
