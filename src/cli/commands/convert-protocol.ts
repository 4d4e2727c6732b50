/**
 * What the two threads of `nfr convert` tell each other. The reading thread (convert-worker.ts)
 * reads and decodes the trace and runs the timeline builder; it sends the builder's calls on its
 * writer as chunks of timeline commands (export/timeline-commands.ts). The converting thread
 * (convert-threaded.ts) replays them on the Perfetto or Chrome writer and writes the output.
 */
import type { MessagePort } from 'node:worker_threads';

/** Why the reading stopped: an error of the reader (with its code and offset), or of the file system. */
export interface WireError {
  nfr: boolean;
  code: string | undefined;
  message: string;
  offset: number | undefined;
}

export type WireMessage = { type: 'commands'; chunk: Uint8Array } | { type: 'failed'; error: WireError } | { type: 'done'; events: number };

/** The shared flow control: how many chunks the converting thread is done with, and a stop flag. */
export const DONE_WITH = 0;
export const STOP = 1;

/** What the reading thread is given. */
export interface WorkerInput {
  /** The trace file's descriptor, owned (and closed) by the converting thread. */
  fd: number;
  allowTruncated: boolean;
  /** An Int32Array of two over a SharedArrayBuffer: [DONE_WITH, STOP]. */
  control: SharedArrayBuffer;
  /** Chunks sent and not yet done with before the reading waits. */
  window: number;
  /** Bytes of a chunk of commands. */
  chunkBytes: number;
  /** Where the converting thread gives back the chunks' buffers, to be written into again. */
  returns: MessagePort;
}
