import { BatchKind, EVENTS, type ArgType, type EventName, type StackFrame } from '../../src/format/events.js';
import { encodeHeader, writeBatchHeader } from '../../src/format/header.js';
import { BATCH_HEADER_BYTES } from '../../src/format/limits.js';
import { putText } from '../../src/format/text.js';
import { putUvarint } from '../../src/format/varint.js';

/**
 * Builds traces byte by byte from the event table, so tests can make the exact (valid or
 * broken) trace a rule needs without going through the tracer.
 */

export type Values = Record<string, number | string | readonly StackFrame[]>;

export interface RecordSpec {
  name: EventName;
  /** Absolute time, for timed records. */
  time?: number;
  values: Values;
}

export interface BatchSpec {
  kind: number;
  thread?: number;
  generation: number;
  baseTime?: number;
  sequence?: number;
  flags?: number;
  records: RecordSpec[];
}

function putArg(buf: Uint8Array, p: number, type: ArgType, value: unknown): number {
  switch (type) {
    case 'f64': {
      new DataView(buf.buffer, buf.byteOffset).setFloat64(p, value as number, true);
      return p + 8;
    }
    case 'text':
      return putText(buf, p, value as string);
    case 'frames': {
      const frames = value as { fn: number; url: number; line: number; column: number }[];
      p = putUvarint(buf, p, frames.length);
      for (const f of frames) {
        p = putUvarint(buf, p, f.fn);
        p = putUvarint(buf, p, f.url);
        p = putUvarint(buf, p, f.line);
        p = putUvarint(buf, p, f.column);
      }
      return p;
    }
    default:
      return putUvarint(buf, p, value as number);
  }
}

/** Encodes a batch: header and records, with references already numeric. */
export function encodeBatch(spec: BatchSpec): Uint8Array {
  const buf = new Uint8Array(1 << 17);
  let p = BATCH_HEADER_BYTES;
  let last = spec.baseTime ?? 0;
  for (const rec of spec.records) {
    const table = EVENTS[rec.name];
    buf[p++] = table.code;
    if (table.timed) {
      const time = rec.time ?? last;
      p = putUvarint(buf, p, Math.max(0, time - last));
      last = Math.max(last, time);
    }
    for (const [arg, type] of table.args) p = putArg(buf, p, type, rec.values[arg]);
  }
  writeBatchHeader(new DataView(buf.buffer), 0, {
    kind: spec.kind,
    flags: spec.flags ?? 1,
    thread: spec.thread ?? 0,
    generation: spec.generation,
    payloadSize: p - BATCH_HEADER_BYTES,
    baseTime: spec.baseTime ?? 0,
    sequence: spec.sequence ?? 0,
  });
  return buf.slice(0, p);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, x) => n + x.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** An event for {@link generation}: strings and stacks given as values, interned per thread. */
export interface EventInput {
  kind: EventName;
  time: number;
  thread?: number;
  [arg: string]: unknown;
}

export interface GenerationInput {
  number: number;
  /** Trace time of the start clock; the end clock is `end`. */
  start: number;
  end: number;
  events: EventInput[];
  /** Wall-clock seconds of the start (default derived from `start`). */
  wallSec?: number;
  monoSec?: number;
  /** Overrides the declared batch count of the end record. */
  declaredBatches?: number;
}

/** Encodes one well-formed generation: sync, tables, events per thread, end. */
export function generation(input: GenerationInput): Uint8Array[] {
  const threads = new Map<number, EventInput[]>();
  for (const ev of input.events) {
    const t = ev.thread ?? 0;
    if (!threads.has(t)) threads.set(t, []);
    threads.get(t)!.push(ev);
  }
  const clock = (trace: number, sec?: number) => ({
    frequency: 1e9,
    trace,
    monoSec: sec ?? 1000 + Math.floor(trace / 1e9),
    monoNsec: trace % 1e9,
    wallSec: (sec ?? 0) + 1_700_000_000 + Math.floor(trace / 1e9),
    wallNsec: trace % 1e9,
  });
  const batches: Uint8Array[] = [];
  batches.push(
    encodeBatch({
      kind: BatchKind.sync,
      generation: input.number,
      baseTime: input.start,
      records: [
        { name: 'clock', values: clock(input.start, input.monoSec) },
        { name: 'process', values: { pid: 1, nodeVersion: 'v0', platform: 'test', arch: 'x', hostname: 'h', title: 't' } },
      ],
    }),
  );
  const bodies: Uint8Array[] = [];
  for (const [thread, events] of threads) {
    const strings = new Map<string, number>();
    const stacks = new Map<string, number>();
    const tableRecords: RecordSpec[] = [];
    const str = (s: string) => {
      if (s === '') return 0;
      let id = strings.get(s);
      if (id === undefined) {
        id = strings.size + 1;
        strings.set(s, id);
        tableRecords.push({ name: 'string', values: { id, value: s } });
      }
      return id;
    };
    const stack = (frames: readonly StackFrame[]) => {
      if (frames.length === 0) return 0;
      const key = JSON.stringify(frames);
      let id = stacks.get(key);
      if (id === undefined) {
        const encoded = frames.map((f) => ({ fn: str(f.functionName), url: str(f.url), line: f.line, column: f.column }));
        id = stacks.size + 1;
        stacks.set(key, id);
        tableRecords.push({ name: 'stack', values: { id, frames: encoded as never } });
      }
      return id;
    };
    const records: RecordSpec[] = events.map((ev) => {
      const table = EVENTS[ev.kind];
      const values: Values = {};
      let time = ev.time;
      for (const [arg, type] of table.args) {
        const v = ev[arg];
        if ('backdatedBy' in table && arg === table.backdatedBy) {
          values[arg] = v as number;
          continue;
        }
        values[arg] = type === 'str' ? str(v as string) : type === 'stack' ? stack(v as StackFrame[]) : (v as number);
      }
      return { name: ev.kind, time, values };
    });
    if (tableRecords.length > 0) bodies.push(encodeBatch({ kind: BatchKind.tables, thread, generation: input.number, baseTime: input.start, records: tableRecords }));
    bodies.push(encodeBatch({ kind: BatchKind.events, thread, generation: input.number, baseTime: events[0]?.time ?? input.start, records }));
  }
  const tables = bodies.filter((b) => b[0] === BatchKind.tables);
  const eventBatches = bodies.filter((b) => b[0] === BatchKind.events);
  batches.push(...tables, ...eventBatches);
  const end = clock(input.end, input.monoSec);
  batches.push(
    encodeBatch({
      kind: BatchKind.endOfGeneration,
      generation: input.number,
      baseTime: input.end,
      records: [{ name: 'endOfGeneration', values: { ...end, batches: input.declaredBatches ?? batches.length, eventsLost: 0 } }],
    }),
  );
  return batches;
}

/** A whole trace: header, then the given batches. */
export function traceOf(...batches: Uint8Array[][]): Uint8Array {
  return concat([encodeHeader(), ...batches.flat()]);
}
