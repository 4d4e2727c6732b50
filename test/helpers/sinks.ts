import { PassThrough, Writable } from 'node:stream';

/** A writable that keeps every chunk; `bytes()` gives them joined. */
export class MemorySink extends Writable {
  readonly chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** A writable that fails every write with `error`. */
export function failingSink(error: Error): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback(error);
    },
  });
}

/**
 * A writable that accepts writes only when released: until then its buffer fills and it applies
 * backpressure, like a destination on a congested link.
 */
export class GatedSink extends Writable {
  readonly chunks: Buffer[] = [];
  private waiting: (() => void)[] = [];
  private open = false;

  constructor() {
    super({ highWaterMark: 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const done = () => {
      this.chunks.push(Buffer.from(chunk));
      callback();
    };
    if (this.open) done();
    else this.waiting.push(done);
  }

  release(): void {
    this.open = true;
    const waiting = this.waiting;
    this.waiting = [];
    for (const done of waiting) done();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export { PassThrough };
