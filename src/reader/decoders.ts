import { NfrError } from '../errors/errors.js';
import { SPEC_BY_CODE, type ArgType, type EventName, type EventSpec, type StackFrame } from '../format/events.js';
import { MAX_STACK_FRAMES, MAX_STRING_BYTES } from '../format/limits.js';
import { decodeText } from '../format/text.js';
import { readUvarint, varintResult } from '../format/varint.js';

/**
 * The decoder of untimed records (sync, tables, end of generation, loss), driven by the event
 * table. Timed events have generated scanners and builders instead; see timed-codecs.ts.
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

function stringRef(state: DecodeState, id: number, pos: number, record: string, arg: string): string {
  const value = state.strings[id];
  if (value === undefined) corrupt(state, pos, `${record}.${arg} refers to string ${id}, which its thread's table does not define`);
  return value;
}

function stackRef(state: DecodeState, id: number, pos: number, record: string, arg: string): readonly StackFrame[] {
  if (id === 0) return NO_FRAMES;
  const value = state.stacks[id];
  if (value === undefined) corrupt(state, pos, `${record}.${arg} refers to stack ${id}, which its thread's table does not define`);
  return value;
}

const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);

function readF64(b: Uint8Array, p: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = b[p + i];
  return f64Scratch[0];
}

/** Values of an untimed record, in table order. */
export type RecordValues = (number | string | readonly StackFrame[])[];

function readArg(state: DecodeState, type: ArgType, record: string, arg: string): number | string | readonly StackFrame[] {
  const b = state.bytes;
  const at = state.pos;
  if (type === 'f64') {
    if (at + 8 > state.end) corrupt(state, at, `${record}.${arg} runs past the end of its batch`);
    state.pos = at + 8;
    return readF64(b, at);
  }
  const next = readUvarint(b, at, state.end);
  if (next < 0) badVarint(state, next, `${record}.${arg}`);
  state.pos = next;
  const value = varintResult.value;
  switch (type) {
    case 'u':
      return value;
    case 'str':
      return stringRef(state, value, at, record, arg);
    case 'stack':
      return stackRef(state, value, at, record, arg);
    case 'text': {
      if (value > MAX_STRING_BYTES) corrupt(state, at, `${record}.${arg} is ${value} bytes long, above the limit of ${MAX_STRING_BYTES}`);
      if (next + value > state.end) corrupt(state, at, `${record}.${arg} runs past the end of its batch`);
      state.pos = next + value;
      return decodeText(b, next, next + value);
    }
    case 'frames': {
      if (value > MAX_STACK_FRAMES) corrupt(state, at, `${record}.${arg} has ${value} frames, above the limit of ${MAX_STACK_FRAMES}`);
      const frames: StackFrame[] = [];
      for (let i = 0; i < value; i++) {
        const frame = `${record}.${arg}[${i}]`;
        const functionName = readArg(state, 'str', frame, 'functionName') as string;
        const url = readArg(state, 'str', frame, 'url') as string;
        const line = readArg(state, 'u', frame, 'line') as number;
        const column = readArg(state, 'u', frame, 'column') as number;
        frames.push({ functionName, url, line, column });
      }
      return frames;
    }
  }
}

const scratch: RecordValues = [];

/**
 * Decodes the arguments of an untimed record whose type byte was just read. The array is reused
 * by the next call: take the values out before decoding again.
 */
export function decodeRecord(state: DecodeState, spec: EventSpec & { name: string }): RecordValues {
  scratch.length = 0;
  const args = spec.args;
  for (let i = 0; i < args.length; i++) scratch.push(readArg(state, args[i][1], spec.name, args[i][0]));
  return scratch;
}

/** Reads a type byte and returns its spec, failing on codes the table does not define. */
export function readType(state: DecodeState): EventSpec & { name: EventName } {
  const code = state.bytes[state.pos];
  const spec = SPEC_BY_CODE[code];
  if (spec === undefined) corrupt(state, state.pos, `unknown event type ${code}`);
  state.pos++;
  return spec;
}
