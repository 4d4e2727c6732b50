/**
 * `nfr convert` on two threads: a worker (convert-worker.ts) reads and decodes the trace and runs
 * the timeline builder; this thread replays the builder's calls on the exporter's writer and
 * writes the output. The same calls with the same arguments as on one thread, so the same bytes
 * out, and the same errors.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { NfrError, type ErrorCode } from '../../errors/errors.js';
import type { Exporter } from '../../export/exporter.js';
import { CommandReplay } from '../../export/timeline-commands.js';
import { CliError } from '../errors.js';
import { fileError, traceError, type TraceFile } from '../trace-file.js';
import { DONE_WITH, STOP, type WireError, type WireMessage, type WorkerInput } from './convert-protocol.js';

/** Bytes of a chunk of commands: about a megabyte of JSON, or less of Perfetto. */
const CHUNK_BYTES = 256 << 10;
/**
 * Chunks the reading thread may send ahead (4 MB): enough that neither thread waits for the
 * other through the stretches where one is slower (decoding the next generation, say).
 */
const WINDOW = 16;

/** The CLI's one-line error for what stopped the reading thread. */
function failureOf(path: string, error: WireError): CliError {
  if (error.nfr) return traceError(path, new NfrError(error.code as ErrorCode, error.message, { offset: error.offset }));
  return fileError(path, Object.assign(new Error(error.message), { code: error.code }));
}

/**
 * Converts the trace file with `exporter`, its events read on a worker thread, and closes the
 * file. `afterChunk` is called after each chunk of calls (to hand out the output); when it
 * returns a promise, the conversion waits for it. Resolves to the number of events once the
 * exporter's writer was ended; fails with a {@link CliError} naming the file once what was read
 * before the problem is converted.
 */
export async function convertInWorker(file: TraceFile, options: { allowTruncated?: boolean }, exporter: Exporter, afterChunk: () => Promise<void> | undefined): Promise<number> {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const { port1: returns, port2: returned } = new MessageChannel();
  const input: WorkerInput = { fd: file.handle.fd, allowTruncated: options.allowTruncated === true, control: control.buffer as SharedArrayBuffer, window: WINDOW, chunkBytes: CHUNK_BYTES, returns: returned };
  const replay = new CommandReplay();
  exporter.facts = replay;
  const messages: WireMessage[] = [];
  /** Why the reading thread stopped before its last message: a bug there is a bug here too. */
  let stopped: Error | undefined;
  let wake: (() => void) | undefined;
  const worker = new Worker(new URL('./convert-worker.js', import.meta.url), { workerData: input, transferList: [returned] });
  worker.on('message', (message: WireMessage) => {
    messages.push(message);
    wake?.();
  });
  worker.on('error', (err: Error) => {
    stopped ??= err;
    wake?.();
  });
  worker.on('exit', () => {
    // Its messages, the last one included, all come before this.
    stopped ??= new CliError(`${file.path}: cannot read it: the reading thread stopped`, 1);
    wake?.();
  });
  try {
    for (;;) {
      const message = messages.shift();
      if (message === undefined) {
        if (stopped !== undefined) throw stopped;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      if (message.type === 'failed') throw failureOf(file.path, message.error);
      if (message.type === 'done') {
        if (!replay.ended) throw new CliError(`${file.path}: cannot read it: the reading thread stopped early`, 1);
        return message.events;
      }
      replay.replay(message.chunk, exporter);
      Atomics.add(control, DONE_WITH, 1);
      Atomics.notify(control, DONE_WITH);
      returns.postMessage(message.chunk.buffer, [message.chunk.buffer as ArrayBuffer]);
      const pending = afterChunk();
      if (pending !== undefined) await pending;
    }
  } finally {
    Atomics.store(control, STOP, 1);
    Atomics.notify(control, DONE_WITH);
    await worker.terminate();
    returns.close();
    await file.handle.close().catch(() => undefined);
  }
}
