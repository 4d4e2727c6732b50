import { isNfrError } from '../errors/errors.js';
import { TraceDecoder, type DecodedItem } from '../reader/trace-decoder.js';
import { CliError } from '../cli/errors.js';
import { fileError, openTraceFile } from '../cli/trace-file.js';

const READ_BYTES = 1 << 20;

/**
 * Checks that a file is a whole, readable trace before the viewer is given it, so `nfr view`
 * and `nfr report` fail at once with one line (missing, unreadable, not a trace, truncated,
 * corrupt) instead of showing a broken page. Reads the file once, a megabyte at a time, and
 * keeps nothing (the decoder holds at most one generation). Returns the file's size.
 */
export async function checkTraceFile(path: string, allowTruncated: boolean): Promise<number> {
  const file = await openTraceFile(path);
  const decoder = new TraceDecoder({ allowTruncated });
  const items: DecodedItem[] = [];
  let position = 0;
  try {
    for (;;) {
      // A fresh buffer per read: the decoder keeps views of earlier reads until their generation ends.
      const buffer = new Uint8Array(READ_BYTES);
      let read: number;
      try {
        ({ bytesRead: read } = await file.handle.read(buffer, 0, buffer.length, position));
      } catch (err) {
        throw fileError(path, err);
      }
      position += read;
      if (read === 0) {
        decoder.finish(items);
        return position;
      }
      decoder.push(buffer.subarray(0, read), items);
      items.length = 0;
    }
  } catch (err) {
    throw traceProblem(path, err);
  } finally {
    await file.handle.close().catch(() => undefined);
  }
}

/** A reader error as one line with its code, naming the CLI option in place of the API's. */
export function traceProblem(path: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (isNfrError(err)) {
    const message = err.message.replace(/ \(read with allowTruncated to keep them\)$/, ' (--allow-truncated shows them)');
    return new CliError(`${path}: ${err.code}: ${message}`, 1);
  }
  return fileError(path, err);
}
