import { BatchKind, EVENTS, type StackFrame } from '../format/events.js';
import { MAX_STACK_FRAMES, MAX_STRING_BYTES, MAX_VARINT_BYTES } from '../format/limits.js';
import { putText } from '../format/text.js';
import { putUvarint } from '../format/varint.js';
import { BatchWriter, RETRY, ROOM, WorkerBatchWriter, type BatchRef, type BatchSink } from './batch-writer.js';
import type { ChunkPool } from './chunk-pool.js';
import { traceNow } from './clock.js';
import { installEncoders, STRING_CACHE_SLOTS, type Emitters } from './encoders.js';
import { Ctl } from './shared-state.js';

/**
 * A thread's writer: its event and table batches, and the strings and stacks it has interned in
 * the current generation. Ids are scoped to (generation, thread), so no thread ever waits for
 * another to intern a string. The event methods (`log`, `taskBegin`, ...) are generated from the
 * event table; see encoders.ts.
 */
export class ThreadTracer {
  readonly events: BatchWriter;
  readonly tables: BatchWriter;
  /** Generation the interning tables belong to; 0 before the first event. */
  private generation = 0;
  private readonly words: Int32Array;
  private readonly strings = new Map<string, number>();
  private nextString = 1;
  private readonly stacks = new Map<string, number>();
  /** Stack ids by frame array, for callers that pass the same array again (the CPU source, per profile node). */
  private stacksByArray = new WeakMap<readonly StackFrame[], number>();
  private nextStack = 1;
  private nextRegion = 1;
  /**
   * The encoders' one-entry string caches, one slot per string argument of the table (see
   * encoders.ts). An empty slot holds '' with id 0, the one entry that is right in every
   * generation (the empty string is always id 0, see defineString): so the slots only ever hold
   * strings, and each encoder's comparison is a string comparison (a pointer check when the
   * strings are the same), not the generic one it compiled to when empty slots held undefined.
   * Made without holes (not `new Array(n)`), so reading a slot needs no hole check either.
   */
  readonly cachedStrings: string[] = Array.from({ length: STRING_CACHE_SLOTS.size }, () => '');
  readonly cachedIds = new Int32Array(STRING_CACHE_SLOTS.size);
  /** Called at the start of an event when a writer asked for an early generation end (main thread only). */
  onAdvanceRequest: (() => void) | undefined;

  /** The control word holding the generation this thread writes into (0: tracing is off for it). */
  private readonly generationWord: number;

  constructor(
    pool: ChunkPool,
    readonly thread: number,
    public name: string,
    sink: BatchSink,
    /** For a worker: its generation word and the control words where it publishes its open batches. */
    worker?: { generationWord: number; eventsPositionWord: number; tablesPositionWord: number },
  ) {
    this.words = pool.words;
    this.generationWord = worker?.generationWord ?? Ctl.generation;
    const Writer = worker === undefined ? BatchWriter : WorkerBatchWriter;
    this.events = new Writer(pool, BatchKind.events, thread, sink, false, worker?.eventsPositionWord ?? -1, this.generationWord);
    this.tables = new Writer(pool, BatchKind.tables, thread, sink, false, worker?.tablesPositionWord ?? -1, this.generationWord);
    this.clearStringCaches();
  }

  /** Empties the encoders' per-argument string caches (ids are per generation). */
  private clearStringCaches(): void {
    this.cachedStrings.fill('');
    this.cachedIds.fill(0);
  }

  /** True while tracing is on. Starts a new generation's tables when the generation changed. */
  begin(): boolean {
    const generation = this.words[this.generationWord];
    if (generation === this.generation && this.words[Ctl.advanceRequest] === 0) return generation !== 0;
    return this.beginSlow(generation);
  }

  private beginSlow(generation: number): boolean {
    if (this.words[Ctl.advanceRequest] !== 0 && this.onAdvanceRequest !== undefined) {
      this.onAdvanceRequest();
      generation = this.words[this.generationWord];
    }
    if (generation === 0) return false;
    if (generation !== this.generation) {
      // A worker's open batches belong to the generation that ended (the main thread took them); start new ones.
      this.events.leaveBatch();
      this.tables.leaveBatch();
      this.events.targetGeneration = generation;
      this.tables.targetGeneration = generation;
      this.generation = generation;
      this.strings.clear();
      this.clearStringCaches();
      this.nextString = 1;
      this.stacks.clear();
      this.stacksByArray = new WeakMap();
      this.nextStack = 1;
      (this as unknown as Emitters).threadName(this.name);
    }
    return true;
  }

  str(value: string): number {
    const id = this.strings.get(value);
    if (id !== undefined) return id;
    return this.defineString(value);
  }

  private defineString(value: string): number {
    if (value === '') return 0;
    if (typeof value !== 'string') value = String(value);
    const w = this.tables;
    const need = 1 + MAX_VARINT_BYTES + 2 + Math.min(value.length * 3, MAX_STRING_BYTES);
    const room = w.reserve(need, traceNow());
    if (room !== ROOM) return room === RETRY ? RETRY : -1;
    const id = this.nextString++;
    const b = w.bytes;
    b[w.pos++] = EVENTS.string.code;
    w.pos = putText(b, putUvarint(b, w.pos, id), value);
    if (!w.commit()) return RETRY;
    this.strings.set(value, id);
    return id;
  }

  /**
   * Stack id for this generation, defining the stack if new. Frame arrays are remembered by
   * identity too, so passing the same (unmodified) array again costs one map lookup.
   */
  stack(frames: readonly StackFrame[]): number {
    if (frames.length === 0) return 0;
    const same = this.stacksByArray.get(frames);
    if (same !== undefined) return same;
    const count = Math.min(frames.length, MAX_STACK_FRAMES);
    let key = '';
    for (let i = 0; i < count; i++) {
      const f = frames[i];
      key += `${f.functionName}\u0000${f.url}\u0000${f.line}\u0000${f.column}\u0001`;
    }
    const known = this.stacks.get(key);
    if (known !== undefined) {
      this.stacksByArray.set(frames, known);
      return known;
    }
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const fn = this.str(frames[i].functionName);
      const url = this.str(frames[i].url);
      if (fn < 0 || url < 0) return -1;
      ids.push(fn, url);
    }
    const w = this.tables;
    const need = 1 + 2 * MAX_VARINT_BYTES + count * 4 * MAX_VARINT_BYTES;
    const room = w.reserve(need, traceNow());
    if (room !== ROOM) return room === RETRY ? RETRY : -1;
    const id = this.nextStack++;
    const b = w.bytes;
    let p = w.pos;
    b[p++] = EVENTS.stack.code;
    p = putUvarint(b, p, id);
    p = putUvarint(b, p, count);
    for (let i = 0; i < count; i++) {
      p = putUvarint(b, p, ids[2 * i]);
      p = putUvarint(b, p, ids[2 * i + 1]);
      p = putUvarint(b, p, Math.max(0, frames[i].line | 0));
      p = putUvarint(b, p, Math.max(0, frames[i].column | 0));
    }
    w.pos = p;
    if (!w.commit()) return RETRY;
    this.stacks.set(key, id);
    this.stacksByArray.set(frames, id);
    return id;
  }

  dropped(): void {
    this.events.pendingLost++;
    Atomics.add(this.words, Ctl.eventsLost, 1);
  }

  /** A new region id, unique on this thread. */
  newRegionId(): number {
    return this.nextRegion++;
  }

  /** Closes the open batches (events before tables, see hub.ts) and returns them. */
  takeOpenBatches(): BatchRef[] {
    const taken: BatchRef[] = [];
    const events = this.events.take();
    if (events !== undefined) taken.push(events);
    const tables = this.tables.take();
    if (tables !== undefined) taken.push(tables);
    return taken;
  }

  /** Gives the writers' chunks back; the next event after a restart opens new ones. */
  release(): void {
    this.events.release();
    this.tables.release();
    this.generation = 0;
  }
}

installEncoders(ThreadTracer.prototype);

// The generated encoders, as typed methods.
export interface ThreadTracer extends Emitters {}
