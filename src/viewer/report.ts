import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { CliError } from '../cli/errors.js';
import { writable } from '../cli/output.js';
import { fileError } from '../cli/trace-file.js';
import { inlineScript, reportParts } from './page.js';

/** Bytes of trace read per step: a multiple of 3, so each step's base64 joins the next without padding. */
const READ_BYTES = 3 << 20;

/**
 * Writes the viewer and a trace as one HTML file that opens offline: the viewer's script and the
 * trace's bytes (base64) are inlined. The trace is streamed from its file to the output, so
 * memory stays at a few MB whatever its size. A failed write leaves no partial file behind.
 * Returns the bytes written.
 */
export async function writeReport(options: { file: string; name: string; bundle: string; output: string | NodeJS.WritableStream }): Promise<number> {
  const script = inlineScript(options.bundle);
  const hash = createHash('sha256').update(script, 'utf8').digest('base64');
  const { before, after } = reportParts(options.name, script, hash);
  const toFile = typeof options.output === 'string';
  const out: NodeJS.WritableStream = typeof options.output === 'string' ? createWriteStream(options.output) : options.output;
  let failure: Error | undefined;
  const onError = (err: Error) => {
    failure ??= err;
  };
  out.on('error', onError);
  let written = 0;
  const write = async (text: string): Promise<void> => {
    if (failure !== undefined) throw failure;
    written += Buffer.byteLength(text);
    if (!out.write(text)) await writable(out);
    if (failure !== undefined) throw failure;
  };
  let input: Awaited<ReturnType<typeof open>> | undefined;
  try {
    try {
      input = await open(options.file, 'r');
    } catch (err) {
      throw fileError(options.file, err);
    }
    await write(before);
    const buffer = Buffer.alloc(READ_BYTES);
    let carry = Buffer.alloc(0);
    for (;;) {
      let read: number;
      try {
        ({ bytesRead: read } = await input.read(buffer, 0, buffer.length, null));
      } catch (err) {
        throw fileError(options.file, err);
      }
      if (read === 0) break;
      const data = carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, read)]) : buffer.subarray(0, read);
      const whole = data.length - (data.length % 3);
      if (whole > 0) await write(data.subarray(0, whole).toString('base64'));
      carry = Buffer.from(data.subarray(whole));
    }
    if (carry.length > 0) await write(carry.toString('base64'));
    await write(after);
    if (toFile) {
      await new Promise<void>((resolve, reject) => {
        out.once('finish', resolve);
        out.once('error', reject);
        out.end();
      });
    }
    return written;
  } catch (err) {
    if (toFile) {
      out.end();
      await rm(options.output as string, { force: true }).catch(() => undefined);
    }
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot write ${toFile ? options.output : 'the report'}: ${(err as Error).message}`, 1);
  } finally {
    await input?.close().catch(() => undefined);
    // A file stream keeps its error listener (it may still fail while closing); standard output does not.
    if (!toFile) out.off('error', onError);
  }
}
