import { NfrError } from '../errors/errors.js';
import { BatchKind, CLOCK_FREQUENCY, EVENTS, SPEC_BY_CODE, type ClockSnapshot, type StackFrame } from '../format/events.js';
import { FORMAT_VERSION, hasMagic, MAGIC, readBatchHeader, type BatchHeader } from '../format/header.js';
import { BATCH_HEADER_BYTES, DEFAULT_MAX_GENERATION_BYTES, HEADER_BYTES, MAX_BATCH_PAYLOAD, MAX_STRING_BYTES } from '../format/limits.js';
import { decodeText } from '../format/text.js';
import { readUvarint, varintResult } from '../format/varint.js';
import { corrupt, decodeRecord, readType, type DecodeState } from './decoders.js';
import type { ProcessInfo, SyncEvent, TraceEvent } from './events.js';
import { EventColumns, GenerationView, timeOrder, type ViewBatch } from './generation-view.js';
import { SCAN_BAD_STACK, SCAN_BAD_STRING, SCAN_CUT, SCAN_TEXT_TOO_LONG, SCANNERS, scanned } from './timed-codecs.js';

/** What the decoder hands out: single events (syncs, losses) and generations of timed events. */
export type DecodedItem = TraceEvent | GenerationView;

/** Options of the readers. */
export interface ReaderOptions {
  /**
   * When the input ends inside a generation, stop cleanly after the last complete one (with a
   * final sync) instead of failing with `ERR_TRACE_TRUNCATED`.
   */
  allowTruncated?: boolean;
  /** Largest generation to buffer, in bytes (default 512 MiB); larger fails with `ERR_TRACE_LIMIT`. */
  maxGenerationBytes?: number;
  /** Called for every batch as it is decoded, before its events are merged; used by the validator. */
  onBatch?: (batch: BatchInfo) => void;
}

/** What the validator learns about each batch. */
export interface BatchInfo extends BatchHeader {
  /** File offset of the batch header. */
  offset: number;
  /** Time of the first and last events in write order, backdated events excluded; NaN when none. */
  firstTime: number;
  lastTime: number;
  /** For sync and end-of-generation batches: the trace time of their clock snapshot. */
  clockTime?: number;
  /** For end-of-generation batches: the batch count and events lost it declares. */
  declaredBatches?: number;
  eventsLost?: number;
}

interface RawBatch {
  header: BatchHeader;
  bytes: Uint8Array;
  offset: number;
}

interface Assembly {
  number: number;
  startOffset: number;
  sync: RawBatch;
  tables: RawBatch[];
  events: RawBatch[];
  bytes: number;
}

interface LastGeneration {
  number: number;
  end: ClockSnapshot;
  endOffset: number;
  process: ProcessInfo | undefined;
  frequency: number;
  thread: number;
  lastTime: number;
}

const NO_FRAMES: readonly StackFrame[] = Object.freeze([]);
const STRING_CODE = EVENTS.string.code;
const EMPTY_STRINGS: readonly string[] = Object.freeze(['']);
const EMPTY_STACKS: readonly (readonly StackFrame[])[] = Object.freeze([NO_FRAMES]);

function scanError(code: number, event: string, strings: number, stacks: number): string {
  const arg = `${event}.${scanned.arg}`;
  if (code === SCAN_CUT) return `${arg} runs past the end of its batch`;
  if (code === SCAN_BAD_STRING) return `${arg} refers to a string its thread's table does not define (it has ${strings - 1})`;
  if (code === SCAN_BAD_STACK) return `${arg} refers to a stack its thread's table does not define (it has ${stacks - 1})`;
  if (code === SCAN_TEXT_TOO_LONG) return `${arg} is longer than the limit of ${MAX_STRING_BYTES} bytes`;
  return `${arg} is a varint longer than 8 bytes or above 2^53`;
}

/**
 * The reader's engine: push bytes in any chunking, get back the events of each generation as
 * soon as its end-of-generation batch arrives, in time order across threads. It buffers at most
 * one generation (bounded by `maxGenerationBytes`) and one partial batch.
 */
export class TraceDecoder {
  private offset = 0;
  private carry: Uint8Array | undefined;
  private headerSeen = false;
  private assembly: Assembly | undefined;
  private last: LastGeneration | undefined;
  private syncs = 0;
  private finished = false;
  private readonly maxGenerationBytes: number;

  constructor(private readonly options: ReaderOptions = {}) {
    this.maxGenerationBytes = options.maxGenerationBytes ?? DEFAULT_MAX_GENERATION_BYTES;
  }

  /** Feeds the next bytes of the trace; returns the events that became complete. */
  push(chunk: Uint8Array, out: DecodedItem[] = []): DecodedItem[] {
    if (!(chunk instanceof Uint8Array)) {
      throw new NfrError('ERR_INVALID_ARGUMENT', `trace input must be Uint8Array chunks (a Buffer, a file stream), got ${chunk === null ? 'null' : typeof chunk}`);
    }
    let data = chunk;
    let base = this.offset;
    if (this.carry !== undefined) {
      data = new Uint8Array(this.carry.length + chunk.length);
      data.set(this.carry);
      data.set(chunk, this.carry.length);
      base -= this.carry.length;
      this.carry = undefined;
    }
    this.offset += chunk.length;
    let pos = 0;
    if (!this.headerSeen) {
      const prefix = Math.min(data.length, MAGIC.length);
      if (!hasMagicPrefix(data, prefix)) {
        throw new NfrError('ERR_NOT_A_TRACE', `not a flight recorder trace: the input does not start with "${MAGIC}"`, { offset: 0 });
      }
      if (data.length < HEADER_BYTES) {
        this.carry = data;
        return out;
      }
      const version = new DataView(data.buffer, data.byteOffset, HEADER_BYTES).getUint32(8, true);
      if (version !== FORMAT_VERSION) {
        throw new NfrError('ERR_TRACE_VERSION', `trace format version ${version} is not supported (this reader reads version ${FORMAT_VERSION}); use a matching version of node-flight-recorder`, { offset: 8 });
      }
      this.headerSeen = true;
      pos = HEADER_BYTES;
    }
    while (data.length - pos >= BATCH_HEADER_BYTES) {
      const view = new DataView(data.buffer, data.byteOffset + pos, BATCH_HEADER_BYTES);
      const header = readBatchHeader(view, 0);
      const fileOffset = base + pos;
      checkHeader(header, fileOffset);
      const size = BATCH_HEADER_BYTES + header.payloadSize;
      if (data.length - pos < size) break;
      this.batch({ header, bytes: data.subarray(pos + BATCH_HEADER_BYTES, pos + size), offset: fileOffset }, out);
      pos += size;
    }
    if (pos < data.length) this.carry = data.slice(pos);
    return out;
  }

  /** Ends the input: returns the final sync, or fails when the trace was cut. */
  finish(out: DecodedItem[] = []): DecodedItem[] {
    if (this.finished) return out;
    this.finished = true;
    if (!this.headerSeen) {
      if (this.offset === 0) throw new NfrError('ERR_NOT_A_TRACE', 'not a flight recorder trace: the input is empty', { offset: 0 });
      if (this.options.allowTruncated) return out;
      throw new NfrError('ERR_TRACE_TRUNCATED', `trace truncated at byte ${this.offset}: it ends inside the ${HEADER_BYTES}-byte header`, { offset: this.offset });
    }
    const cut = this.carry !== undefined || this.assembly !== undefined;
    if (cut && !this.options.allowTruncated) {
      const where = this.assembly !== undefined ? `generation ${this.assembly.number} (from byte ${this.assembly.startOffset}) has no end-of-generation record` : 'it ends inside a batch';
      const complete = this.last !== undefined ? `; the complete generations end at byte ${this.last.endOffset}` : '; no generation is complete';
      throw new NfrError('ERR_TRACE_TRUNCATED', `trace truncated at byte ${this.offset}: ${where}${complete} (read with allowTruncated to keep them)`, { offset: this.offset });
    }
    if (this.last !== undefined) out.push(this.syncEvent(this.last.number, this.last.end, this.last, true));
    return out;
  }

  private batch(raw: RawBatch, out: DecodedItem[]): void {
    const { header } = raw;
    const assembly = this.assembly;
    switch (header.kind) {
      case BatchKind.sync: {
        if (assembly !== undefined) {
          corruptAt(raw.offset, `generation ${header.generation} starts before generation ${assembly.number} ended`);
        }
        if (this.last !== undefined && header.generation <= this.last.number) {
          corruptAt(raw.offset, `generation ${header.generation} follows generation ${this.last.number}; generations must increase`);
        }
        this.assembly = { number: header.generation, startOffset: raw.offset, sync: raw, tables: [], events: [], bytes: raw.bytes.length };
        return;
      }
      case BatchKind.loss: {
        if (assembly !== undefined) corruptAt(raw.offset, `a loss batch inside generation ${assembly.number}`);
        this.loss(raw, out);
        return;
      }
      case BatchKind.tables:
      case BatchKind.events: {
        if (assembly === undefined) corruptAt(raw.offset, `a batch of generation ${header.generation} outside any generation (no sync batch before it)`);
        if (header.generation !== assembly.number) {
          corruptAt(raw.offset, `a batch of generation ${header.generation} inside generation ${assembly.number}`);
        }
        assembly.bytes += raw.bytes.length + BATCH_HEADER_BYTES;
        if (assembly.bytes > this.maxGenerationBytes) {
          throw new NfrError('ERR_TRACE_LIMIT', `generation ${assembly.number} is larger than ${this.maxGenerationBytes} bytes (maxGenerationBytes); raise the limit if the trace is genuine`, { offset: raw.offset });
        }
        (header.kind === BatchKind.tables ? assembly.tables : assembly.events).push(raw);
        return;
      }
      case BatchKind.endOfGeneration: {
        if (assembly === undefined) corruptAt(raw.offset, `an end of generation ${header.generation} without its start`);
        if (header.generation !== assembly.number) corruptAt(raw.offset, `the end of generation ${header.generation} inside generation ${assembly.number}`);
        this.assembly = undefined;
        this.generation(assembly, raw, out);
        return;
      }
      default:
        corruptAt(raw.offset, `unknown batch kind ${header.kind}`);
    }
  }

  private loss(raw: RawBatch, out: DecodedItem[]): void {
    const state = stateFor(raw, [''], [NO_FRAMES]);
    const spec = readType(state);
    if (spec.name !== 'generationsLost') corrupt(state, 0, `record ${spec.name} cannot appear in a loss batch`);
    const [first, count, bytes] = decodeRecord(state, spec) as number[];
    expectEnd(state, 'loss batch');
    out.push({ kind: 'generationsLost', time: this.last?.lastTime ?? 0, thread: raw.header.thread, first, count, bytes });
  }

  private generation(assembly: Assembly, eogRaw: RawBatch, out: DecodedItem[]): void {
    const onBatch = this.options.onBatch;
    // Sync batch: the clock snapshot and process facts.
    const syncState = stateFor(assembly.sync, [''], [NO_FRAMES]);
    let clock: ClockSnapshot | undefined;
    let frequency = 0;
    let processInfo: ProcessInfo | undefined;
    while (syncState.pos < syncState.end) {
      const spec = readType(syncState);
      const values = decodeRecord(syncState, spec);
      if (spec.name === 'clock') {
        const [freq, trace, monoSec, monoNsec, wallSec, wallNsec] = values as number[];
        frequency = freq;
        clock = { trace, monoSec, monoNsec, wallSec, wallNsec };
      } else if (spec.name === 'process') {
        const [pid, nodeVersion, platform, arch, hostname, title] = values as [number, string, string, string, string, string];
        processInfo = { pid, nodeVersion, platform, arch, hostname, title };
      } else {
        corrupt(syncState, syncState.pos, `record ${spec.name} cannot appear in a sync batch`);
      }
    }
    if (clock === undefined) corruptAt(assembly.sync.offset, `generation ${assembly.number} has no clock record in its sync batch`);
    if (frequency !== CLOCK_FREQUENCY) corruptAt(assembly.sync.offset, `clock frequency ${frequency} is not supported (expected ${CLOCK_FREQUENCY})`);
    onBatch?.({ ...info(assembly.sync, NaN, NaN), clockTime: clock.trace });

    // End of generation: its clock and its batch count.
    const eogState = stateFor(eogRaw, [''], [NO_FRAMES]);
    const eogSpec = readType(eogState);
    if (eogSpec.name !== 'endOfGeneration') corrupt(eogState, 0, `record ${eogSpec.name} cannot appear in an end-of-generation batch`);
    const [trace, monoSec, monoNsec, wallSec, wallNsec, declared, eventsLost] = decodeRecord(eogState, eogSpec) as number[];
    expectEnd(eogState, 'end-of-generation batch');
    const found = 1 + assembly.tables.length + assembly.events.length;
    if (declared !== found) {
      corruptAt(eogRaw.offset, `generation ${assembly.number} declares ${declared} batches but holds ${found}`);
    }

    // Tables, per thread.
    const strings = new Map<number, string[]>();
    const stacks = new Map<number, (readonly StackFrame[])[]>();
    for (const raw of assembly.tables) {
      const thread = raw.header.thread;
      let threadStrings = strings.get(thread);
      let threadStacks = stacks.get(thread);
      if (threadStrings === undefined || threadStacks === undefined) {
        threadStrings = [''];
        threadStacks = [NO_FRAMES];
        strings.set(thread, threadStrings);
        stacks.set(thread, threadStacks);
      }
      decodeTable(raw, threadStrings, threadStacks);
      onBatch?.(info(raw, NaN, NaN));
    }

    // Events: scanned into columns per thread, in write order; then ordered by time.
    let eventBytes = 0;
    for (const raw of assembly.events) eventBytes += raw.bytes.length;
    const columns = new EventColumns(eventBytes >>> 2);
    const viewBatches: ViewBatch[] = [];
    const runs: { thread: number; start: number; end: number; sorted: boolean }[] = [];
    let lastTime = clock.trace;
    for (const raw of assembly.events) {
      const thread = raw.header.thread;
      let run = runs[runs.length - 1];
      if (run === undefined || run.thread !== thread) {
        run = { thread, start: columns.count, end: columns.count, sorted: true };
        runs.push(run);
      }
      const threadStrings = strings.get(thread) ?? EMPTY_STRINGS;
      const threadStacks = stacks.get(thread) ?? EMPTY_STACKS;
      const batchIndex = viewBatches.length;
      viewBatches.push({ bytes: raw.bytes, thread, strings: threadStrings, stacks: threadStacks });
      const time = scanBatch(raw, threadStrings.length, threadStacks.length, batchIndex, columns, run);
      run.end = columns.count;
      if (time > lastTime) lastTime = time;
      onBatch?.(info(raw, scannedBatch.firstTime, time));
    }
    onBatch?.({ ...info(eogRaw, NaN, NaN), clockTime: trace, declaredBatches: declared, eventsLost });

    const end: ClockSnapshot = { trace, monoSec, monoNsec, wallSec, wallNsec };
    this.last = { number: assembly.number, end, endOffset: eogRaw.offset + BATCH_HEADER_BYTES + eogRaw.bytes.length, process: processInfo, frequency, thread: assembly.sync.header.thread, lastTime };
    out.push(this.syncEvent(assembly.number, clock, this.last, false));
    if (columns.count > 0) {
      out.push(new GenerationView(viewBatches, columns.times, columns.batchOf, columns.offsets, timeOrder(columns.times, runs, columns.count), columns.count));
    }
  }

  private syncEvent(generation: number, clock: ClockSnapshot, g: LastGeneration, final: boolean): SyncEvent {
    return { kind: 'sync', time: clock.trace, thread: g.thread, n: ++this.syncs, generation, final, frequency: g.frequency, clock, process: g.process };
  }
}

/** Reads a table batch into its thread's string and stack tables. */
function decodeTable(raw: RawBatch, threadStrings: string[], threadStacks: (readonly StackFrame[])[]): void {
  const state = stateFor(raw, threadStrings, threadStacks);
  const tableBytes = raw.bytes;
  const tableEnd = tableBytes.length;
  while (state.pos < state.end) {
    const at = state.pos;
    if (tableBytes[at] === STRING_CODE) {
      // The common record, well formed, read directly (tables hold a string per log message
      // or path); anything else goes the general way, which says what is wrong.
      const afterId = readUvarint(tableBytes, at + 1, tableEnd);
      if (afterId >= 0 && varintResult.value === threadStrings.length) {
        const start = readUvarint(tableBytes, afterId, tableEnd);
        const length = varintResult.value;
        if (start >= 0 && length <= MAX_STRING_BYTES && start + length <= tableEnd) {
          threadStrings.push(decodeText(tableBytes, start, start + length));
          state.pos = start + length;
          continue;
        }
      }
    }
    const spec = readType(state);
    if (spec.name === 'string') {
      const [id, value] = decodeRecord(state, spec) as [number, string];
      if (id !== threadStrings.length) corrupt(state, at, `string id ${id} out of sequence (expected ${threadStrings.length})`);
      threadStrings.push(value);
    } else if (spec.name === 'stack') {
      const [id, frames] = decodeRecord(state, spec) as [number, readonly StackFrame[]];
      if (id !== threadStacks.length) corrupt(state, at, `stack id ${id} out of sequence (expected ${threadStacks.length})`);
      threadStacks.push(frames);
    } else {
      corrupt(state, at, `record ${spec.name} cannot appear in a table batch`);
    }
  }
}

/** The first event time of the batch {@link scanBatch} scanned last (NaN when it had none). */
const scannedBatch = { firstTime: NaN };

/**
 * Checks an event batch and adds its events to the columns (and to `run`'s order flag); returns
 * the time the batch ends at. `strings` and `stacks` are the sizes of its thread's tables. Kept
 * apart from the rest of a generation's decoding so that the optimizing compiler deals with this
 * loop alone, rather than recompiling the whole as other parts first run.
 */
function scanBatch(raw: RawBatch, strings: number, stacks: number, batchIndex: number, columns: EventColumns, run: { sorted: boolean; start: number; end: number }): number {
  const bytes = raw.bytes;
  const end = bytes.length;
  const fileOffset = raw.offset + BATCH_HEADER_BYTES;
  let time = raw.header.baseTime;
  let firstTime = NaN;
  let previous = run.end > run.start ? columns.times[run.end - 1] : -Infinity;
  let p = 0;
  while (p < end) {
    const scan = SCANNERS[bytes[p]];
    if (scan === undefined) {
      const spec = SPEC_BY_CODE[bytes[p]];
      corruptAt(fileOffset + p, spec === undefined ? `unknown event type ${bytes[p]}` : `record ${spec.name} cannot appear in an event batch`);
    }
    // The time delta: up to two bytes inline (most are), longer ones through readUvarint.
    let afterTime = p + 1;
    let d0 = 0x80;
    let d1 = 0x80;
    if (afterTime + 1 < end) {
      d0 = bytes[afterTime];
      d1 = bytes[afterTime + 1];
    }
    if (d0 < 0x80) {
      afterTime++;
      time += d0;
    } else if (d1 < 0x80) {
      afterTime += 2;
      time += (d0 & 0x7f) | (d1 << 7);
    } else {
      afterTime = readUvarint(bytes, p + 1, end);
      if (afterTime < 0) corruptAt(fileOffset + p + 1, afterTime === -1 ? 'an event time runs past the end of its batch' : 'an event time is a varint longer than 8 bytes');
      time += varintResult.value;
    }
    if (firstTime !== firstTime) firstTime = time;
    scanned.time = time;
    const next = scan(bytes, afterTime, end, strings, stacks);
    if (next < 0) corruptAt(fileOffset + afterTime, scanError(next, SPEC_BY_CODE[bytes[p]]!.name, strings, stacks));
    const eventTime = scanned.time;
    if (eventTime < previous) run.sorted = false;
    previous = eventTime;
    columns.push(eventTime, batchIndex, p);
    p = next;
  }
  scannedBatch.firstTime = firstTime;
  return time;
}

function hasMagicPrefix(data: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (data[i] !== MAGIC.charCodeAt(i)) return false;
  return length === MAGIC.length ? hasMagic(data) : true;
}

function checkHeader(header: BatchHeader & { reservedNonZero: boolean }, offset: number): void {
  if (header.kind < BatchKind.sync || header.kind > BatchKind.loss) corruptAt(offset, `unknown batch kind ${header.kind}`);
  if (header.payloadSize > MAX_BATCH_PAYLOAD) {
    corruptAt(offset, `batch payload of ${header.payloadSize} bytes is above the limit of ${MAX_BATCH_PAYLOAD}`);
  }
  if (header.reservedNonZero) corruptAt(offset, 'reserved batch header bytes are not zero');
  if (header.flags > 1) corruptAt(offset, `unknown batch flags ${header.flags}`);
}

function corruptAt(offset: number, message: string): never {
  throw new NfrError('ERR_TRACE_CORRUPT', `corrupt trace at byte ${offset}: ${message}`, { offset });
}

function stateFor(raw: RawBatch, strings: string[], stacks: (readonly StackFrame[])[]): DecodeState {
  return { bytes: raw.bytes, pos: 0, end: raw.bytes.length, fileOffset: raw.offset + BATCH_HEADER_BYTES, strings, stacks };
}

function expectEnd(state: DecodeState, what: string): void {
  if (state.pos !== state.end) corrupt(state, state.pos, `${state.end - state.pos} unexpected bytes after the record of a ${what}`);
}

function info(raw: RawBatch, firstTime: number, lastTime: number): BatchInfo {
  return { ...raw.header, offset: raw.offset, firstTime, lastTime };
}
