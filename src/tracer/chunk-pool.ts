import { CHUNK_BYTES, ChunkState, Ctl, MAX_CHUNKS, type SharedTraceMemory } from './shared-state.js';

/** How much the pool buffer grows at a time. */
const GROW_CHUNKS = 16;

/**
 * Fixed-size chunks carved from one growable SharedArrayBuffer. Any thread may allocate; only
 * the main thread frees (it alone knows which generations are still retained). Allocation takes
 * a short spin lock in the control block, once per 64 KiB of trace.
 *
 * Views are fixed-length and made per chunk: a length-tracking view of a growable buffer is
 * about 30 times slower to write in V8.
 */
export class ChunkPool {
  readonly words: Int32Array;
  readonly buffer: SharedArrayBuffer;
  private readonly byteViews: (Uint8Array | undefined)[] = [];
  private readonly wordViews: (Int32Array | undefined)[] = [];

  constructor(memory: SharedTraceMemory) {
    this.words = new Int32Array(memory.control);
    this.buffer = memory.pool;
  }

  /**
   * Takes a free chunk, growing the buffer if needed. Returns -1 when the limit is reached,
   * unless `overLimit` (for the generation's own sync and end records, which must always exist).
   */
  allocate(generation: number, overLimit = false): number {
    const words = this.words;
    this.lock();
    let chunk = -1;
    try {
      const free = words[Ctl.freeCount];
      const inUse = words[Ctl.chunkCount] - free;
      if (inUse < words[Ctl.chunkLimit] || overLimit) {
        if (free > 0) {
          chunk = words[Ctl.freeStack + free - 1];
          words[Ctl.freeCount] = free - 1;
        } else if (words[Ctl.chunkCount] < MAX_CHUNKS) {
          chunk = words[Ctl.chunkCount];
          const needed = (chunk + 1) * CHUNK_BYTES;
          if (this.buffer.byteLength < needed) {
            const target = Math.min(MAX_CHUNKS, chunk + GROW_CHUNKS) * CHUNK_BYTES;
            this.buffer.grow(target);
          }
          words[Ctl.chunkCount] = chunk + 1;
        }
      }
      if (chunk >= 0) {
        words[Ctl.chunkGeneration + chunk] = generation;
        words[Ctl.chunkState + chunk] = ChunkState.owned;
        words[Ctl.generationChunks]++;
        if (words[Ctl.generationChunks] > words[Ctl.generationChunkLimit] && words[Ctl.advanceRequest] === 0) {
          // The main thread ends the generation; it may be idle, so wake it.
          Atomics.store(words, Ctl.advanceRequest, 1);
          Atomics.notify(words, Ctl.advanceRequest);
        }
      }
    } catch {
      chunk = -1; // the address space could not grow: treated as a full pool
    } finally {
      this.unlock();
    }
    // A reused chunk still holds old batches; a scan must find nothing past the new owner's last batch.
    if (chunk >= 0) this.bytes(chunk).fill(0);
    return chunk;
  }

  /** A writer moved on from this chunk: it may be freed once its newest generation is released. */
  retire(chunk: number): void {
    Atomics.store(this.words, Ctl.chunkState + chunk, ChunkState.retired);
  }

  /**
   * Frees every retired chunk whose newest batch belongs to a generation older than
   * `oldestRetained`. Main thread only. Returns the number freed.
   */
  freeOlderThan(oldestRetained: number): number {
    const words = this.words;
    this.lock();
    let freed = 0;
    try {
      let free = words[Ctl.freeCount];
      const count = words[Ctl.chunkCount];
      for (let chunk = 0; chunk < count; chunk++) {
        if (words[Ctl.chunkState + chunk] === ChunkState.retired && words[Ctl.chunkGeneration + chunk] < oldestRetained) {
          words[Ctl.chunkState + chunk] = ChunkState.free;
          words[Ctl.freeStack + free++] = chunk;
          freed++;
        }
      }
      words[Ctl.freeCount] = free;
    } finally {
      this.unlock();
    }
    return freed;
  }

  /** Marks a chunk a writer keeps using as holding a batch of `generation`. */
  touch(chunk: number, generation: number): void {
    this.words[Ctl.chunkGeneration + chunk] = generation;
  }

  /** Chunks handed out and not yet freed. */
  inUse(): number {
    return Atomics.load(this.words, Ctl.chunkCount) - Atomics.load(this.words, Ctl.freeCount);
  }

  /** Sets the most chunks that may be in use at once. */
  setLimit(chunks: number): void {
    Atomics.store(this.words, Ctl.chunkLimit, Math.max(1, Math.min(MAX_CHUNKS, chunks)));
  }

  bytes(chunk: number): Uint8Array {
    let view = this.byteViews[chunk];
    if (view === undefined) {
      view = new Uint8Array(this.buffer, chunk * CHUNK_BYTES, CHUNK_BYTES);
      this.byteViews[chunk] = view;
    }
    return view;
  }

  int32(chunk: number): Int32Array {
    let view = this.wordViews[chunk];
    if (view === undefined) {
      view = new Int32Array(this.buffer, chunk * CHUNK_BYTES, CHUNK_BYTES / 4);
      this.wordViews[chunk] = view;
    }
    return view;
  }

  private lock(): void {
    const words = this.words;
    while (Atomics.compareExchange(words, Ctl.poolLock, 0, 1) !== 0) {
      // The holder does a few word writes and at most one grow(): spin briefly, then yield the core.
      Atomics.wait(words, Ctl.poolLock, 1, 1);
    }
  }

  private unlock(): void {
    Atomics.store(this.words, Ctl.poolLock, 0);
    Atomics.notify(this.words, Ctl.poolLock, 1);
  }
}
