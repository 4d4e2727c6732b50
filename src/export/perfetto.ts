/**
 * Trace events to a Perfetto trace: a stream of `TracePacket`s (each a field 1 of the `Trace`
 * message, so the file is a valid `Trace`) with TrackDescriptors for the process, its threads,
 * the lanes of tasks, requests and calls, and one counter track per metric; TrackEvent slices,
 * instants, counters and flows on them; event names, categories and annotation names interned.
 * It opens in ui.perfetto.dev and trace_processor. Field numbers are Perfetto's
 * (protos/perfetto/trace/...); docs/export.md explains the mapping and the clock.
 *
 * Everything is one packet sequence. Timestamps are in our own trace clock, declared as the
 * sequence-scoped clock 64, and ClockSnapshots tie it to CLOCK_MONOTONIC (made the trace's
 * primary clock) and CLOCK_REALTIME, so viewers can show wall time. Slices are written when
 * they end, as a BEGIN and END pair: trace processor sorts all packets by time before it
 * parses them (when the file has no flush markers, which ours never has).
 */
import type { StackFrame } from '../format/events.js';
import type { SyncEvent, TraceEvent } from '../reader/events.js';
import type { Exporter } from './exporter.js';
import { ProtoWriter, putVarint } from './protobuf-writer.js';
import { TimelineBuilder, type Args, type TimelineFacts, type TimelineStats, type TimelineWriter, type Track } from './timeline.js';

/** Perfetto's field numbers and constants, as in its protos. */
const F = {
  // Trace
  tracePacket: 1,
  // TracePacket
  clockSnapshot: 6,
  timestamp: 8,
  trustedPacketSequenceId: 10,
  trackEvent: 11,
  internedData: 12,
  sequenceFlags: 13,
  tracePacketDefaults: 59,
  trackDescriptor: 60,
  // TracePacketDefaults
  defaultsTimestampClockId: 58,
  // ClockSnapshot
  clocks: 1,
  primaryTraceClock: 2,
  // ClockSnapshot.Clock
  clockId: 1,
  clockTimestamp: 2,
  // TrackDescriptor
  uuid: 1,
  trackName: 2,
  process: 3,
  thread: 4,
  parentUuid: 5,
  counter: 8,
  // ProcessDescriptor
  pid: 1,
  processName: 6,
  // ThreadDescriptor (pid 1)
  tid: 2,
  threadName: 5,
  // CounterDescriptor
  unit: 3,
  // TrackEvent
  categoryIids: 3,
  debugAnnotations: 4,
  type: 9,
  nameIid: 10,
  trackUuid: 11,
  doubleCounterValue: 44,
  flowIds: 47,
  terminatingFlowIds: 48,
  callstack: 55,
  // TrackEvent.Callstack / Frame
  frames: 1,
  functionName: 1,
  sourceFile: 2,
  lineNumber: 3,
  // DebugAnnotation
  annotationNameIid: 1,
  boolValue: 2,
  uintValue: 3,
  intValue: 4,
  doubleValue: 5,
  stringValue: 6,
  // InternedData
  eventCategories: 1,
  eventNames: 2,
  debugAnnotationNames: 3,
  // EventCategory / EventName / DebugAnnotationName
  iid: 1,
  internedName: 2,
} as const;

const TYPE_SLICE_BEGIN = 1;
const TYPE_SLICE_END = 2;
const TYPE_INSTANT = 3;
const TYPE_COUNTER = 4;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;
const BUILTIN_CLOCK_REALTIME = 1;
const BUILTIN_CLOCK_MONOTONIC = 3;
const UNIT_SIZE_BYTES = 3;
/** Our trace clock: a sequence-scoped clock id (64..127 are). */
const TRACE_CLOCK_ID = 64;
/** The one packet sequence of the file. */
const SEQUENCE_ID = 1;
/** Interned strings held before the interning state is cleared, so state stays bounded. */
const MAX_INTERNED = 20_000;
/** Output buffered before it is handed out. */
const CHUNK_BYTES = 1 << 18;

const TWO_32 = 4294967296;

// Field keys (field number << 3 | wire type) of the hot fields, for the hand-written paths.
const TAG_PACKET = (F.tracePacket << 3) | 2;
const TAG_TIMESTAMP = F.timestamp << 3;
const TAG_SEQUENCE_ID = F.trustedPacketSequenceId << 3;
const TAG_SEQUENCE_FLAGS = F.sequenceFlags << 3;
const TAG_TRACK_EVENT = (F.trackEvent << 3) | 2;
const TAG_TYPE = F.type << 3;
const TAG_TRACK_UUID = F.trackUuid << 3;
const TAG_NAME_IID = F.nameIid << 3;
const TAG_CATEGORY_IIDS = F.categoryIids << 3;
const TAG_DEBUG_ANNOTATION = (F.debugAnnotations << 3) | 2;
const TAG_ANNOTATION_NAME_IID = F.annotationNameIid << 3;
const TAG_UINT_VALUE = F.uintValue << 3;
// double_counter_value is field 44, wire type 1: its key takes two varint bytes.
const TAG_DOUBLE_COUNTER_VALUE_0 = (((F.doubleCounterValue << 3) | 1) & 0x7f) | 0x80;
const TAG_DOUBLE_COUNTER_VALUE_1 = ((F.doubleCounterValue << 3) | 1) >> 7;

/** Interned strings of one kind: string to iid, and the entries new in the current packet. */
class InternTable {
  readonly ids = new Map<string, number>();
  readonly fresh: (string | number)[] = [];
  /**
   * The last strings looked up, checked with === before the map: names and keys repeat from one
   * event to the next, and comparing a few strings is cheaper than hashing into a big map.
   */
  private readonly recentKeys: string[] = ['', '', '', ''];
  private readonly recentIds: number[] = [0, 0, 0, 0];
  private nextSlot = 0;

  constructor(private readonly field: number) {}

  /** The iid of `s`, or 0 when it is not interned. */
  get(s: string): number {
    const keys = this.recentKeys;
    for (let i = 0; i < 4; i++) if (keys[i] === s) return this.recentIds[i];
    const id = this.ids.get(s) ?? 0;
    if (id !== 0) this.remember(s, id);
    return id;
  }

  add(s: string, id: number): void {
    this.ids.set(s, id);
    this.fresh.push(s, id);
    this.remember(s, id);
  }

  clear(): void {
    this.ids.clear();
    this.recentKeys.fill('');
    this.recentIds.fill(0);
  }

  private remember(s: string, id: number): void {
    const slot = this.nextSlot;
    this.recentKeys[slot] = s;
    this.recentIds[slot] = id;
    this.nextSlot = (slot + 1) & 3;
  }

  write(w: ProtoWriter): void {
    const fresh = this.fresh;
    for (let i = 0; i < fresh.length; i += 2) {
      const m = w.begin(this.field);
      w.uint(F.iid, fresh[i + 1] as number);
      w.string(F.internedName, fresh[i] as string);
      w.end(m);
    }
    fresh.length = 0;
  }
}

function nsOf(time: number): number {
  return Number.isInteger(time) && time >= 0 ? time : Math.max(0, Math.round(time));
}

/** Converts trace events to a Perfetto protobuf trace, streaming. */
export class PerfettoExporter implements Exporter, TimelineWriter {
  readonly format = 'perfetto' as const;
  private readonly w = new ProtoWriter(CHUNK_BYTES + (1 << 16));
  private readonly chunks: Uint8Array[] = [];
  private chunksLength = 0;
  private readonly builder = new TimelineBuilder(this);
  facts: TimelineFacts = this.builder;
  private readonly names = new InternTable(F.eventNames);
  private readonly categories = new InternTable(F.eventCategories);
  private readonly annotationNames = new InternTable(F.debugAnnotationNames);
  /** iids are never reused for another string, even after the state is cleared (Perfetto's rule). */
  private nextIid = 1;
  /** Strings interned since the state was last cleared. */
  private internedCount = 0;
  private started = false;
  private lastSync: SyncEvent | undefined;

  get stats(): TimelineStats {
    return this.facts.stats;
  }

  get buffered(): number {
    return this.w.pos + this.chunksLength;
  }

  event(event: TraceEvent): void {
    this.builder.event(event);
  }

  finish(): void {
    this.builder.finish();
  }

  take(): Uint8Array[] {
    if (this.w.pos > 0) this.chunks.push(this.w.take());
    this.chunksLength = 0;
    return this.chunks.splice(0);
  }

  recycle(chunk: Uint8Array): void {
    this.w.recycle(chunk);
  }

  // --- TimelineWriter ---

  clock(sync: SyncEvent): void {
    if (!this.started) {
      this.startSequence();
      // A first snapshot at trace time 0, so that events before the first sync (backdated ones)
      // still have a snapshot at or before them. The offsets between the clocks are constant.
      this.snapshot(sync, 0);
    }
    this.lastSync = sync;
    this.snapshot(sync, sync.clock.trace);
    this.flushIfFull();
  }

  declare(track: Track): void {
    const w = this.w;
    const packet = this.beginPacket(-1);
    const d = w.begin(F.trackDescriptor);
    w.uint(F.uuid, track.uuid);
    if (track.parent !== undefined) w.uint(F.parentUuid, track.parent.uuid);
    const pid = this.facts.pid;
    switch (track.kind) {
      case 'process': {
        const p = w.begin(F.process);
        w.uint(F.pid, pid);
        const info = this.facts.process;
        w.string(F.processName, info?.title || 'node');
        w.end(p);
        break;
      }
      case 'thread': {
        const t = w.begin(F.thread);
        w.uint(F.pid, pid);
        w.uint(F.tid, tidOf(pid, track.thread));
        w.string(F.threadName, track.name);
        w.end(t);
        break;
      }
      case 'counter': {
        w.string(F.trackName, track.name);
        const c = w.begin(F.counter);
        if (track.category === 'bytes') w.uint(F.unit, UNIT_SIZE_BYTES);
        w.end(c);
        break;
      }
      case 'lane':
        w.string(F.trackName, track.name);
        break;
    }
    w.end(d);
    w.end(packet);
  }

  slice(track: Track, _thread: number, _group: number, begin: number, end: number, name: string, category: string, args: Args, flowInThread: number, flowInId: number): void {
    const w = this.w;
    const packet = this.beginPacket(begin);
    const te = this.beginTrackEvent(TYPE_SLICE_BEGIN, track, name, category);
    this.annotations(args);
    if (flowInId >= 0) this.flow(F.terminatingFlowIds, flowInThread, flowInId);
    w.end(te);
    this.interned();
    w.end(packet);
    this.sliceEnd(end, track.uuid);
    this.flushIfFull();
  }

  /** An END packet, written by hand: it is half of all packets and always short. */
  private sliceEnd(time: number, uuid: number): void {
    // (No interning state to clear here: the END follows its BEGIN directly.)
    const w = this.w;
    w.ensure(48);
    const b = w.buf;
    let p = w.pos;
    b[p++] = TAG_PACKET;
    const packet = p++;
    b[p++] = TAG_TIMESTAMP;
    p = putVarint(b, p, nsOf(time));
    b[p++] = TAG_SEQUENCE_ID;
    b[p++] = SEQUENCE_ID;
    b[p++] = TAG_SEQUENCE_FLAGS;
    b[p++] = SEQ_NEEDS_INCREMENTAL_STATE;
    b[p++] = TAG_TRACK_EVENT;
    const te = p++;
    b[p++] = TAG_TYPE;
    b[p++] = TYPE_SLICE_END;
    b[p++] = TAG_TRACK_UUID;
    p = putVarint(b, p, uuid);
    b[te] = p - te - 1;
    b[packet] = p - packet - 1;
    w.pos = p;
  }

  /** Starts a TrackEvent with its type, track, name and category; returns its mark. */
  private beginTrackEvent(type: number, track: Track, name: string, category: string): number {
    const nameIid = this.iid(this.names, name);
    const categoryIid = this.iid(this.categories, category);
    const w = this.w;
    w.ensure(40);
    const b = w.buf;
    let p = w.pos;
    b[p++] = TAG_TRACK_EVENT;
    const te = p++;
    b[p++] = TAG_TYPE;
    b[p++] = type;
    b[p++] = TAG_TRACK_UUID;
    p = putVarint(b, p, track.uuid);
    b[p++] = TAG_NAME_IID;
    p = putVarint(b, p, nameIid);
    b[p++] = TAG_CATEGORY_IIDS;
    p = putVarint(b, p, categoryIid);
    w.pos = p;
    return te;
  }

  instant(track: Track, _thread: number, time: number, name: string, category: string, args: Args, flowOutThread: number, flowOutId: number, stack: readonly StackFrame[] | undefined): void {
    const w = this.w;
    const packet = this.beginPacket(time);
    const te = this.beginTrackEvent(TYPE_INSTANT, track, name, category);
    this.annotations(args);
    if (flowOutId >= 0) this.flow(F.flowIds, flowOutThread, flowOutId);
    if (stack !== undefined && stack.length > 0) {
      // Perfetto's inline callstack lists frames outermost first; ours are innermost first.
      const cs = w.begin(F.callstack);
      for (let i = stack.length - 1; i >= 0; i--) {
        const frame = stack[i];
        const f = w.begin(F.frames);
        w.string(F.functionName, frame.functionName || '(anonymous)');
        if (frame.url !== '') w.string(F.sourceFile, frame.url);
        if (frame.line > 0) w.uint(F.lineNumber, frame.line);
        w.end(f);
      }
      w.end(cs);
    }
    w.end(te);
    this.interned();
    w.end(packet);
    this.flushIfFull();
  }

  end(): void {
    this.flushIfFull();
  }

  counter(track: Track, _thread: number, time: number, value: number): void {
    const w = this.w;
    const packet = this.beginPacket(time);
    w.ensure(24);
    const b = w.buf;
    let p = w.pos;
    b[p++] = TAG_TRACK_EVENT;
    const te = p++;
    b[p++] = TAG_TYPE;
    b[p++] = TYPE_COUNTER;
    b[p++] = TAG_TRACK_UUID;
    p = putVarint(b, p, track.uuid);
    b[p++] = TAG_DOUBLE_COUNTER_VALUE_0;
    b[p++] = TAG_DOUBLE_COUNTER_VALUE_1;
    w.view.setFloat64(p, value, true);
    p += 8;
    b[te] = p - te - 1;
    w.pos = p;
    w.end(packet);
    this.flushIfFull();
  }

  // --- writing ---

  /** The first packet of the sequence: incremental state starts, timestamps default to our clock. */
  private startSequence(): void {
    this.started = true;
    const w = this.w;
    const packet = w.begin(F.tracePacket);
    w.uint(F.trustedPacketSequenceId, SEQUENCE_ID);
    w.uint(F.sequenceFlags, SEQ_INCREMENTAL_STATE_CLEARED);
    const defaults = w.begin(F.tracePacketDefaults);
    w.uint(F.defaultsTimestampClockId, TRACE_CLOCK_ID);
    w.end(defaults);
    w.end(packet);
  }

  /** A ClockSnapshot: trace clock `at`, and the monotonic and wall clocks at that moment. */
  private snapshot(sync: SyncEvent, at: number): void {
    const w = this.w;
    const c = sync.clock;
    const shift = BigInt(nsOf(c.trace) - nsOf(at));
    const mono = BigInt(c.monoSec) * 1_000_000_000n + BigInt(c.monoNsec) - shift;
    const wall = BigInt(c.wallSec) * 1_000_000_000n + BigInt(c.wallNsec) - shift;
    const packet = this.beginPacket(-1);
    const s = w.begin(F.clockSnapshot);
    let m = w.begin(F.clocks);
    w.uint(F.clockId, TRACE_CLOCK_ID);
    w.uint(F.clockTimestamp, nsOf(at));
    w.end(m);
    m = w.begin(F.clocks);
    w.uint(F.clockId, BUILTIN_CLOCK_MONOTONIC);
    w.bigUint(F.clockTimestamp, mono);
    w.end(m);
    m = w.begin(F.clocks);
    w.uint(F.clockId, BUILTIN_CLOCK_REALTIME);
    w.bigUint(F.clockTimestamp, wall);
    w.end(m);
    w.uint(F.primaryTraceClock, BUILTIN_CLOCK_MONOTONIC);
    w.end(s);
    w.end(packet);
  }

  /** Starts a packet of the sequence, with a timestamp unless `time` < 0; returns its mark. */
  private beginPacket(time: number): number {
    if (!this.started) this.startSequence();
    if (this.internedCount > MAX_INTERNED) this.clearIncrementalState();
    const w = this.w;
    w.ensure(24);
    const b = w.buf;
    let p = w.pos;
    b[p++] = TAG_PACKET;
    const packet = p++;
    if (time >= 0) {
      b[p++] = TAG_TIMESTAMP;
      p = putVarint(b, p, nsOf(time));
    }
    b[p++] = TAG_SEQUENCE_ID;
    b[p++] = SEQUENCE_ID;
    b[p++] = TAG_SEQUENCE_FLAGS;
    b[p++] = SEQ_NEEDS_INCREMENTAL_STATE;
    w.pos = p;
    return packet;
  }

  /** Forgets the interned strings (the reader forgets them too) and restates the defaults and clock. */
  private clearIncrementalState(): void {
    this.internedCount = 0;
    this.names.clear();
    this.categories.clear();
    this.annotationNames.clear();
    this.startSequence();
    if (this.lastSync !== undefined) this.snapshot(this.lastSync, this.lastSync.clock.trace);
  }

  private iid(table: InternTable, s: string): number {
    let id = table.get(s);
    if (id === 0) {
      id = this.nextIid++;
      this.internedCount++;
      table.add(s, id);
    }
    return id;
  }

  /** Writes the InternedData of strings first used in this packet. */
  private interned(): void {
    if (this.names.fresh.length === 0 && this.categories.fresh.length === 0 && this.annotationNames.fresh.length === 0) return;
    const w = this.w;
    const m = w.begin(F.internedData);
    this.categories.write(w);
    this.names.write(w);
    this.annotationNames.write(w);
    w.end(m);
  }

  private annotations(args: Args): void {
    const w = this.w;
    for (let i = 0; i < args.length; i++) {
      const nameIid = this.iid(this.annotationNames, args.keys[i]);
      const v = args.values[i];
      if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) {
        // The common case (ids, counts, statuses), by hand: the message is always short.
        w.ensure(24);
        const b = w.buf;
        let p = w.pos;
        b[p++] = TAG_DEBUG_ANNOTATION;
        const m = p++;
        b[p++] = TAG_ANNOTATION_NAME_IID;
        p = putVarint(b, p, nameIid);
        b[p++] = TAG_UINT_VALUE;
        p = putVarint(b, p, v);
        b[m] = p - m - 1;
        w.pos = p;
        continue;
      }
      const m = w.begin(F.debugAnnotations);
      w.uint(F.annotationNameIid, nameIid);
      if (typeof v === 'string') w.string(F.stringValue, v);
      else if (typeof v === 'boolean') w.bool(F.boolValue, v);
      else if (typeof v === 'number') {
        if (Number.isSafeInteger(v)) w.int(F.intValue, v);
        else w.double(F.doubleValue, v);
      } else w.bytes(F.stringValue, v.bytes.subarray(v.start, v.end));
      w.end(m);
    }
  }

  /**
   * A flow id: async ids are per thread, so the thread goes in the high bits (ids below 2^53,
   * threads below 2^11).
   */
  private flow(field: number, thread: number, id: number): void {
    this.w.fixed64(field, id % TWO_32, Math.floor(id / TWO_32) + thread * 2 ** 21);
  }

  private flushIfFull(): void {
    if (this.w.pos >= CHUNK_BYTES) {
      const chunk = this.w.take();
      this.chunks.push(chunk);
      this.chunksLength += chunk.length;
    }
  }
}

/**
 * The tid shown for one of our threads. We do not know the OS thread ids, and trace processor
 * reserves tid 0, so the main thread gets the pid (as on Linux) and worker N gets pid + N.
 */
export function tidOf(pid: number, thread: number): number {
  return pid + thread;
}

/** Converts a whole trace held in memory; for big traces stream through {@link PerfettoExporter}. */
export function toPerfetto(events: Iterable<TraceEvent>): Uint8Array {
  const exporter = new PerfettoExporter();
  for (const e of events) exporter.event(e);
  exporter.finish();
  const chunks = exporter.take();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
