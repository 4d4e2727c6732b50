import type { BatchRef } from './batch-writer.js';
import type { ChunkPool } from './chunk-pool.js';
import { openBatchAt, scanSealedBatches } from './pool-scan.js';
import { MAX_THREADS, Slot, SlotState, slotWord } from './shared-state.js';

/**
 * Worker threads' claims in the control block. A worker claims a slot when it joins; the thread
 * that created it marks the slot exited when it exits; the main thread takes the batches of
 * every slot at each generation end and frees the slots of exited workers.
 */

/** Claims a free slot for `threadId`; -1 when all are taken (that worker then records nothing). */
export function claimSlot(words: Int32Array, threadId: number): number {
  for (let slot = 0; slot < MAX_THREADS; slot++) {
    if (Atomics.compareExchange(words, slotWord(slot, Slot.state), SlotState.free, SlotState.active) !== SlotState.free) continue;
    Atomics.store(words, slotWord(slot, Slot.threadId), threadId);
    Atomics.store(words, slotWord(slot, Slot.events), -1);
    Atomics.store(words, slotWord(slot, Slot.tables), -1);
    return slot;
  }
  return -1;
}

/** Marks the slot of an exited worker; its batches are collected at the next generation end. */
export function markExited(words: Int32Array, threadId: number): void {
  for (let slot = 0; slot < MAX_THREADS; slot++) {
    if (Atomics.load(words, slotWord(slot, Slot.state)) !== SlotState.active) continue;
    if (Atomics.load(words, slotWord(slot, Slot.threadId)) !== threadId) continue;
    Atomics.compareExchange(words, slotWord(slot, Slot.state), SlotState.active, SlotState.exited);
    return;
  }
}

/** Active and exited slots, for status. */
export function countSlots(words: Int32Array): { active: number; exited: number } {
  let active = 0;
  let exited = 0;
  for (let slot = 0; slot < MAX_THREADS; slot++) {
    const state = Atomics.load(words, slotWord(slot, Slot.state));
    if (state === SlotState.active) active++;
    else if (state === SlotState.exited) exited++;
  }
  return { active, exited };
}

/**
 * Every worker batch of `generation`: the ones the workers filled and sealed, found by scanning
 * the pool, and the ones still open, taken at their committed size. A batch sealed while we
 * looked counts once, sealed. Then frees the slots of exited workers and retires their chunks.
 */
export function collectWorkerBatches(pool: ChunkPool, generation: number, mainThread: number): BatchRef[] {
  const words = pool.words;
  const taken = new Map<number, BatchRef>();
  const key = (ref: BatchRef) => ref.chunk * 65536 + ref.offset;
  const exited: number[] = [];
  for (let slot = 0; slot < MAX_THREADS; slot++) {
    const state = Atomics.load(words, slotWord(slot, Slot.state));
    if (state === SlotState.free) continue;
    if (state === SlotState.exited) exited.push(slot);
    for (const field of [Slot.events, Slot.tables]) {
      const open = openBatchAt(pool, Atomics.load(words, slotWord(slot, field)), generation);
      if (open !== undefined) taken.set(key(open), open);
    }
  }
  for (const sealed of scanSealedBatches(pool, generation, mainThread)) taken.set(key(sealed), sealed);
  for (const slot of exited) {
    for (const field of [Slot.events, Slot.tables]) {
      const position = Atomics.load(words, slotWord(slot, field));
      if (position >= 0) pool.retire(position >>> 16);
      Atomics.store(words, slotWord(slot, field), -1);
    }
    Atomics.store(words, slotWord(slot, Slot.state), SlotState.free);
  }
  return [...taken.values()];
}
