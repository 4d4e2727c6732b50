/**
 * `nfr convert FILE --to perfetto|chrome [-o OUT]`: a trace to Perfetto protobuf or Chrome
 * Trace Event JSON. Streams: the input is decoded a generation at a time, converted event by
 * event, and written out with backpressure, so memory stays at one generation and a few MB of
 * output whatever the size of the trace. With two cores, a big trace is read and laid out on a
 * worker thread while this one writes the output (convert-threaded.ts).
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { createExporter, EXPORT_FORMATS, type ExportFormat, type Exporter } from '../../export/index.js';
import { GenerationView } from '../../reader/generation-view.js';
import { parseCommandArgs } from '../args.js';
import type { Command, CommandIO } from '../command.js';
import { CliError, OutputClosed, UsageError } from '../errors.js';
import { writable } from '../output.js';
import { openTraceFile, readTraceItems } from '../trace-file.js';
import { convertInWorker } from './convert-threaded.js';

/** File extension of each format's output when `-o` is not given. */
const EXTENSIONS: Record<ExportFormat, string> = { perfetto: '.perfetto-trace', chrome: '.json' };
/** Output the exporter holds before it is handed to the destination. */
const HAND_OUT = 1 << 20;
/**
 * Traces from this size on are converted on two threads (convert-threaded.ts): below it,
 * starting the second thread costs about what it saves.
 */
const THREADED_BYTES = 8 << 20;
/** Output queued for the destination before the conversion waits for it. */
const QUEUED_BYTES = 4 << 20;

const usage = `Usage: nfr convert FILE --to perfetto|chrome [-o OUT] [--allow-truncated]

Converts a trace to another tool's format:
  perfetto  Perfetto protobuf: open it in https://ui.perfetto.dev or trace_processor
  chrome    Chrome Trace Event JSON: ui.perfetto.dev, chrome://tracing, speedscope, ...

The process, its threads (sync regions, callbacks, GC, blocked loop turns, logs, CPU samples),
tasks and HTTP requests (with their async regions), outgoing HTTP calls, one counter per metric,
and flows from where an async resource was created to its first callback. docs/export.md has
the mapping. The output streams: memory stays flat on traces of any size.

Options:
  --to FORMAT         perfetto or chrome (required)
  -o, --output OUT    where to write; - for standard output
                      (default: FILE with the extension .perfetto-trace or .json)
  --allow-truncated   convert the complete generations of a cut trace instead of failing
  -h, --help          this help

Exit status: 0 done; 1 the trace cannot be read or is not valid, or the output cannot be
written (a half-written output file is removed); 2 wrong arguments.

Examples:
  nfr convert slow-request.nfrt --to perfetto
  nfr convert slow-request.nfrt --to chrome -o - | gzip > trace.json.gz`;

/**
 * Writes to a file created on first use, or to standard output. Chunks are queued without
 * waiting until `QUEUED_BYTES` are in flight, so the conversion goes on while the file system
 * writes (on libuv's pool); each chunk is handed back to `written` once out, to be reused.
 */
class ByteOutput {
  private stream: NodeJS.WritableStream | undefined;
  private failure: { code?: string; message?: string } | undefined;
  bytes = 0;

  constructor(
    readonly path: string,
    private readonly stdout: NodeJS.WritableStream,
    private readonly written: (chunk: Uint8Array) => void,
  ) {}

  get toStdout(): boolean {
    return this.path === '-';
  }

  /** Queues the chunks; returns a promise to wait for when too much is in flight. */
  write(chunks: Uint8Array[]): Promise<void> | undefined {
    const stream = this.open();
    let full = false;
    for (const chunk of chunks) {
      this.bytes += chunk.length;
      full = !stream.write(chunk, () => this.written(chunk));
    }
    this.check();
    return full ? this.drained(stream) : undefined;
  }

  /** Ends the file (standard output stays open) once everything is written. */
  async close(): Promise<void> {
    const stream = this.open();
    this.check();
    if (this.toStdout) return;
    await new Promise<void>((resolve) => {
      stream.once('error', () => resolve());
      stream.once('finish', resolve);
      stream.end();
    });
    this.check();
  }

  /** Removes a half-written output file. */
  async discard(): Promise<void> {
    if (this.toStdout || this.stream === undefined) return;
    const stream = this.stream as NodeJS.WritableStream & { destroy?: () => void };
    stream.destroy?.();
    await fsp.rm(this.path, { force: true }).catch(() => undefined);
  }

  private open(): NodeJS.WritableStream {
    if (this.stream === undefined) {
      const stream: NodeJS.WritableStream = this.toStdout ? this.stdout : createWriteStream(this.path, { highWaterMark: QUEUED_BYTES });
      stream.on('error', (err: { code?: string; message?: string }) => {
        this.failure ??= err;
      });
      this.stream = stream;
    }
    return this.stream;
  }

  private check(): void {
    const err = this.failure;
    if (err === undefined) return;
    if (this.toStdout && (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED')) throw new OutputClosed();
    throw new CliError(`cannot write ${this.toStdout ? 'the output' : this.path}: ${err.message ?? String(err)}`, 1);
  }

  private async drained(stream: NodeJS.WritableStream): Promise<void> {
    if (this.failure === undefined) await writable(stream);
    this.check();
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function size(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : bytes >= 1e3 ? `${(bytes / 1e3).toFixed(1)} kB` : `${bytes} bytes`;
}

function summary(input: string, out: ByteOutput, format: ExportFormat, events: number, exporter: Exporter): string {
  const { beganBeforeWindow, unfinished, droppedOpen } = exporter.stats;
  const notes: string[] = [];
  if (beganBeforeWindow > 0) notes.push(`${beganBeforeWindow} slices began before the trace's window`);
  if (unfinished > 0) notes.push(`${unfinished} were still open at its end`);
  if (droppedOpen > 0) notes.push(`${droppedOpen} never-ended ones were dropped`);
  return `${input} -> ${out.path} (${format}, ${events} events, ${size(out.bytes)})${notes.length > 0 ? `; ${notes.join(', ')}` : ''}`;
}

export const convertCommand: Command = {
  name: 'convert',
  summary: 'convert a trace to Perfetto protobuf or Chrome Trace Event JSON',
  usage,
  async run(args: string[], io: CommandIO): Promise<number> {
    const { values, positionals } = parseCommandArgs('convert', args, {
      to: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'allow-truncated': { type: 'boolean' },
    });
    const to = values.to as string | undefined;
    if (to === undefined) throw new UsageError(`missing --to ${EXPORT_FORMATS.join('|')} (see nfr convert --help)`);
    if (!(EXPORT_FORMATS as readonly string[]).includes(to)) throw new UsageError(`--to must be ${EXPORT_FORMATS.join(' or ')}, got "${to}" (see nfr convert --help)`);
    const format = to as ExportFormat;
    const input = positionals[0];
    let outPath = values.output as string | undefined;
    if (outPath === undefined || outPath === '') outPath = join(dirname(input), `${basename(input, extname(input))}${EXTENSIONS[format]}`);

    // Nothing is created unless the input opens.
    const file = await openTraceFile(input);
    const exporter = createExporter(format);
    const out = new ByteOutput(outPath, io.stdout, (chunk) => exporter.recycle(chunk));
    let events = 0;
    // A turn of the event loop after each hand-out even when the output is not full: the file
    // stream starts its next write only from a callback, and converting a generation takes far
    // longer than writing a chunk.
    const handOut = (): Promise<void> | undefined => (exporter.buffered >= HAND_OUT ? (out.write(exporter.take()) ?? nextTurn()) : undefined);
    try {
      const options = { allowTruncated: values['allow-truncated'] === true };
      if (file.size >= THREADED_BYTES && availableParallelism() >= 2) {
        // Two cores: reading and the timeline on one, writing the output on the other.
        events = await convertInWorker(file, options, exporter, handOut);
      } else {
        await readTraceItems(file, options, async (items) => {
          for (const item of items) {
            if (item instanceof GenerationView) {
              // Each event is read once, right away: the reader's reused objects save one per event.
              const count = item.count;
              for (let i = 0; i < count; i++) {
                exporter.event(item.transientEvent(i));
                const pending = handOut();
                if (pending !== undefined) await pending;
              }
              events += count;
            } else {
              exporter.event(item);
              events++;
            }
          }
        });
        exporter.finish();
      }
      await out.write(exporter.take());
      await out.close();
    } catch (err) {
      await out.discard();
      throw err;
    }
    if (!out.toStdout) io.stdout.write(`${summary(input, out, format, events, exporter)}\n`);
    return 0;
  },
};
