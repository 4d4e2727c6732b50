import { open, stat, type FileHandle } from 'node:fs/promises';
import { isNfrError } from '../errors/errors.js';
import { GenerationView } from '../reader/generation-view.js';
import type { TraceEvent } from '../reader/events.js';
import { TraceDecoder, type BatchInfo, type DecodedItem } from '../reader/trace-decoder.js';
import { CliError } from './errors.js';

/** Read size: large enough for few system calls, small enough to keep memory flat. */
const READ_BYTES = 1 << 20;

/** A trace file opened for reading. */
export interface TraceFile {
  path: string;
  size: number;
  handle: FileHandle;
}

/**
 * Opens a trace file, or fails with one line saying why: missing, a directory, not readable.
 * The caller closes `handle` (or lets {@link readTraceFile} do it).
 */
export async function openTraceFile(path: string): Promise<TraceFile> {
  let size: number;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new CliError(`${path}: is a directory, not a trace file`, 1);
    size = info.size;
  } catch (err) {
    throw fileError(path, err);
  }
  try {
    return { path, size, handle: await open(path, 'r') };
  } catch (err) {
    throw fileError(path, err);
  }
}

/** A file system error as one line. */
export function fileError(path: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const why =
    code === 'ENOENT' ? 'no such file'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EISDIR' ? 'is a directory, not a trace file'
    : code === 'ENOTDIR' ? 'no such file (a part of the path is not a directory)'
    : `cannot read it: ${(err as Error | undefined)?.message ?? String(err)}`;
  return new CliError(`${path}: ${why}`, 1);
}

/** A reader error about the trace's bytes as one line, with the CLI's option in place of the API's. */
export function traceError(path: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (isNfrError(err)) {
    const hint = / \(read with allowTruncated to keep them\)$/;
    const message = err.message.includes('no generation is complete') ? err.message.replace(hint, '') : err.message.replace(hint, ' (--allow-truncated reads them)');
    return new CliError(`${path}: ${message}`, 1);
  }
  return fileError(path, err);
}

export interface ReadOptions {
  /** Stop cleanly after the last complete generation of a cut trace. */
  allowTruncated?: boolean;
  /** The reader's per-batch hook (bytes of tables and framing). */
  onBatch?: (batch: BatchInfo) => void;
}

/**
 * Streams the events of a trace file in time order to `visit`, with each event's encoded size
 * (0 for sync and loss events). Memory stays at one generation and one read. When `visit`
 * returns a promise (output backpressure), reading waits for it. Fails with a {@link CliError}
 * naming the file; events of the complete generations before a problem are visited first.
 */
export function readTraceFile(file: TraceFile, options: ReadOptions, visit: (event: TraceEvent, size: number) => void | Promise<void> | undefined): Promise<void> {
  return readTraceItems(file, options, (items) => visitItems(items, visit));
}

/**
 * Like {@link readTraceFile}, but hands out what the decoder made from each read, a generation of
 * events at a time ({@link GenerationView}s, syncs), for consumers that walk them themselves.
 */
export async function readTraceItems(file: TraceFile, options: ReadOptions, onItems: (items: readonly DecodedItem[]) => void | Promise<void>): Promise<void> {
  const decoder = new TraceDecoder({ allowTruncated: options.allowTruncated, onBatch: options.onBatch });
  const items: DecodedItem[] = [];
  let position = 0;
  let failure: unknown;
  // The next read is asked for before the current one is decoded, so the disk and the decoding
  // overlap. A fresh buffer per read: the decoder keeps views into it until the generation ends.
  const readNext = () => {
    const buffer = new Uint8Array(READ_BYTES);
    const at = position;
    return file.handle.read(buffer, 0, buffer.length, at).then(
      ({ bytesRead }) => buffer.subarray(0, bytesRead),
      (err: unknown) => {
        throw fileError(file.path, err);
      },
    );
  };
  let next: Promise<Uint8Array> | undefined;
  try {
    let reading = readNext();
    next = reading;
    for (;;) {
      const chunk = await reading;
      position += chunk.length;
      if (chunk.length > 0) next = reading = readNext();
      else next = undefined;
      try {
        if (chunk.length === 0) decoder.finish(items);
        else decoder.push(chunk, items);
      } catch (err) {
        failure = err;
      }
      if (items.length > 0) await onItems(items);
      items.length = 0;
      if (failure !== undefined) throw traceError(file.path, failure);
      if (chunk.length === 0) return;
    }
  } finally {
    // A read still in flight (the command stopped early) settles before the file closes.
    await next?.catch(() => undefined);
    await file.handle.close().catch(() => undefined);
  }
}

async function visitItems(items: readonly DecodedItem[], visit: (event: TraceEvent, size: number) => void | Promise<void> | undefined): Promise<void> {
  for (const item of items) {
    if (item instanceof GenerationView) {
      for (let i = 0; i < item.count; i++) {
        const pending = visit(item.event(i), item.size(i));
        if (pending !== undefined) await pending;
      }
    } else {
      const pending = visit(item, 0);
      if (pending !== undefined) await pending;
    }
  }
}
