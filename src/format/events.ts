/**
 * The event table: the one source of truth of the format. The writer's encoders, the reader's
 * decoders, the validator, the text dump and the exporters are all generated from or driven by
 * this table; nothing else lists the events or their arguments.
 *
 * A record is a type byte followed by its arguments. Timed records (those in event batches) put
 * the time delta from the previous event of their batch, in nanoseconds, right after the type
 * byte. Argument types:
 *
 * - `u`: unsigned varint (up to 2^53 - 1)
 * - `str`: a string reference (varint id into the thread's string table of this generation; 0 is "")
 * - `stack`: a stack reference (varint id into the thread's stack table of this generation; 0 is none)
 * - `f64`: eight bytes, little-endian IEEE 754 double
 * - `text`: inline UTF-8 text: varint byte length, then the bytes
 * - `frames`: varint count, then per frame: function `str`, script `str`, line `u`, column `u`
 */

/** Batch kinds, the first byte of every batch header. */
export const BatchKind = {
  /** Clock frequency and clock snapshot at the start of a generation, and process facts. */
  sync: 1,
  /** A thread's string and stack definitions for one generation. */
  tables: 2,
  /** A thread's timed events. */
  events: 3,
  /** The explicit end of a generation: a clock snapshot and the count of its batches. */
  endOfGeneration: 4,
  /** Written by a streaming trace where whole generations were dropped because the destination was slow. */
  loss: 5,
} as const;

export type BatchKindName = keyof typeof BatchKind;
export type BatchKindCode = (typeof BatchKind)[BatchKindName];

export type ArgType = 'u' | 'str' | 'stack' | 'f64' | 'text' | 'frames';

/** One argument: its field name in decoded events, and its type. */
export type ArgSpec = readonly [name: string, type: ArgType];

export interface EventSpec {
  /** The type byte. Unique across the table. */
  readonly code: number;
  /** The batch kind this record may appear in. */
  readonly batch: BatchKindName;
  /** Whether the record starts with a time delta (only records in event batches are timed). */
  readonly timed: boolean;
  readonly args: readonly ArgSpec[];
  /**
   * For events learned after the fact: the argument holding how many nanoseconds before the
   * record's timestamp the event really happened. The reader places the event at that time.
   */
  readonly backdatedBy?: string;
  /** What the record means; shown by `nfr dump --help` and in docs/format.md. */
  readonly doc: string;
}

/**
 * The table. The key is the record's name, which is also the `kind` of the decoded event.
 * Codes are stable: a new record takes a new code, a record's arguments are only ever appended.
 */
export const EVENTS = {
  // Sync batch records.
  clock: {
    code: 0x01, batch: 'sync', timed: false,
    args: [['frequency', 'u'], ['trace', 'u'], ['monoSec', 'u'], ['monoNsec', 'u'], ['wallSec', 'u'], ['wallNsec', 'u']],
    doc: 'Clock frequency (ticks per second of event times) and a snapshot of the trace, monotonic and wall clocks taken together at the start of the generation.',
  },
  process: {
    code: 0x02, batch: 'sync', timed: false,
    args: [['pid', 'u'], ['nodeVersion', 'text'], ['platform', 'text'], ['arch', 'text'], ['hostname', 'text'], ['title', 'text']],
    doc: 'Facts about the traced process, repeated in every generation so that any window carries them.',
  },

  // Table batch records.
  string: {
    code: 0x08, batch: 'tables', timed: false,
    args: [['id', 'u'], ['value', 'text']],
    doc: 'Defines string id for this thread and generation.',
  },
  stack: {
    code: 0x09, batch: 'tables', timed: false,
    args: [['id', 'u'], ['frames', 'frames']],
    doc: 'Defines stack id for this thread and generation, innermost frame first.',
  },

  // End-of-generation record.
  endOfGeneration: {
    code: 0x0c, batch: 'endOfGeneration', timed: false,
    args: [['trace', 'u'], ['monoSec', 'u'], ['monoNsec', 'u'], ['wallSec', 'u'], ['wallNsec', 'u'], ['batches', 'u'], ['eventsLost', 'u']],
    doc: 'Ends a generation: a clock snapshot at its end, the number of batches it holds (this one excluded), and how many events writers dropped in it.',
  },

  // Loss batch record.
  generationsLost: {
    code: 0x0e, batch: 'loss', timed: false,
    args: [['first', 'u'], ['count', 'u'], ['bytes', 'u']],
    doc: 'A streaming trace dropped `count` whole generations from `first` on (`bytes` in all) because its destination was too slow.',
  },

  // Timed events.
  log: {
    code: 0x10, batch: 'events', timed: true,
    args: [['task', 'u'], ['category', 'str'], ['message', 'str']],
    doc: 'A log message, in a task (0 for none).',
  },
  taskBegin: {
    code: 0x11, batch: 'events', timed: true,
    args: [['task', 'u'], ['parent', 'u'], ['name', 'str']],
    doc: 'A task begins. Task ids are unique in the process; parent 0 means none.',
  },
  taskEnd: {
    code: 0x12, batch: 'events', timed: true,
    args: [['task', 'u']],
    doc: 'A task ends.',
  },
  regionBegin: {
    code: 0x13, batch: 'events', timed: true,
    args: [['task', 'u'], ['region', 'u'], ['name', 'str']],
    doc: 'A region of a task begins. Region ids are unique per thread.',
  },
  regionEnd: {
    code: 0x14, batch: 'events', timed: true,
    args: [['task', 'u'], ['region', 'u'], ['flags', 'u']],
    doc: 'A region ends. Flag 1: the region ran synchronously from begin to end, so it must nest strictly.',
  },
  metric: {
    code: 0x15, batch: 'events', timed: true,
    args: [['name', 'str'], ['value', 'f64']],
    doc: 'A sampled value: a counter or gauge.',
  },
  stackSample: {
    code: 0x16, batch: 'events', timed: true,
    args: [['stack', 'stack']],
    doc: 'A sample of the thread\'s stack (CPU profiler, or a stall watchdog).',
  },
  threadName: {
    code: 0x17, batch: 'events', timed: true,
    args: [['name', 'str']],
    doc: 'Names the batch\'s thread. Written first in each generation a thread writes in.',
  },
  rangeBegin: {
    code: 0x18, batch: 'events', timed: true,
    args: [['id', 'u'], ['category', 'str'], ['name', 'str'], ['detail', 'str']],
    doc: 'An asynchronous range begins; ranges with the same id pair up and may overlap others.',
  },
  rangeEnd: {
    code: 0x19, batch: 'events', timed: true,
    args: [['id', 'u'], ['detail', 'str']],
    doc: 'An asynchronous range ends.',
  },
  range: {
    code: 0x1a, batch: 'events', timed: true,
    args: [['ago', 'u'], ['duration', 'u'], ['category', 'str'], ['name', 'str'], ['detail', 'str']],
    backdatedBy: 'ago',
    doc: 'A range on the thread learned after the fact (a GC pause, a blocked loop turn): it began `ago` ns before this record and lasted `duration` ns. The reader reports it at its start.',
  },
  instant: {
    code: 0x1b, batch: 'events', timed: true,
    args: [['category', 'str'], ['name', 'str'], ['detail', 'str']],
    doc: 'Something happened at one instant.',
  },
  eventsLost: {
    code: 0x1c, batch: 'events', timed: true,
    args: [['count', 'u']],
    doc: 'The thread dropped `count` events before this one because trace memory was full.',
  },
  sourceStatus: {
    code: 0x1d, batch: 'events', timed: true,
    args: [['source', 'str'], ['state', 'str'], ['detail', 'str']],
    doc: 'A recording source\'s state: `on`, `off`, `failed` or `unsupported`, with why. Written when it changes and at the start of every generation, so any window says what was recorded.',
  },

  // Node sources.
  httpRequest: {
    code: 0x20, batch: 'events', timed: true,
    args: [['task', 'u'], ['method', 'str'], ['path', 'text'], ['route', 'str'], ['remote', 'str']],
    doc: 'A server request arrived, and task `task` begins with it: an HTTP request is a task by itself, with no taskBegin of its own (named by method and path). `path` has no query string, and is inline text: paths hold ids, so interning them would cost a hash-table probe per request for nothing; `route` is the matched route when known.',
  },
  httpResponse: {
    code: 0x21, batch: 'events', timed: true,
    args: [['task', 'u'], ['status', 'u'], ['requestBytes', 'u'], ['responseBytes', 'u'], ['route', 'str'], ['error', 'str']],
    doc: 'A server request finished, or was aborted (`error`), and its task ends with it (no taskEnd of its own). `route` is the route a framework matched, when it says (it often knows only at the end).',
  },
  httpClientBegin: {
    code: 0x22, batch: 'events', timed: true,
    args: [['id', 'u'], ['task', 'u'], ['method', 'str'], ['host', 'str'], ['path', 'text']],
    doc: 'An outgoing HTTP request (node:http or undici/fetch) starts, made from task `task`.',
  },
  httpClientEnd: {
    code: 0x23, batch: 'events', timed: true,
    args: [['id', 'u'], ['status', 'u'], ['error', 'str']],
    doc: 'An outgoing HTTP request ends with a status, or an error.',
  },
  asyncCreate: {
    code: 0x24, batch: 'events', timed: true,
    args: [['id', 'u'], ['trigger', 'u'], ['type', 'str']],
    doc: 'An async resource (a timer, a socket, a promise, a file request) is created by the callback running for resource `trigger`: the start of a causality flow.',
  },
  callbackBegin: {
    code: 0x25, batch: 'events', timed: true,
    args: [['id', 'u']],
    doc: 'A callback of async resource `id` starts running on the thread (the end of a flow from its creation).',
  },
  callbackEnd: {
    code: 0x26, batch: 'events', timed: true,
    args: [['id', 'u']],
    doc: 'The callback of async resource `id` returns.',
  },
  cpuSample: {
    code: 0x27, batch: 'events', timed: true,
    args: [['ago', 'u'], ['stack', 'stack']],
    backdatedBy: 'ago',
    doc: 'A CPU profiler sample of the thread, taken `ago` ns before this record: the stack that was running.',
  },
  stall: {
    code: 0x28, batch: 'events', timed: true,
    args: [['blockedThread', 'u'], ['blocked', 'u'], ['stack', 'stack']],
    doc: 'A stall watchdog (writing on its own thread) saw thread `blockedThread` blocked for `blocked` ns so far; `stack` is that thread\'s JavaScript stack, taken through the inspector while it was still blocked.',
  },
} as const satisfies Record<string, EventSpec>;

export type EventName = keyof typeof EVENTS;

/** Names of the records that appear in event batches, which are the timed events. */
export type TimedEventName = {
  [K in EventName]: (typeof EVENTS)[K]['timed'] extends true ? K : never;
}[EventName];

/** Specs by type byte; undefined where no record has that code. */
export const SPEC_BY_CODE: readonly (EventSpec & { name: EventName })[] = (() => {
  const byCode: (EventSpec & { name: EventName })[] = new Array(256).fill(undefined);
  for (const name of Object.keys(EVENTS) as EventName[]) {
    const spec = EVENTS[name] as EventSpec;
    if (byCode[spec.code] !== undefined) throw new Error(`event table: code ${spec.code} used twice`);
    byCode[spec.code] = { ...spec, name };
  }
  return byCode;
})();

/** The code of a record by name. */
export function codeOf(name: EventName): number {
  return EVENTS[name].code;
}

/** The trace, monotonic and wall clocks read together, as in sync and end-of-generation records. */
export interface ClockSnapshot {
  /** Trace clock, ns since the process's trace epoch. */
  trace: number;
  monoSec: number;
  monoNsec: number;
  wallSec: number;
  wallNsec: number;
}

/** A frame of a stack, innermost first in a stack. */
export interface StackFrame {
  functionName: string;
  /** Script URL or file path. */
  url: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** 1-based column, 0 when unknown. */
  column: number;
}

/** Regions with this flag were opened and closed by synchronous code, so they nest strictly. */
export const REGION_FLAG_SYNC = 1;

/** Ticks per second of event times: nanoseconds. */
export const CLOCK_FREQUENCY = 1_000_000_000;
