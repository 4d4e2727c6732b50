import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { NfrError } from '../errors/errors.js';
import { BATCH_FLAG_SEALED, BatchField } from '../format/header.js';
import { BATCH_HEADER_BYTES } from '../format/limits.js';
import type { ChunkPool } from '../tracer/chunk-pool.js';
import type { Generation } from '../tracer/hub.js';

/**
 * A destination for trace bytes: any Node writable stream (a file, a socket, an HTTP response,
 * a PassThrough), or any object with a stream-like `write(chunk, callback)`.
 */
export interface Destination {
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  once?(event: 'drain' | 'error' | 'close', listener: (...args: unknown[]) => void): unknown;
  off?(event: 'drain' | 'error' | 'close', listener: (...args: unknown[]) => void): unknown;
}

export function checkDestination(dest: unknown, what: string): asserts dest is Destination {
  if (dest === null || typeof dest !== 'object' || typeof (dest as Destination).write !== 'function') {
    throw new NfrError('ERR_INVALID_DESTINATION', `${what} needs a writable stream (an object with write(chunk, callback)), got ${dest === null ? 'null' : typeof dest}`);
  }
}

/** Output chunks are at most this big: big enough for few writes, small enough to copy between yields. */
const OUT_CHUNK_BYTES = 256 * 1024;

/** Work done between yields to the event loop, so a snapshot never holds the loop for long. */
const SLICE_MS = 1;

/**
 * Writes bytes to a destination in order, honouring backpressure, and counts what the
 * destination accepted. Rejects with the destination's own error.
 */
export class DestinationWriter {
  /** Bytes whose write callback reported success. */
  written = 0;
  private failure: Error | undefined;
  private unconfirmed = 0;
  /** Resolves whoever waits (for 'drain', or for the last callback); one waiter at a time. */
  private wake: (() => void) | undefined;
  private sliceStart = performance.now();
  private readonly onError = (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err)));
  private readonly onDrain = () => this.wakeUp();

  constructor(private readonly dest: Destination) {
    dest.once?.('error', this.onError);
  }

  /** Queues `chunk`; resolves when the destination can take more, rejects on its error. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.unconfirmed++;
    let ready: boolean;
    try {
      ready = this.dest.write(chunk, (err) => {
        this.unconfirmed--;
        if (err) this.fail(err);
        else this.written += chunk.length;
        if (this.unconfirmed === 0) this.wakeUp();
      });
    } catch (err) {
      this.unconfirmed--;
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.failure) throw this.failure;
    if (ready! === false) {
      await this.waitFor('drain');
    } else if (performance.now() - this.sliceStart > SLICE_MS) {
      await yieldToLoop();
      this.sliceStart = performance.now();
    }
    if (this.failure) throw this.failure;
  }

  /** Waits until every queued chunk is confirmed; returns the bytes written. */
  async finish(): Promise<number> {
    try {
      while (this.unconfirmed > 0 && !this.failure) await this.waitFor('close');
      if (this.failure) throw this.failure;
      return this.written;
    } finally {
      this.detach();
    }
  }

  /** Stops listening to the destination. */
  detach(): void {
    this.dest.off?.('error', this.onError);
  }

  private fail(err: Error): void {
    if (this.failure === undefined) this.failure = err;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Waits for 'drain' (or 'close', a callback settling the last write, or an error). */
  private waitFor(event: 'drain' | 'close'): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.dest.off?.('drain', this.onDrain);
        this.dest.off?.('close', this.onDrain);
        resolve();
      };
      if (event === 'drain') this.dest.once?.('drain', this.onDrain);
      this.dest.once?.('close', this.onDrain);
      // Without events to wait on, the write callbacks are the only signal.
      if (event === 'drain' && this.dest.once === undefined && this.unconfirmed === 0) this.wakeUp();
    });
  }
}

/** Copies one batch out of the pool into `out` at `at`, with its final size and the sealed flag; returns the bytes copied. */
function copyBatch(pool: ChunkPool, batch: Generation['batches'][number], out: Buffer, at: number): number {
  const length = BATCH_HEADER_BYTES + batch.payloadSize;
  out.set(pool.bytes(batch.chunk).subarray(batch.offset, batch.offset + length), at);
  out[at + BatchField.flags] = BATCH_FLAG_SEALED;
  out.writeUInt32LE(batch.payloadSize, at + BatchField.payloadSize);
  return length;
}

/** The trace header and `generations`, copied out of the pool into one buffer, synchronously. */
export function generationsToBuffer(pool: ChunkPool, header: Uint8Array, generations: readonly Generation[]): Buffer {
  let total = header.length;
  for (const g of generations) total += g.bytes;
  const out = Buffer.allocUnsafe(total);
  out.set(header, 0);
  let at = header.length;
  for (const g of generations) for (const batch of g.batches) at += copyBatch(pool, batch, out, at);
  return out.subarray(0, at);
}

/**
 * Copies the batches of `generations` out of the pool into chunks of at most OUT_CHUNK_BYTES and
 * writes them. Every batch gets its final size and the sealed flag in the copy: the pool's
 * header of a batch taken while still open may have moved on since.
 */
export async function writeGenerations(out: DestinationWriter, pool: ChunkPool, generations: readonly Generation[]): Promise<void> {
  let chunk = Buffer.allocUnsafe(OUT_CHUNK_BYTES);
  let used = 0;
  for (const generation of generations) {
    for (const batch of generation.batches) {
      const length = BATCH_HEADER_BYTES + batch.payloadSize;
      if (used + length > chunk.length) {
        if (used > 0) await out.write(chunk.subarray(0, used));
        chunk = Buffer.allocUnsafe(Math.max(OUT_CHUNK_BYTES, length));
        used = 0;
      }
      used += copyBatch(pool, batch, chunk, used);
    }
  }
  if (used > 0) await out.write(chunk.subarray(0, used));
}
