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

/** A batch found by a scan, and whether it was sealed (its size final) when read. */
interface Found extends BatchRef {
  sealed: boolean;
}

/** The batch header at (chunk, offset) as it is now; undefined when there is none. */
function readBatch(pool: ChunkPool, chunk: number, offset: number): Found | undefined {
  const words = pool.int32(chunk);
  const w = offset >> 2;
  const first = Atomics.load(words, w);
  const kind = first & 0xff;
  if (kind === 0) return undefined;
  const sealed = ((first >>> 8) & BATCH_FLAG_SEALED) !== 0;
  // The size after the kind: a writer publishes the header's other words before its kind.
  const payloadSize = Atomics.load(words, (offset + BatchField.payloadSize) >> 2) & ~SIZE_FROZEN;
  return { chunk, offset, payloadSize, kind, sealed, thread: Atomics.load(words, w + 1) >>> 0, generation: Atomics.load(words, w + 2), sequence: Atomics.load(words, w + 6) >>> 0 };
}

/**
 * Every non-empty batch of generations [from, to] whose kind `wanted` accepts, committed parts
 * of open ones included.
 */
function scanGenerations(pool: ChunkPool, from: number, to: number, wanted: (kind: number) => boolean): Found[] {
  const found: Found[] = [];
  const control = pool.words;
  const count = Atomics.load(control, Ctl.chunkCount);
  for (let chunk = 0; chunk < count; chunk++) {
    if (Atomics.load(control, Ctl.chunkState + chunk) === ChunkState.free) continue;
    if (Atomics.load(control, Ctl.chunkGeneration + chunk) < from) continue;
    let offset = 0;
    while (offset + BATCH_HEADER_BYTES <= CHUNK_BYTES) {
      const batch = readBatch(pool, chunk, offset);
      if (batch === undefined) break;
      if (batch.generation >= from && batch.generation <= to && batch.payloadSize > 0 && wanted(batch.kind)) found.push(batch);
      // An open batch is the last of its chunk: its writer appends nothing after it.
      if (!batch.sealed) break;
      offset = (offset + BATCH_HEADER_BYTES + batch.payloadSize + 7) & ~7;
    }
  }
  return found;
}

/** Key of a thread's run of batches of one kind in one generation. */
function runKey(b: BatchRef): string {
  return `${b.generation}:${b.thread}:${b.kind}`;
}

function byRun(found: readonly Found[]): Map<string, Found[]> {
  const runs = new Map<string, Found[]>();
  for (const b of found) {
    const key = runKey(b);
    let run = runs.get(key);
    if (run === undefined) {
      run = [];
      runs.set(key, run);
    }
    run.push(b);
  }
  for (const run of runs.values()) run.sort((a, b) => a.sequence - b.sequence);
  return runs;
}

/**
 * Makes each thread's run of batches of a kind a whole prefix of what it wrote, while other
 * threads go on writing during the scan:
 *
 * - a batch read while open, behind which a later batch of the same run was found, was sealed
 *   in between at its final size: it is read again;
 * - a batch missing in the middle of a run (opened in a chunk the scan had passed, filled and
 *   sealed before the scan reached the next one) is sealed by now: one more scan finds it.
 *   If it still is not found, the run is cut before the gap, and, for a table run, the
 *   thread's events of that generation are left out, since they may use what the gap defined.
 */
function completeRuns(pool: ChunkPool, from: number, to: number, found: Found[]): Found[] {
  let runs = byRun(found);
  const missing = new Set<string>();
  for (const run of runs.values()) {
    for (let i = 0; i < run.length; i++) {
      if (run[i].sequence !== i) {
        for (let s = i; s < run[run.length - 1].sequence; s++) missing.add(`${runKey(run[0])}:${s}`);
        break;
      }
    }
  }
  if (missing.size > 0) {
    const extra = scanGenerations(pool, from, to, () => true).filter((b) => missing.has(`${runKey(b)}:${b.sequence}`));
    runs = byRun([...found, ...extra]);
  }
  const out: Found[] = [];
  const eventsDropped = new Set<string>();
  for (const run of runs.values()) {
    let kept = 0;
    while (kept < run.length && run[kept].sequence === kept) kept++;
    if (kept < run.length && run[0].kind === BatchKind.tables) eventsDropped.add(`${run[0].generation}:${run[0].thread}`);
    for (let i = 0; i < kept; i++) {
      let b = run[i];
      if (!b.sealed && i < kept - 1) b = readBatch(pool, b.chunk, b.offset) ?? b;
      out.push(b);
    }
  }
  if (eventsDropped.size === 0) return out;
  return out.filter((b) => b.kind !== BatchKind.events || !eventsDropped.has(`${b.generation}:${b.thread}`));
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
 *
 * Made for a blocked main thread, whose batches then stand still. Workers may write during the
 * scan: see the order of the reads below and `completeRuns`. The main thread's own writes are
 * plain stores (no atomics, for speed), so while it runs, a weakly ordered CPU (ARM) could let
 * another thread see a batch's new size before its bytes; a main thread blocked for the
 * watchdog's threshold has long since made them visible.
 */
export function snapshotSharedMemory(pool: ChunkPool): Uint8Array | undefined {
  const control = pool.words;
  const current = Atomics.load(control, Ctl.generation);
  if (current === 0) return undefined;
  const from = Math.max(1, Math.min(current, Atomics.load(control, Ctl.retainedFrom) || current));
  // Events first, then tables: a writer defines a string or stack before the event that uses
  // it, so tables read after the events define everything those events refer to (each batch's
  // size is read once, and a batch holds what was committed up to that size).
  const events = scanGenerations(pool, from, current, (kind) => kind !== BatchKind.tables);
  const tables = scanGenerations(pool, from, current, (kind) => kind === BatchKind.tables);
  const byGeneration = new Map<number, BatchRef[]>();
  for (const ref of completeRuns(pool, from, current, [...events, ...tables])) {
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
  // Laid out first, then copied once, straight from the pool into the output.
  const plan: { generation: number; batches: BatchRef[]; end: Uint8Array }[] = [];
  const header = encodeHeader();
  let total = header.length;
  for (let generation = first; generation <= current; generation++) {
    const batches = byGeneration.get(generation) ?? [];
    const sync = batches.find((b) => b.kind === BatchKind.sync);
    if (sync === undefined) continue;
    const originalEnd = batches.find((b) => b.kind === BatchKind.endOfGeneration);
    const body = batches.filter((b) => b.kind === BatchKind.tables || b.kind === BatchKind.events).sort(sortBody);
    const ordered = [sync, ...body];
    const ended = originalEnd !== undefined ? readEnd(pool, originalEnd) : undefined;
    const end = endBatch(generation, sync.thread, ended?.clock ?? clockSnapshot(), ordered.length, ended?.lost ?? 0);
    for (const batch of ordered) total += BATCH_HEADER_BYTES + batch.payloadSize;
    total += end.length;
    plan.push({ generation, batches: ordered, end });
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(header, 0);
  let at = header.length;
  const startOf: number[] = [];
  for (const { batches, end } of plan) {
    startOf.push(at);
    for (const batch of batches) {
      const length = BATCH_HEADER_BYTES + batch.payloadSize;
      out.set(pool.bytes(batch.chunk).subarray(batch.offset, batch.offset + length), at);
      // Whole, as far as it was read: sealed, with the size read (an open one grew since).
      out[at + BatchField.flags] = BATCH_FLAG_SEALED;
      view.setUint32(at + BatchField.payloadSize, batch.payloadSize, true);
      at += length;
    }
    out.set(end, at);
    at += end.length;
  }
  // While the main thread runs, the oldest generations may have been let go (and their chunks
  // reused) during the copy; they were let go before `retainedFrom` moved, so it tells which:
  // they are dropped, which keeps a run of whole generations that ends with the current one.
  const retained = Atomics.load(control, Ctl.retainedFrom);
  const kept = plan.findIndex((g) => g.generation >= retained);
  if (kept === 0 || plan.length === 0) return out;
  if (kept < 0) return undefined; // all let go: the tracer moved on (or stopped) meanwhile
  const rest = out.subarray(startOf[kept]);
  const trimmed = new Uint8Array(header.length + rest.length);
  trimmed.set(header, 0);
  trimmed.set(rest, header.length);
  return trimmed;
}
