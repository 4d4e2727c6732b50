import { MAX_BATCH_BYTES } from '../format/limits.js';

/**
 * The state every thread of the process shares with the main thread: a control block of 32-bit
 * words and the chunk pool that holds all batches. Both are SharedArrayBuffers, so a worker
 * writes its batches where the main thread (or a watchdog thread) can read them without copies,
 * even while the thread that wrote them is blocked.
 */

/** Size of a pool chunk. Batches are placed in chunks and never cross one. */
export const CHUNK_BYTES = MAX_BATCH_BYTES;

/** Most chunks a pool can ever hold (1 GiB of address space, reserved but not committed). */
export const MAX_CHUNKS = 16384;

/** Most threads (main and workers) that can write at once. */
export const MAX_THREADS = 256;

/** Words of a thread slot. */
export const SLOT_WORDS = 8;

/**
 * A thread slot: a worker's claim in the control block, through which the main thread finds the
 * batches the worker has open when a generation ends, and learns that it exited.
 */
export const Slot = {
  /** free, active or exited. */
  state: 0,
  threadId: 1,
  /** Where the open event batch is: chunk << 16 | offset, -1 for none. One word, so it is read whole. */
  events: 2,
  /** Where the open table batch is, packed the same way. */
  tables: 3,
} as const;

/**
 * Set by the main thread in the size word of a worker's open batch when it takes the batch at a
 * generation's end: the batch is over at the size it had. The worker's next commit fails on it
 * and writes its event again in the next generation (see WorkerBatchWriter).
 */
export const SIZE_FROZEN = 0x40000000;

export const SlotState = { free: 0, active: 1, exited: 2 } as const;

/** Packs a batch position into one word. CHUNK_BYTES is 2^16 and MAX_CHUNKS below 2^15. */
export function packPosition(chunk: number, offset: number): number {
  return (chunk << 16) | offset;
}

export function slotWord(slot: number, field: number): number {
  return Ctl.threadSlots + slot * SLOT_WORDS + field;
}

/** Word indexes of the control block. */
export const Ctl = {
  version: 0,
  /** Current generation; 0 while the tracer is stopped. Writers compare it on every event. */
  generation: 1,
  /** 1 while the tracer runs. */
  running: 2,
  poolLock: 3,
  /** Entries in the free-chunk stack. */
  freeCount: 4,
  /** Chunks carved from the pool buffer so far. */
  chunkCount: 5,
  /** Soft limit on chunks in use; allocation fails past it and writers drop events. */
  chunkLimit: 6,
  nextTaskId: 7,
  /** Events dropped by all writers since the tracer started. */
  eventsLost: 8,
  /** Raised by a writer whose generation grew past the size limit; the main thread ends the generation. */
  advanceRequest: 9,
  /** Bytes written into the current generation by all threads, in units of whole chunks. */
  generationChunks: 10,
  /** Chunks the current generation may use before writers ask for an early end. */
  generationChunkLimit: 11,
  /** The trace clock's epoch (hrtime ns) as a 64-bit integer at words 12 and 13. */
  epoch: 12,
  /** The generation worker threads write into: the current one while the threads source is on, else 0. */
  workerGeneration: 14,
  /** Always 0: the generation word of a thread that may never write (a worker that found no free slot). */
  never: 15,
  /** The oldest generation any subscriber still holds: what a snapshot from shared memory can include. */
  retainedFrom: 16,
  /** The main thread's last sign of life (trace ns, a float64 at words 18 and 19): what a stall watchdog watches. */
  heartbeat: 18,
  /** Start of the free-chunk stack. */
  freeStack: 32,
  /** Start of the per-chunk "newest generation with a batch in this chunk" table. */
  chunkGeneration: 32 + MAX_CHUNKS,
  /** Start of the per-chunk state table: free, owned by a writer, or retired (full, waiting to be freed). */
  chunkState: 32 + 2 * MAX_CHUNKS,
  /** Start of the thread slots. */
  threadSlots: 32 + 3 * MAX_CHUNKS,
} as const;

export const ChunkState = { free: 0, owned: 1, retired: 2 } as const;

export const CONTROL_WORDS = Ctl.threadSlots + MAX_THREADS * SLOT_WORDS;

export const CONTROL_VERSION = 1;

/** The shared buffers, as handed to a worker. */
export interface SharedTraceMemory {
  control: SharedArrayBuffer;
  pool: SharedArrayBuffer;
}

/** The key under which the main thread hands the shared memory to every worker it creates. */
export const ENVIRONMENT_KEY = 'node-flight-recorder/shared-memory@1';

export function createSharedTraceMemory(): SharedTraceMemory {
  const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const pool = new SharedArrayBuffer(0, { maxByteLength: MAX_CHUNKS * CHUNK_BYTES });
  const words = new Int32Array(control);
  words[Ctl.version] = CONTROL_VERSION;
  words[Ctl.chunkLimit] = MAX_CHUNKS;
  words[Ctl.generationChunkLimit] = MAX_CHUNKS;
  return { control, pool };
}
