import { NfrError } from '../errors/errors.js';
import type { Destination } from '../recorder/destination.js';
import { StreamingTracer, type StreamingTraceOptions, type StreamingTraceStatus } from '../recorder/streaming-tracer.js';
import { existingThreadTracer, tracerRuntime } from '../tracer/runtime.js';
import { startRegion, withRegion, type Region } from './region.js';
import { Task } from './task.js';

let streaming: StreamingTracer | undefined;

function text(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * The tracing API: the streaming tracer, and the annotations (logs, tasks, regions, metrics)
 * that go to every active subscriber, streaming tracer and flight recorders alike. Annotations
 * cost one comparison while nothing records.
 */
export const trace = {
  /**
   * Streams the trace to `dest` until `stop()`. Throws `ERR_TRACE_ACTIVE` if a streaming trace is
   * already running. The destination is not ended by `stop()`.
   */
  start(dest: Destination | NodeJS.WritableStream, options?: StreamingTraceOptions): void {
    if (streaming !== undefined) throw new NfrError('ERR_TRACE_ACTIVE', 'a streaming trace is already running; call trace.stop() first');
    const tracer = new StreamingTracer(dest, options);
    tracer.start();
    streaming = tracer;
  },

  /** Stops the streaming trace, after writing its last generation. Rejects with the destination's error, if it had one. No-op when not started. */
  async stop(): Promise<void> {
    const tracer = streaming;
    if (tracer === undefined) return;
    streaming = undefined;
    await tracer.stop();
  },

  /** The streaming trace's counters, or undefined when none runs. */
  status(): StreamingTraceStatus | undefined {
    return streaming?.status();
  },

  /** True while anything records: a streaming trace or a flight recorder. */
  isEnabled(): boolean {
    return existingThreadTracer()?.begin() ?? false;
  },

  /** Logs a message outside any task. */
  log(category: string, message: string): void {
    existingThreadTracer()?.log(0, text(category), text(message));
  },

  /** Starts a task; end it with `task.end()`. */
  newTask(name: string, parent?: Task): Task {
    return new Task(name, parent);
  },

  /** Runs `fn` (sync or async) in a region outside any task; returns what `fn` returns. */
  withRegion<T>(name: string, fn: () => T): T {
    return withRegion(0, name, fn);
  },

  /** Opens a region, in `task` if given; call `end()` on the result. */
  startRegion(name: string, task?: Task): Region {
    return startRegion(task?.id ?? 0, name);
  },

  /** Records a sampled value (a gauge or counter) under `name`. */
  metric(name: string, value: number): void {
    existingThreadTracer()?.metric(text(name), +value);
  },

  /** Records that something happened, with an optional detail. */
  instant(category: string, name: string, detail = ''): void {
    existingThreadTracer()?.instant(text(category), text(name), text(detail));
  },

  /** @internal Makes the tracer's memory now, so the first annotation does not pay for it. */
  warmUp(): void {
    tracerRuntime();
  },
};
