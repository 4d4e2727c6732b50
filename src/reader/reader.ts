import { NfrError } from '../errors/errors.js';
import type { TraceEvent } from './events.js';
import { TraceDecoder, type ReaderOptions } from './trace-decoder.js';

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

  *[Symbol.iterator](): Iterator<TraceEvent> {
    const decoder = new TraceDecoder(this.options);
    // Feed a batch-sized slice at a time, so events flow before the whole input is decoded.
    const step = 1 << 20;
    const out: TraceEvent[] = [];
    for (let at = 0; at < this.bytes.length; at += step) {
      decoder.push(this.bytes.subarray(at, Math.min(this.bytes.length, at + step)), out);
      yield* drain(out);
    }
    decoder.finish(out);
    yield* drain(out);
  }
}

function* drain(out: TraceEvent[]): Generator<TraceEvent> {
  for (let i = 0; i < out.length; i++) yield out[i];
  out.length = 0;
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
export async function* readTrace(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: ReaderOptions = {}): AsyncGenerator<TraceEvent> {
  if (source === null || typeof source !== 'object' || (typeof (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function' && typeof (source as Iterable<Uint8Array>)[Symbol.iterator] !== 'function')) {
    throw new NfrError('ERR_INVALID_ARGUMENT', 'readTrace needs a readable stream or an (async) iterable of Uint8Array chunks');
  }
  const decoder = new TraceDecoder(options);
  const out: TraceEvent[] = [];
  for await (const chunk of source) {
    decoder.push(typeof chunk === 'string' ? invalidChunk() : chunk, out);
    yield* drain(out);
  }
  decoder.finish(out);
  yield* drain(out);
}

function invalidChunk(): never {
  throw new NfrError('ERR_INVALID_ARGUMENT', 'readTrace got a string chunk; open the stream without an encoding');
}
