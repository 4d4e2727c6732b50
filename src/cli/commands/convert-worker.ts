/**
 * The reading thread of `nfr convert`: reads the trace file, decodes it, and runs the timeline
 * builder on it, sending the builder's calls to the converting thread as timeline commands
 * (convert-protocol.ts). Reading, decoding and placing slices take about as long as writing
 * Perfetto or Chrome JSON, so with two cores each thread does half of the work.
 */
import { readSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { isNfrError } from '../../errors/errors.js';
import { CommandWriter } from '../../export/timeline-commands.js';
import { TimelineBuilder } from '../../export/timeline.js';
import { GenerationView } from '../../reader/generation-view.js';
import { TraceDecoder, type DecodedItem } from '../../reader/trace-decoder.js';
import { DONE_WITH, STOP, type WireError, type WireMessage, type WorkerInput } from './convert-protocol.js';

/** Read size, as the CLI's other readers (cli/trace-file.ts). */
const READ_BYTES = 1 << 20;
/** How long one wait for the converting thread lasts before the stop flag is looked at again, ms. */
const WAIT_MS = 200;

const input = workerData as WorkerInput;
const control = new Int32Array(input.control);
const port = parentPort!;
let sent = 0;

function send(message: WireMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function stopped(): boolean {
  return Atomics.load(control, STOP) !== 0;
}

/** Chunk buffers given back by the converting thread. */
const spare: Uint8Array[] = [];

function chunkBuffer(): Uint8Array {
  for (let m = receiveMessageOnPort(input.returns); m !== undefined; m = receiveMessageOnPort(input.returns)) {
    const buffer = m.message as ArrayBuffer;
    if (buffer.byteLength === input.chunkBytes) spare.push(new Uint8Array(buffer));
  }
  return spare.pop() ?? new Uint8Array(input.chunkBytes);
}

/** Sends a chunk of commands, then waits while the converting thread has `window` chunks to go. */
function sendChunk(chunk: Uint8Array): void {
  send({ type: 'commands', chunk }, [chunk.buffer as ArrayBuffer]);
  sent++;
  for (;;) {
    const done = Atomics.load(control, DONE_WITH);
    if (sent - done < input.window || stopped()) return;
    Atomics.wait(control, DONE_WITH, done, WAIT_MS);
  }
}

function wireError(err: unknown): WireError {
  const e = err as { code?: unknown; message?: unknown; offset?: unknown } | null;
  return {
    nfr: isNfrError(err),
    code: typeof e?.code === 'string' ? e.code : undefined,
    message: typeof e?.message === 'string' ? e.message : String(err),
    offset: typeof e?.offset === 'number' ? e.offset : undefined,
  };
}

/**
 * Read buffers. The decoder keeps views into a buffer until the generations with batches in it
 * are out, so a buffer is reused only once every generation decoded so far was converted: then
 * only the buffer read last can still hold the start of the next generation.
 */
class ReadBuffers {
  private readonly free: Uint8Array[] = [];
  private readonly inUse: Uint8Array[] = [];

  get(): Uint8Array {
    const buffer = this.free.pop() ?? new Uint8Array(READ_BYTES);
    this.inUse.push(buffer);
    return buffer;
  }

  /** All generations decoded so far are converted: every buffer but the last one read is free. */
  released(): void {
    const last = this.inUse.pop();
    for (const buffer of this.inUse) this.free.push(buffer);
    this.inUse.length = 0;
    if (last !== undefined) this.inUse.push(last);
  }
}

function run(): void {
  const writer = new CommandWriter(sendChunk, chunkBuffer);
  const builder = new TimelineBuilder(writer);
  writer.facts = builder;
  const decoder = new TraceDecoder({ allowTruncated: input.allowTruncated });
  const buffers = new ReadBuffers();
  const items: DecodedItem[] = [];
  let position = 0;
  let events = 0;
  while (!stopped()) {
    let chunk: Uint8Array;
    try {
      const buffer = buffers.get();
      chunk = buffer.subarray(0, readSync(input.fd, buffer, 0, READ_BYTES, position));
    } catch (err) {
      writer.sealNow();
      send({ type: 'failed', error: { ...wireError(err), nfr: false } });
      return;
    }
    position += chunk.length;
    let failure: unknown;
    try {
      if (chunk.length === 0) decoder.finish(items);
      else decoder.push(chunk, items);
    } catch (err) {
      failure = err;
    }
    // Events of the generations decoded before a failure are converted before it is told.
    let generations = false;
    for (const item of items) {
      if (item instanceof GenerationView) {
        // Each event is read once, right away: the reader's reused objects save one per event.
        const count = item.count;
        for (let i = 0; i < count; i++) builder.event(item.transientEvent(i));
        events += count;
        generations = true;
      } else {
        builder.event(item);
        events++;
      }
    }
    items.length = 0;
    if (generations) buffers.released();
    if (failure !== undefined) {
      writer.sealNow();
      send({ type: 'failed', error: wireError(failure) });
      return;
    }
    if (chunk.length === 0) {
      builder.finish();
      send({ type: 'done', events });
      return;
    }
  }
}

run();
