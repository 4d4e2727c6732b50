import { BatchKind, EVENTS } from '../format/events.js';
import { BATCH_FLAG_SEALED, BatchField, encodeHeader, writeBatchHeader } from '../format/header.js';
import { BATCH_HEADER_BYTES, MAX_VARINT_BYTES } from '../format/limits.js';
import { putUvarint, readUvarint, varintResult } from '../format/varint.js';
import type { BatchRef } from './batch-writer.js';
import type { ChunkPool } from './chunk-pool.js';
import { clockSnapshot, type ClockSnapshot } from './clock.js';
import { CHUNK_BYTES, ChunkState, Ctl, SIZE_FROZEN } from './shared-state.js';

/**
 * A snapshot made from shared memory alone, by any thread, without the main thread's help:
 * what a stall watchdog writes while the main thread is blocked. It holds every generation the
 * recorders still retain, up to the one being written now, whose open batches are taken as far
 * as they are committed (the blocked thread is not writing; workers' batches are read up to
 * their last whole event). Each generation gets an end-of-generation batch made here, counting
 * the batches found, with the clock of the original end where there was one.
 */

const KIND_ORDER: Record<number, number> = { [BatchKind.sync]: 0, [BatchKind.tables]: 1, [BatchKind.events]: 2 };

function sortBody(a: BatchRef, b: BatchRef): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.thread - b.thread || a.sequence - b.sequence;
}

/** Every non-empty batch of generations [from, to] in the pool, committed parts of open ones included. */
function scanGenerations(pool: ChunkPool, from: number, to: number): BatchRef[] {
  const found: BatchRef[] = [];
  const control = pool.words;
  const count = Atomics.load(control, Ctl.chunkCount);
  for (let chunk = 0; chunk < count; chunk++) {
    if (Atomics.load(control, Ctl.chunkState + chunk) === ChunkState.free) continue;
    if (Atomics.load(control, Ctl.chunkGeneration + chunk) < from) continue;
    const words = pool.int32(chunk);
    let offset = 0;
    while (offset + BATCH_HEADER_BYTES <= CHUNK_BYTES) {
      const w = offset >> 2;
      const first = Atomics.load(words, w);
      const kind = first & 0xff;
      if (kind === 0) break;
      const sealed = ((first >>> 8) & BATCH_FLAG_SEALED) !== 0;
      const generation = Atomics.load(words, w + 2);
      const size = Atomics.load(words, (offset + BatchField.payloadSize) >> 2) & ~SIZE_FROZEN;
      if (generation >= from && generation <= to && size > 0) {
        found.push({ chunk, offset, payloadSize: size, kind, thread: words[w + 1] >>> 0, generation, sequence: words[w + 6] >>> 0 });
      }
      // An open batch is the last of its chunk: its writer appends nothing after it.
      if (!sealed) break;
      offset = (offset + BATCH_HEADER_BYTES + size + 7) & ~7;
    }
  }
  return found;
}

/** The clock and lost-event count of an end-of-generation batch. */
function readEnd(pool: ChunkPool, batch: BatchRef): { clock: ClockSnapshot; lost: number } | undefined {
  const bytes = pool.bytes(batch.chunk);
  let p = batch.offset + BATCH_HEADER_BYTES;
  const end = p + batch.payloadSize;
  if (bytes[p++] !== EVENTS.endOfGeneration.code) return undefined;
  const values: number[] = [];
  for (let i = 0; i < 7; i++) {
    p = readUvarint(bytes, p, end);
    if (p < 0) return undefined;
    values.push(varintResult.value);
  }
  const [trace, monoSec, monoNsec, wallSec, wallNsec, , lost] = values;
  return { clock: { trace, monoSec, monoNsec, wallSec, wallNsec }, lost };
}

function endBatch(generation: number, thread: number, clock: ClockSnapshot, batches: number, lost: number): Uint8Array {
  const out = new Uint8Array(BATCH_HEADER_BYTES + 1 + 7 * MAX_VARINT_BYTES);
  let p = BATCH_HEADER_BYTES;
  out[p++] = EVENTS.endOfGeneration.code;
  for (const value of [clock.trace, clock.monoSec, clock.monoNsec, clock.wallSec, clock.wallNsec, batches, lost]) p = putUvarint(out, p, value);
  writeBatchHeader(new DataView(out.buffer), 0, { kind: BatchKind.endOfGeneration, flags: BATCH_FLAG_SEALED, thread, generation, payloadSize: p - BATCH_HEADER_BYTES, baseTime: clock.trace, sequence: 0 });
  return out.subarray(0, p);
}

/**
 * A whole trace of what shared memory holds now: every retained generation up to the current
 * one. Undefined when the tracer is not running. Safe to call from any thread; it only reads.
 */
export function snapshotSharedMemory(pool: ChunkPool): Uint8Array | undefined {
  const control = pool.words;
  const current = Atomics.load(control, Ctl.generation);
  if (current === 0) return undefined;
  const from = Math.max(1, Math.min(current, Atomics.load(control, Ctl.retainedFrom) || current));
  const byGeneration = new Map<number, BatchRef[]>();
  for (const ref of scanGenerations(pool, from, current)) {
    let list = byGeneration.get(ref.generation);
    if (list === undefined) {
      list = [];
      byGeneration.set(ref.generation, list);
    }
    list.push(ref);
  }
  // Generations must follow each other: keep the run that ends with the current one.
  let first = current;
  while (first - 1 >= from && byGeneration.get(first - 1)?.some((b) => b.kind === BatchKind.sync)) first--;
  const parts: Uint8Array[] = [encodeHeader()];
  let total = parts[0].length;
  for (let generation = first; generation <= current; generation++) {
    const batches = byGeneration.get(generation) ?? [];
    const sync = batches.find((b) => b.kind === BatchKind.sync);
    if (sync === undefined) continue;
    const originalEnd = batches.find((b) => b.kind === BatchKind.endOfGeneration);
    const body = batches.filter((b) => b.kind === BatchKind.tables || b.kind === BatchKind.events).sort(sortBody);
    const ordered = [sync, ...body];
    for (const batch of ordered) {
      const length = BATCH_HEADER_BYTES + batch.payloadSize;
      const copy = pool.bytes(batch.chunk).slice(batch.offset, batch.offset + length);
      copy[BatchField.flags] = BATCH_FLAG_SEALED;
      new DataView(copy.buffer).setUint32(BatchField.payloadSize, batch.payloadSize, true);
      parts.push(copy);
      total += copy.length;
    }
    const ended = originalEnd !== undefined ? readEnd(pool, originalEnd) : undefined;
    const end = endBatch(generation, sync.thread, ended?.clock ?? clockSnapshot(), ordered.length, ended?.lost ?? 0);
    parts.push(end);
    total += end.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
