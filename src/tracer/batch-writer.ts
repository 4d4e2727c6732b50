import { BatchKind, EVENTS } from '../format/events.js';
import { BATCH_FLAG_SEALED, BatchField } from '../format/header.js';
import { BATCH_HEADER_BYTES } from '../format/limits.js';
import { putUvarint } from '../format/varint.js';
import type { ChunkPool } from './chunk-pool.js';
import { CHUNK_BYTES, Ctl, packPosition, SIZE_FROZEN } from './shared-state.js';

/** `reserve` results. */
export const ROOM = 1;
export const NO_ROOM = 0;
/** The writer's generation ended while an event was being written: start the event over. */
export const RETRY = -2;

/** Where a finished batch lives in the pool. */
export interface BatchRef {
  chunk: number;
  /** Offset of the batch header in its chunk. */
  offset: number;
  /** Payload bytes after the header. */
  payloadSize: number;
  kind: number;
  thread: number;
  sequence: number;
  generation: number;
}

/** Receives the batches a writer fills up before its generation ends. */
export interface BatchSink {
  sealed(batch: BatchRef): void;
}

const TWO_32 = 2 ** 32;

/**
 * Writes one thread's batches of one kind into pool chunks, in place: the batch header is
 * reserved in front and its payload size is updated after every event, so the batch can be read
 * (by the main thread or a watchdog) at any moment up to the last whole event.
 *
 * The hot path is `reserve`, a single comparison; callers then write bytes at `pos` into `bytes`
 * and call `commit`. Everything else (a full batch, a new generation, a full pool) is the slow
 * path in `openBatch`.
 */
export class BatchWriter {
  /** The current chunk. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Next byte to write in `bytes`. */
  pos = 0;
  /** End of room for the open batch; 0 when no batch is open, so any `reserve` takes the slow path. */
  end = 0;
  /** Time of the previous event of the batch, in trace ns. */
  lastTime = 0;
  /** Events dropped because no chunk could be had; written as an `eventsLost` record when room returns. */
  pendingLost = 0;
  /** The generation of the batches this writer opens; 0 for the current one. Its thread sets it when it sees a new generation. */
  targetGeneration = 0;

  protected words: Int32Array = new Int32Array(0);
  private chunk = -1;
  protected start = 0;
  private generation = 0;
  private sequence = 0;
  private sequenceGeneration = 0;

  constructor(
    protected readonly pool: ChunkPool,
    /** Batch kind of the batches this writer opens; the hub's control writer switches it between sync and end-of-generation. */
    public kind: number,
    readonly thread: number,
    private readonly sink: BatchSink,
    /** Whether this writer may go over the pool limit (the hub's sync and end records). */
    private readonly overLimit = false,
    /** Control word where a worker publishes where its open batch is, so the main thread can take it; -1 for none. */
    private readonly positionWord = -1,
    /** Control word of the generation the writer's thread writes into. */
    protected readonly generationWord: number = Ctl.generation,
  ) {}

  /**
   * Makes room for `need` bytes in an open batch. ROOM when there is; NO_ROOM when trace memory
   * is full (the caller drops its event, which is counted); RETRY when the writer's generation
   * ended meanwhile (a worker's): the caller starts its event over in the next generation.
   */
  reserve(need: number, time: number): number {
    if (this.pos + need <= this.end) return ROOM;
    return this.openBatch(need, time);
  }

  /** Publishes the bytes written so far as part of the open batch. True: they are in it. */
  commit(): boolean {
    this.words[(this.start + BatchField.payloadSize) >> 2] = this.pos - this.start - BATCH_HEADER_BYTES;
    return true;
  }

  /** Writes a time delta from the previous event. */
  putTime(time: number): void {
    let delta = Math.round(time - this.lastTime);
    if (delta < 0) delta = 0;
    this.lastTime += delta;
    this.pos = putUvarint(this.bytes, this.pos, delta);
  }

  /**
   * Closes the open batch and returns where it is (undefined when nothing is open or it is
   * empty). The next write opens a new batch. Used when a generation ends.
   */
  take(): BatchRef | undefined {
    if (this.end === 0) return undefined;
    const ref = this.close();
    this.end = 0;
    return ref;
  }

  /**
   * Seals the open batch where it is, without reporting it: for a worker whose batch the main
   * thread already took at a generation's end. The next write opens a new batch.
   */
  leaveBatch(): void {
    if (this.end === 0) return;
    this.close();
    this.end = 0;
  }

  /** Gives the current chunk back to the pool when the writer is done for good. */
  release(): void {
    this.take();
    if (this.chunk >= 0) this.pool.retire(this.chunk);
    this.chunk = -1;
    this.bytes = new Uint8Array(0);
    this.pos = 0;
  }

  /** The open batch's final payload size, made final in its header. */
  protected finalSize(): number {
    const payloadSize = this.pos - this.start - BATCH_HEADER_BYTES;
    if (payloadSize > 0) this.words[(this.start + BatchField.payloadSize) >> 2] = payloadSize;
    return payloadSize;
  }

  /** Marks the open batch sealed; kind and flags share its first word, so the final size is published with them. */
  protected seal(): void {
    Atomics.store(this.words, this.start >> 2, this.kind | (BATCH_FLAG_SEALED << 8));
  }

  private close(): BatchRef | undefined {
    const payloadSize = this.finalSize();
    if (payloadSize <= 0) {
      this.pos = this.start; // an empty batch is not kept: its room is reused
      return undefined;
    }
    // Bytes past the final size (a worker's event that missed a taken batch) are not part of it.
    this.pos = this.start + BATCH_HEADER_BYTES + payloadSize;
    this.seal();
    return {
      chunk: this.chunk,
      offset: this.start,
      payloadSize,
      kind: this.kind,
      thread: this.thread,
      sequence: this.sequence++,
      generation: this.generation,
    };
  }

  private openBatch(need: number, time: number): number {
    if (this.end !== 0) {
      const full = this.close();
      if (full !== undefined) this.sink.sealed(full);
      this.end = 0;
    }
    const generation = this.targetGeneration || this.pool.words[Ctl.generation];
    if (generation !== this.sequenceGeneration) {
      this.sequence = 0;
      this.sequenceGeneration = generation;
    }
    let start = (this.pos + 7) & ~7;
    if (this.chunk < 0 || start + BATCH_HEADER_BYTES + need > CHUNK_BYTES) {
      const chunk = this.pool.allocate(generation, this.overLimit);
      if (chunk < 0) {
        this.pendingLost++;
        Atomics.add(this.pool.words, Ctl.eventsLost, 1);
        return NO_ROOM;
      }
      if (this.chunk >= 0) this.pool.retire(this.chunk);
      this.chunk = chunk;
      this.bytes = this.pool.bytes(chunk);
      this.words = this.pool.int32(chunk);
      start = 0;
    } else {
      this.pool.touch(this.chunk, generation);
    }
    this.generation = generation;
    this.start = start;
    const words = this.words;
    const w = start >> 2;
    words[w + 1] = this.thread;
    words[w + 2] = generation;
    words[w + 3] = 0;
    const base = Math.max(0, Math.round(time));
    words[w + 4] = base % TWO_32;
    words[w + 5] = Math.floor(base / TWO_32);
    words[w + 6] = this.sequence;
    words[w + 7] = 0;
    // The first word (kind, no flags) goes last: a scan that sees the kind sees the rest.
    Atomics.store(words, w, this.kind);
    if (this.positionWord >= 0) Atomics.store(this.pool.words, this.positionWord, packPosition(this.chunk, start));
    if (!this.stillCurrent(generation)) {
      // Too late for this generation: its end has taken our batches already. Reuse the spot next time.
      this.pos = start;
      this.end = 0;
      return RETRY;
    }
    this.lastTime = base;
    this.opened();
    this.pos = start + BATCH_HEADER_BYTES;
    this.end = CHUNK_BYTES;
    if (this.pendingLost > 0 && this.kind === BatchKind.events) this.writeLost(base);
    return this.pos + need <= this.end ? ROOM : NO_ROOM;
  }

  /** Whether `generation` is still being written. Only a worker's can end under it. */
  protected stillCurrent(_generation: number): boolean {
    return true;
  }

  /** Hook for subclasses: a new batch was opened. */
  protected opened(): void {}

  /** Records the events dropped while memory was full, in front of the first event that fits again. */
  private writeLost(time: number): void {
    this.bytes[this.pos++] = EVENTS.eventsLost.code;
    this.putTime(time);
    this.pos = putUvarint(this.bytes, this.pos, this.pendingLost);
    this.pendingLost = 0;
    this.commit();
  }
}

/**
 * The batch writer of a worker that joined the main thread's tracer. At a generation's end the
 * main thread takes the worker's open batch as it is, freezing its size word (SIZE_FROZEN); it
 * never waits for the worker, which may be busy or blocked. The worker commits each event with
 * a compare-and-swap on that word: when it fails, the batch was taken before the event was in
 * it, and the encoder writes the event again, in the next generation. So every event is in
 * exactly one generation, at one atomic operation per event.
 */
export class WorkerBatchWriter extends BatchWriter {
  private committed = 0;

  override commit(): boolean {
    const size = this.pos - this.start - BATCH_HEADER_BYTES;
    const index = (this.start + BatchField.payloadSize) >> 2;
    if (Atomics.compareExchange(this.words, index, this.committed, size) === this.committed) {
      this.committed = size;
      return true;
    }
    // Taken: seal it at the size it was taken with, so scans step over it, and drop the bytes of
    // the event that missed it, so the next batch starts right where a scan expects one.
    this.pos = this.start + BATCH_HEADER_BYTES + this.committed;
    this.seal();
    this.end = 0;
    return false;
  }

  protected override finalSize(): number {
    return Atomics.load(this.words, (this.start + BatchField.payloadSize) >> 2) & ~SIZE_FROZEN;
  }

  protected override opened(): void {
    this.committed = 0;
  }

  // The position was published (sequentially consistent) before this load: either the main
  // thread sees the new batch when it takes our batches, or we see its new generation here.
  protected override stillCurrent(generation: number): boolean {
    return Atomics.load(this.pool.words, this.generationWord) === generation;
  }
}
