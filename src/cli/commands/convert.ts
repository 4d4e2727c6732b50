/**
 * `nfr convert FILE --to perfetto|chrome [-o OUT]`: a trace to Perfetto protobuf or Chrome
 * Trace Event JSON. Streams: the input is decoded a generation at a time, converted event by
 * event, and written out with backpressure, so memory stays at one generation and a few MB of
 * output whatever the size of the trace.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { createExporter, EXPORT_FORMATS, type ExportFormat, type Exporter } from '../../export/index.js';
import { parseCommandArgs } from '../args.js';
import type { Command, CommandIO } from '../command.js';
import { CliError, OutputClosed, UsageError } from '../errors.js';
import { openTraceFile, readTraceFile } from '../trace-file.js';

/** File extension of each format's output when `-o` is not given. */
const EXTENSIONS: Record<ExportFormat, string> = { perfetto: '.perfetto-trace', chrome: '.json' };
/** Output held before waiting for the destination to take it. */
const HIGH_WATER = 4 << 20;

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

/** Writes to a file created on first use, or to standard output, waiting when it is full. */
class ByteOutput {
  private stream: NodeJS.WritableStream | undefined;
  private failure: { code?: string; message?: string } | undefined;
  bytes = 0;

  constructor(
    readonly path: string,
    private readonly stdout: NodeJS.WritableStream,
  ) {}

  get toStdout(): boolean {
    return this.path === '-';
  }

  async write(chunks: (Uint8Array | string)[]): Promise<void> {
    for (const chunk of chunks) {
      const stream = this.open();
      this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (!stream.write(chunk)) await this.drained(stream);
      this.check();
    }
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
      const stream: NodeJS.WritableStream = this.toStdout ? this.stdout : createWriteStream(this.path);
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
    if (this.failure !== undefined) return;
    await new Promise<void>((resolve) => {
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
    const out = new ByteOutput(outPath, io.stdout);
    let events = 0;
    try {
      await readTraceFile(file, { allowTruncated: values['allow-truncated'] === true }, (event) => {
        exporter.event(event);
        events++;
        return exporter.buffered >= HIGH_WATER ? out.write(exporter.take()) : undefined;
      });
      exporter.finish();
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
