import { BATCH_HEADER_BYTES } from '../../src/format/limits.js';
import { Reader } from '../../src/index.js';

/** What the load benchmark learns from a trace file: how many events of each kind, how long, and how big each generation is. */
export interface TraceFacts {
  bytes: number;
  /** Timed events (sync events excluded), by kind. */
  events: Map<string, number>;
  totalEvents: number;
  /** From the first sync to the final one, in seconds. */
  seconds: number;
  /** Bytes of each generation (its batches with their headers), in trace order. */
  generationBytes: number[];
}

export function traceFacts(bytes: Uint8Array): TraceFacts {
  const perGeneration = new Map<number, number>();
  const reader = new Reader(bytes, {
    onBatch: (batch) => perGeneration.set(batch.generation, (perGeneration.get(batch.generation) ?? 0) + BATCH_HEADER_BYTES + batch.payloadSize),
  });
  const events = new Map<string, number>();
  let totalEvents = 0;
  let first = NaN;
  let last = NaN;
  for (const event of reader) {
    if (event.kind === 'sync') {
      if (Number.isNaN(first)) first = event.time;
      last = event.time;
      continue;
    }
    events.set(event.kind, (events.get(event.kind) ?? 0) + 1);
    totalEvents++;
  }
  return { bytes: bytes.length, events, totalEvents, seconds: (last - first) / 1e9, generationBytes: [...perGeneration.values()] };
}
