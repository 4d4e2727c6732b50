import { BATCH_FLAG_SEALED, BatchField } from '../format/header.js';
import { BATCH_HEADER_BYTES } from '../format/limits.js';
import type { BatchRef } from './batch-writer.js';
import type { ChunkPool } from './chunk-pool.js';
import { CHUNK_BYTES, ChunkState, Ctl, SIZE_FROZEN } from './shared-state.js';

/**
 * Finding batches in shared memory without the help of the threads that wrote them: every
 * chunk is a run of batches from offset 0, each header saying its kind, thread, generation and
 * size, ended by a zero word. A worker's full batches are found this way when its generation
 * ends; a watchdog thread can find a blocked thread's batches the same way.
 */

function refAt(words: Int32Array, chunk: number, offset: number, payloadSize: number, kind: number): BatchRef {
  const w = offset >> 2;
  return {
    chunk,
    offset,
    payloadSize,
    kind,
    thread: words[w + 1] >>> 0,
    generation: words[w + 2],
    sequence: words[w + 6] >>> 0,
  };
}

/** Sealed batches of `generation` by threads other than `exceptThread`. */
export function scanSealedBatches(pool: ChunkPool, generation: number, exceptThread: number): BatchRef[] {
  const found: BatchRef[] = [];
  const control = pool.words;
  const count = Atomics.load(control, Ctl.chunkCount);
  for (let chunk = 0; chunk < count; chunk++) {
    if (Atomics.load(control, Ctl.chunkState + chunk) === ChunkState.free) continue;
    if (Atomics.load(control, Ctl.chunkGeneration + chunk) < generation) continue;
    const words = pool.int32(chunk);
    let offset = 0;
    while (offset + BATCH_HEADER_BYTES <= CHUNK_BYTES) {
      const first = Atomics.load(words, offset >> 2);
      const kind = first & 0xff;
      if (kind === 0) break;
      const sealed = ((first >>> 8) & 0xff & BATCH_FLAG_SEALED) !== 0;
      const thread = words[(offset >> 2) + 1] >>> 0;
      const size = words[(offset + BatchField.payloadSize) >> 2] & ~SIZE_FROZEN;
      // An open batch of another thread is the last in its chunk, and its size is still moving.
      if (!sealed && thread !== exceptThread) break;
      if (sealed && thread !== exceptThread && words[(offset >> 2) + 2] === generation && size > 0) {
        found.push(refAt(words, chunk, offset, size, kind));
      }
      offset = (offset + BATCH_HEADER_BYTES + size + 7) & ~7;
    }
  }
  return found;
}

/**
 * Takes the batch a worker published as open at `position` (chunk << 16 | offset), if it belongs
 * to `generation`, at the size committed so far. Undefined when there is none or it is empty.
 */
export function openBatchAt(pool: ChunkPool, position: number, generation: number): BatchRef | undefined {
  if (position < 0) return undefined;
  const chunk = position >>> 16;
  const offset = position & 0xffff;
  const words = pool.int32(chunk);
  const first = Atomics.load(words, offset >> 2);
  if ((first & 0xff) === 0 || ((first >>> 8) & BATCH_FLAG_SEALED) !== 0) return undefined;
  if (Atomics.load(words, (offset >> 2) + 2) !== generation) return undefined;
  // Freezing the size word ends the batch here: the worker's next commit fails and goes to the next generation.
  const size = Atomics.or(words, (offset + BatchField.payloadSize) >> 2, SIZE_FROZEN) & ~SIZE_FROZEN;
  return size > 0 ? refAt(words, chunk, offset, size, first & 0xff) : undefined;
}
