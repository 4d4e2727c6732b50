import { BatchKind, EVENTS } from '../format/events.js';
import { BATCH_FLAG_SEALED, BatchField } from '../format/header.js';
import { BATCH_HEADER_BYTES } from '../format/limits.js';
import { putUvarint } from '../format/varint.js';
import type { ChunkPool } from './chunk-pool.js';
import { CHUNK_BYTES, Ctl } from './shared-state.js';

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
  /** When non-zero, the generation of the batches this writer opens, instead of the current one. */
  generationOverride = 0;

  private words: Int32Array = new Int32Array(0);
  private chunk = -1;
  private start = 0;
  private generation = 0;
  private sequence = 0;
  private sequenceGeneration = 0;

  constructor(
    private readonly pool: ChunkPool,
    /** Batch kind of the batches this writer opens; the hub's control writer switches it between sync and end-of-generation. */
    public kind: number,
    readonly thread: number,
    private readonly sink: BatchSink,
    /** Whether this writer may go over the pool limit (the hub's sync and end records). */
    private readonly overLimit = false,
  ) {}

  /**
   * Makes room for `need` bytes in an open batch of the current generation. False when trace
   * memory is full: the caller drops its event (it is counted).
   */
  reserve(need: number, time: number): boolean {
    if (this.pos + need <= this.end) return true;
    return this.openBatch(need, time);
  }

  /** Publishes the bytes written so far as part of the open batch. */
  commit(): void {
    this.words[(this.start + BatchField.payloadSize) >> 2] = this.pos - this.start - BATCH_HEADER_BYTES;
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

  /** Gives the current chunk back to the pool when the writer is done for good. */
  release(): void {
    this.take();
    if (this.chunk >= 0) this.pool.retire(this.chunk);
    this.chunk = -1;
    this.bytes = new Uint8Array(0);
    this.pos = 0;
  }

  private close(): BatchRef | undefined {
    const payloadSize = this.pos - this.start - BATCH_HEADER_BYTES;
    if (payloadSize <= 0) {
      this.pos = this.start; // an empty batch is not kept: its room is reused
      return undefined;
    }
    this.words[(this.start + BatchField.payloadSize) >> 2] = payloadSize;
    this.bytes[this.start + BatchField.flags] = BATCH_FLAG_SEALED;
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

  private openBatch(need: number, time: number): boolean {
    if (this.end !== 0) {
      const full = this.close();
      if (full !== undefined) this.sink.sealed(full);
      this.end = 0;
    }
    const generation = this.generationOverride || this.pool.words[Ctl.generation];
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
        return false;
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
    const bytes = this.bytes;
    const words = this.words;
    const w = start >> 2;
    bytes[start + BatchField.kind] = this.kind;
    bytes[start + BatchField.flags] = 0;
    bytes[start + BatchField.reserved0] = 0;
    bytes[start + BatchField.reserved0 + 1] = 0;
    words[w + 1] = this.thread;
    words[w + 2] = generation;
    words[w + 3] = 0;
    const base = Math.max(0, Math.round(time));
    words[w + 4] = base % TWO_32;
    words[w + 5] = Math.floor(base / TWO_32);
    words[w + 6] = this.sequence;
    words[w + 7] = 0;
    this.lastTime = base;
    this.pos = start + BATCH_HEADER_BYTES;
    this.end = CHUNK_BYTES;
    if (this.pendingLost > 0 && this.kind === BatchKind.events) this.writeLost(base);
    return this.pos + need <= this.end;
  }

  /** Records the events dropped while memory was full, in front of the first event that fits again. */
  private writeLost(time: number): void {
    this.bytes[this.pos++] = EVENTS.eventsLost.code;
    this.putTime(time);
    this.pos = putUvarint(this.bytes, this.pos, this.pendingLost);
    this.pendingLost = 0;
    this.commit();
  }
}
