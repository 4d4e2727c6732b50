import { CliError, OutputClosed } from './errors.js';

/** Bytes gathered before a write: few system calls, little memory. */
const CHUNK_BYTES = 1 << 16;

type Utf8Write = (this: Buffer, text: string, offset: number, length: number) => number;

/**
 * Node's own UTF-8 encoder into a buffer, without `Buffer#write`'s argument handling, which
 * costs more than the encoding for a short line; `Buffer#write` where it is missing.
 */
const utf8Write: Utf8Write =
  (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write ??
  function (this: Buffer, text: string, offset: number, length: number): number {
    return this.write(text, offset, length, 'utf8');
  };

/**
 * Resolves when `stream` takes writes again ('drain'), or will never ('error', 'close'): the
 * caller checks which. Listeners are removed either way.
 */
export function writable(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}

/**
 * Buffered text output to a stream, for commands that print a lot (`nfr dump`): lines are
 * gathered into 64 KiB chunks, the stream's backpressure is awaited, and a reader that went
 * away (EPIPE, as with `| head`) stops the command through {@link OutputClosed} instead of
 * crashing it.
 */
export class Output {
  /** Text is encoded straight into a chunk (no string concatenation, no garbage per line). */
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private failure: unknown;
  private closed = false;
  private readonly onError = (err: unknown) => {
    if (isClosedPipe(err)) this.closed = true;
    else this.failure ??= err;
  };

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', this.onError);
  }

  /** Adds text; returns a promise to await when the chunk was written and the stream is full. */
  write(text: string): Promise<void> | undefined {
    // A UTF-16 unit takes at most 3 bytes of UTF-8.
    if (this.used + text.length * 3 > CHUNK_BYTES) {
      if (text.length * 3 > CHUNK_BYTES) return this.flush().then(() => this.send(Buffer.from(text, 'utf8')));
      const pending = this.flush();
      this.used += utf8Write.call(this.chunk, text, this.used, CHUNK_BYTES - this.used);
      return pending;
    }
    this.used += utf8Write.call(this.chunk, text, this.used, CHUNK_BYTES - this.used);
    return undefined;
  }

  /** Adds a line. */
  line(text = ''): Promise<void> | undefined {
    return this.write(`${text}\n`);
  }

  /** Writes what is buffered and waits while the stream is full. */
  flush(): Promise<void> {
    if (this.used === 0) {
      try {
        this.check();
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const bytes = this.chunk.subarray(0, this.used);
    // The stream may hold on to the bytes until they are written: a new chunk for what follows.
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
    return this.send(bytes);
  }

  private async send(bytes: Uint8Array): Promise<void> {
    this.check();
    if (this.stream.write(bytes)) return;
    await writable(this.stream);
    this.check();
  }

  /** Writes the rest; the stream stays open (it may be process.stdout). */
  async end(): Promise<void> {
    await this.flush();
    this.check();
  }

  private check(): void {
    const destroyed = (this.stream as { destroyed?: boolean }).destroyed === true;
    if (this.closed || (destroyed && this.failure === undefined)) throw new OutputClosed();
    if (this.failure !== undefined) {
      const err = this.failure as { code?: string; message?: string };
      throw new CliError(`cannot write the output: ${err.message ?? String(err)}`, 1);
    }
  }
}

function isClosedPipe(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET';
}
