import { NfrError } from '../errors/errors.js';
import type { Destination } from '../recorder/destination.js';
import { StreamingTracer, type StreamingTraceOptions, type StreamingTraceStatus } from '../recorder/streaming-tracer.js';
import { existingThreadTracer, tracerRuntime } from '../tracer/runtime.js';
import { currentTask, currentTaskId } from './current-task.js';
import { startRegion, withRegion, type Region } from './region.js';
import { requestTask } from './request-task.js';
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

  /** Logs a message in the current task (see `currentTask`), or outside any task when none is known. */
  log(category: string, message: string): void {
    existingThreadTracer()?.log(currentTaskId(), text(category), text(message));
  },

  /** Starts a task; end it with `task.end()`. */
  newTask(name: string, parent?: Task): Task {
    return new Task(name, parent);
  },

  /**
   * Runs `fn` (sync or async) in a region of the current task (see `currentTask`), or outside any
   * task when none is known; returns what `fn` returns.
   */
  withRegion<T>(name: string, fn: () => T): T {
    return withRegion(currentTaskId(), name, fn);
  },

  /** Opens a region, in `task` if given, else in the current task if known; call `end()` on the result. */
  startRegion(name: string, task?: Task): Region {
    return startRegion(task?.id ?? currentTaskId(), name);
  },

  /**
   * The task of an HTTP server request: pass the request (`IncomingMessage`) or the response
   * (`ServerResponse`) a handler received, or the framework's wrapper of them when it is the
   * same object (Express's `req`/`res`). Undefined when the `http` source did not record that
   * request (it was not running when the request arrived). Works on every Node version and
   * costs nothing per event, so it is the way to reach the request's task where the implicit
   * current task is off:
   *
   * ```ts
   * server.on('request', (req, res) => {
   *   trace.taskOf(req)?.withRegion('load user', () => loadUser(req));
   * });
   * ```
   */
  taskOf(requestOrResponse: object): Task | undefined {
    if (requestOrResponse === null || (typeof requestOrResponse !== 'object' && typeof requestOrResponse !== 'function')) {
      throw new NfrError('ERR_INVALID_ARGUMENT', `trace.taskOf expects the request or response object of an HTTP server request, got ${requestOrResponse === null ? 'null' : typeof requestOrResponse}`);
    }
    return requestTask(requestOrResponse);
  },

  /**
   * The implicit current task: inside an HTTP server request's handler, and in everything it
   * awaits or schedules, the request's task. `trace.log`, `trace.withRegion` and
   * `trace.startRegion` use it when no task is given.
   *
   * It rests on AsyncLocalStorage and is on where that is cheap: on Node 24 and later (and
   * Node 22 with `--experimental-async-context-frame`), where AsyncLocalStorage runs on
   * AsyncContextFrame. On Node 20 and 22 it would slow every `await` of the application about
   * 3x, so there it is off (this returns undefined) unless a recorder asks for it with
   * `sources: { http: { implicitTask: true } }`; use `trace.taskOf(req)` instead. It is also off
   * while no recorder runs the `http` source.
   */
  currentTask(): Task | undefined {
    return currentTask();
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
