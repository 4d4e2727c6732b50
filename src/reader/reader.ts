import { NfrError } from '../errors/errors.js';
import type { TraceEvent } from './events.js';
import { GenerationView } from './generation-view.js';
import { TraceDecoder, type DecodedItem, type ReaderOptions } from './trace-decoder.js';

/** How much of an in-memory trace is decoded at a time. */
const STEP_BYTES = 1 << 20;

/**
 * Reads a whole trace held in memory. Iterating yields every event in time order across
 * threads, each generation starting with its sync event and the trace ending with a final one.
 * Iteration throws an `NfrError` (with `offset`) on corrupt or truncated input, after yielding
 * every complete generation before the problem.
 *
 * @example
 * ```ts
 * for (const ev of new Reader(fs.readFileSync('trace.nfrt'))) {
 *   if (ev.kind === 'log') console.log(ev.time, ev.category, ev.message);
 * }
 * ```
 */
export class Reader implements Iterable<TraceEvent> {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: ReaderOptions = {},
  ) {
    if (!(bytes instanceof Uint8Array)) {
      throw new NfrError('ERR_INVALID_ARGUMENT', `Reader needs a Uint8Array (a Buffer), got ${bytes === null ? 'null' : typeof bytes}`);
    }
  }

  [Symbol.iterator](): Iterator<TraceEvent> {
    return new EventIterator(this.bytes, new TraceDecoder(this.options));
  }
}

/** Hands out events one at a time from decoded items, decoding the next slice when they run out. */
class EventIterator implements Iterator<TraceEvent> {
  private readonly items: DecodedItem[] = [];
  private item = 0;
  private view: GenerationView | undefined;
  private viewIndex = 0;
  private at = 0;
  private finished = false;
  /** An error met while decoding, thrown once the events decoded before it are handed out. */
  private failure: unknown;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly decoder: TraceDecoder,
  ) {}

  next(): IteratorResult<TraceEvent> {
    for (;;) {
      const view = this.view;
      if (view !== undefined) {
        if (this.viewIndex < view.count) return { value: view.event(this.viewIndex++), done: false };
        this.view = undefined;
      }
      if (this.item < this.items.length) {
        const item = this.items[this.item++];
        if (item instanceof GenerationView) {
          this.view = item;
          this.viewIndex = 0;
          continue;
        }
        return { value: item, done: false };
      }
      this.items.length = 0;
      this.item = 0;
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        this.finished = true;
        this.at = this.bytes.length;
        throw failure;
      }
      try {
        if (this.at < this.bytes.length) {
          const end = Math.min(this.bytes.length, this.at + STEP_BYTES);
          const slice = this.bytes.subarray(this.at, end);
          this.at = end;
          this.decoder.push(slice, this.items);
        } else if (!this.finished) {
          this.finished = true;
          this.decoder.finish(this.items);
        } else {
          return { value: undefined, done: true };
        }
      } catch (err) {
        this.failure = err;
      }
    }
  }
}

/** Calls `fn` for each event of the decoded items, in order. */
export function eachEvent(items: readonly DecodedItem[], fn: (event: TraceEvent) => void): void {
  for (const item of items) {
    if (item instanceof GenerationView) {
      for (let i = 0; i < item.count; i++) fn(item.event(i));
    } else {
      fn(item);
    }
  }
}

type Source = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function checkSource(source: Source, what: string): void {
  if (source === null || typeof source !== 'object' || (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function' && typeof (source as Iterable<Uint8Array>)[Symbol.iterator] !== 'function')) {
    throw new NfrError('ERR_INVALID_ARGUMENT', `${what} needs a readable stream or an (async) iterable of Uint8Array chunks`);
  }
}

function chunkOf(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') throw new NfrError('ERR_INVALID_ARGUMENT', 'got a string chunk; open the stream without an encoding');
  return chunk as Uint8Array;
}

/**
 * Reads a trace from a stream (a Node readable, a web ReadableStream, any async iterable of
 * byte chunks) without holding more than one generation in memory.
 *
 * @example
 * ```ts
 * for await (const ev of readTrace(fs.createReadStream('trace.nfrt'))) { ... }
 * ```
 */
export function readTrace(source: Source, options: ReaderOptions = {}): AsyncIterableIterator<TraceEvent> {
  checkSource(source, 'readTrace');
  return new StreamEventIterator(source, new TraceDecoder(options));
}

/**
 * The iterator behind {@link readTrace}. Written by hand rather than as an async generator: a
 * generator's machinery costs twice as much per event as the decoding itself.
 */
class StreamEventIterator implements AsyncIterableIterator<TraceEvent> {
  private readonly chunks: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  private readonly items: DecodedItem[] = [];
  private item = 0;
  private view: GenerationView | undefined;
  private viewIndex = 0;
  private state: 'reading' | 'failed' | 'done' = 'reading';
  private failure: unknown;

  constructor(
    source: Source,
    private readonly decoder: TraceDecoder,
  ) {
    this.chunks = Symbol.asyncIterator in source ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]() : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TraceEvent> {
    return this;
  }

  next(): Promise<IteratorResult<TraceEvent>> {
    const event = this.buffered();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    return this.refill();
  }

  async return(): Promise<IteratorResult<TraceEvent>> {
    this.state = 'done';
    this.items.length = 0;
    this.view = undefined;
    await this.chunks.return?.();
    return { value: undefined, done: true };
  }

  private buffered(): TraceEvent | undefined {
    for (;;) {
      const view = this.view;
      if (view !== undefined) {
        if (this.viewIndex < view.count) return view.event(this.viewIndex++);
        this.view = undefined;
      }
      if (this.item >= this.items.length) return undefined;
      const item = this.items[this.item++];
      if (item instanceof GenerationView) {
        this.view = item;
        this.viewIndex = 0;
      } else {
        return item;
      }
    }
  }

  private async refill(): Promise<IteratorResult<TraceEvent>> {
    for (;;) {
      this.items.length = 0;
      this.item = 0;
      if (this.state === 'failed') {
        this.state = 'done';
        throw this.failure;
      }
      if (this.state === 'done') return { value: undefined, done: true };
      try {
        const next = await this.chunks.next();
        if (next.done) {
          this.state = 'done';
          this.decoder.finish(this.items);
        } else {
          this.decoder.push(chunkOf(next.value), this.items);
        }
      } catch (err) {
        // Generations decoded before the failure are handed out before it.
        this.failure = err;
        this.state = 'failed';
      }
      const event = this.buffered();
      if (event !== undefined) return { value: event, done: false };
    }
  }
}

/**
 * Like {@link readTrace}, but calls `fn` for every event instead of yielding it: no promise per
 * event, so it reads several times faster. Resolves when the input ends.
 */
export async function forEachEvent(source: Source, fn: (event: TraceEvent) => void, options: ReaderOptions = {}): Promise<void> {
  checkSource(source, 'forEachEvent');
  const decoder = new TraceDecoder(options);
  const items: DecodedItem[] = [];
  try {
    for await (const chunk of source) {
      decoder.push(chunkOf(chunk), items);
      eachEvent(items.splice(0), fn);
    }
    decoder.finish(items);
  } finally {
    // Generations decoded before a failure are handed out before it.
    eachEvent(items.splice(0), fn);
  }
}
