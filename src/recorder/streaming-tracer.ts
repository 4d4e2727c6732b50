import { BatchKind, EVENTS } from '../format/events.js';
import { encodeHeader, writeBatchHeader } from '../format/header.js';
import { BATCH_HEADER_BYTES, MAX_VARINT_BYTES } from '../format/limits.js';
import { putUvarint } from '../format/varint.js';
import type { Generation, Subscriber } from '../tracer/hub.js';
import { tracerHub } from '../tracer/runtime.js';
import { checkDestination, DestinationWriter, writeGenerations, type Destination } from './destination.js';
import { resolveSources, type RecordingOptions } from '../tracer/sources.js';
import { checkedLater, checkOptions, positiveInteger, positiveNumber } from './options.js';

/** Options of a streaming trace (`trace.start`). */
export interface StreamingTraceOptions extends RecordingOptions {
  /** Generation period in ms (default 1000). */
  period?: number;
  /**
   * Most bytes of finished generations waiting for a slow destination (default 64 MiB). Past it,
   * whole generations are dropped, and the trace records how many and how big.
   */
  maxPendingBytes?: number;
}

/** What a streaming trace reports. */
export interface StreamingTraceStatus {
  generationsWritten: number;
  generationsDropped: number;
  bytesDropped: number;
  pendingBytes: number;
  error: Error | undefined;
}

interface Loss {
  first: number;
  count: number;
  bytes: number;
}

const DEFAULT_PERIOD_MS = 1000;
const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * Streams every generation to a destination as it ends. A slow destination never makes memory
 * grow without bound: past `maxPendingBytes` of unwritten generations, newly finished ones are
 * dropped whole and a loss batch in the stream says which.
 */
export class StreamingTracer {
  private readonly out: DestinationWriter;
  private readonly maxPendingBytes: number;
  private readonly subscriber: Subscriber;
  private queue: { generation: Generation; lossBefore: Loss | undefined }[] = [];
  private pendingBytes = 0;
  private loss: Loss | undefined;
  private pumping: Promise<void> | undefined;
  private failure: Error | undefined;
  private subscribed = false;
  private written = 0;
  private dropped = 0;
  private droppedBytes = 0;

  constructor(dest: Destination | NodeJS.WritableStream, options?: StreamingTraceOptions) {
    checkDestination(dest, 'trace.start');
    const o = checkOptions<StreamingTraceOptions>('trace.start', options, { period: positiveNumber, maxPendingBytes: positiveInteger, level: checkedLater, sources: checkedLater });
    const sources = resolveSources('trace.start', o);
    this.maxPendingBytes = o.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.out = new DestinationWriter(dest);
    this.subscriber = {
      demand: {
        period: o.period ?? DEFAULT_PERIOD_MS,
        generationBytes: Math.max(256 * 1024, this.maxPendingBytes / 8),
        retainedBytes: this.maxPendingBytes,
        sources,
      },
      onGeneration: (g) => this.enqueue(g),
      oldestRetained: () => (this.queue.length > 0 ? this.queue[0].generation.number : Infinity),
    };
  }

  start(): void {
    this.kick(() => this.out.write(encodeHeader()));
    tracerHub('trace.start').subscribe(this.subscriber);
    this.subscribed = true;
  }

  /** Ends the last generation, waits until everything is written, and reports a destination error. */
  async stop(): Promise<void> {
    this.unsubscribe();
    while (this.pumping !== undefined) await this.pumping;
    if (this.loss !== undefined && this.failure === undefined) {
      const loss = this.loss;
      this.loss = undefined;
      await this.out.write(lossBatch(loss)).catch(() => undefined);
    }
    await this.out.finish().catch((err: Error) => {
      this.failure ??= err;
    });
    if (this.failure !== undefined) throw this.failure;
  }

  status(): StreamingTraceStatus {
    return {
      generationsWritten: this.written,
      generationsDropped: this.dropped,
      bytesDropped: this.droppedBytes,
      pendingBytes: this.pendingBytes,
      error: this.failure,
    };
  }

  private unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    tracerHub('trace.start').unsubscribe(this.subscriber);
  }

  private enqueue(generation: Generation): void {
    if (this.failure !== undefined) return;
    if (this.queue.length > 0 && this.pendingBytes + generation.bytes > this.maxPendingBytes) {
      this.dropped++;
      this.droppedBytes += generation.bytes;
      if (this.loss === undefined) this.loss = { first: generation.number, count: 0, bytes: 0 };
      this.loss.count++;
      this.loss.bytes += generation.bytes;
      return;
    }
    this.queue.push({ generation, lossBefore: this.loss });
    this.loss = undefined;
    this.pendingBytes += generation.bytes;
    this.kick(() => this.drainQueue());
  }

  private async drainQueue(): Promise<void> {
    const hub = tracerHub('trace.start');
    while (this.queue.length > 0) {
      const { generation, lossBefore } = this.queue[0];
      if (lossBefore !== undefined) await this.out.write(lossBatch(lossBefore));
      await writeGenerations(this.out, hub.pool, [generation]);
      this.queue.shift();
      this.pendingBytes -= generation.bytes;
      this.written++;
    }
  }

  /** Runs `work` after whatever is being written; a failure stops the trace and is kept for stop(). */
  private kick(work: () => Promise<void>): void {
    const previous = this.pumping ?? Promise.resolve();
    const next = previous
      .then(() => (this.failure === undefined ? work() : undefined))
      .catch((err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        this.queue = [];
        this.pendingBytes = 0;
        this.unsubscribe();
      })
      .finally(() => {
        if (this.pumping === next) this.pumping = undefined;
      });
    this.pumping = next;
  }
}

/** A loss batch: it tells the reader which generations are missing between the ones around it. */
function lossBatch(loss: Loss): Uint8Array {
  const batch = new Uint8Array(BATCH_HEADER_BYTES + 1 + 3 * MAX_VARINT_BYTES);
  let p = BATCH_HEADER_BYTES;
  batch[p++] = EVENTS.generationsLost.code;
  p = putUvarint(batch, p, loss.first);
  p = putUvarint(batch, p, loss.count);
  p = putUvarint(batch, p, loss.bytes);
  writeBatchHeader(new DataView(batch.buffer), 0, {
    kind: BatchKind.loss,
    flags: 1,
    thread: 0,
    generation: loss.first,
    payloadSize: p - BATCH_HEADER_BYTES,
    baseTime: 0,
    sequence: 0,
  });
  return batch.subarray(0, p);
}
