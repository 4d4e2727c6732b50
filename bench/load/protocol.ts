/**
 * What the load benchmark's parent and its server child say to each other over the IPC channel.
 * Control stays off the HTTP port, so the measured traffic is only the load itself.
 */

/**
 * How the server records: not at all, with our recorder at a level, with the production set-up
 * (`--import node-flight-recorder/auto`: the default level plus every trigger, the stall
 * watchdog's heartbeat and thread included), with OpenTelemetry, or with Node's trace_events.
 */
export const VARIANTS = ['none', 'default', 'production', 'detailed', 'cpu', 'otel', 'trace-events'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The variants that run our FlightRecorder, and the level each runs it at. */
export const OUR_LEVELS = { default: 'default', detailed: 'detailed', cpu: 'cpu' } as const;

export function isOurs(variant: Variant): variant is keyof typeof OUR_LEVELS {
  return variant in OUR_LEVELS;
}

/** The categories Node's own tracer records in the `trace-events` variant (the choice). */
export const TRACE_EVENT_CATEGORIES = 'node.async_hooks,node.perf,v8';

/** The preload of the `production` variant. */
export const AUTO_MODULE = new URL('../../src/integrations/auto.js', import.meta.url).href;

/** Messages the parent sends; each carries an id that the reply repeats. */
export type Command =
  | { id: number; cmd: 'status'; gc?: boolean }
  | { id: number; cmd: 'stream-start'; file: string }
  | { id: number; cmd: 'stream-stop' }
  | { id: number; cmd: 'snapshot'; file: string }
  | { id: number; cmd: 'part'; part: Part }
  | { id: number; cmd: 'exit' };

/**
 * What the `load-parts` suite switches on inside one running `none` server, one at a time, to
 * find what each part of the default level costs: nothing; Node's own machinery that our
 * sources make run (a do-nothing subscriber on the two diagnostics channels Node publishes per
 * server request; a do-nothing PerformanceObserver of gc entries; V8's sampling profiler, started
 * through an inspector session at `intervalMs` and left to sample, as the cpu source's floor); or a
 * FlightRecorder with the given options.
 */
export type Part =
  | { kind: 'nothing' }
  | { kind: 'http-channels' }
  | { kind: 'gc-observer' }
  | { kind: 'v8-profiler'; intervalMs: number }
  | { kind: 'recorder'; options: import('../../src/index.js').FlightRecorderOptions };

/** The two channels Node publishes on for every server request (the http source's). */
export const SERVER_REQUEST_CHANNELS = ['http.server.request.start', 'http.server.response.finish'] as const;

/** What the server reports about itself. */
export interface ServerStatus {
  /** Requests answered since start. */
  requests: number;
  /** process.cpuUsage() user + system, in µs, since start: every thread of the process. */
  cpuMicros: number;
  /** Monotonic ms (performance.now()) when the status was taken. */
  at: number;
  memory: NodeJS.MemoryUsage;
  /** Our recorder's view; absent in the other variants. */
  recorder?: {
    /** FlightRecorder.status(): window bytes and generations, source states. */
    windowBytes: number;
    generations: number;
    maxBytes: number;
    sources: Record<string, { state: string; errors: number }>;
    /** tracerStatus(): the trace memory in use, and events dropped for lack of it. */
    poolBytesInUse: number;
    eventsLost: number;
  };
  /** OpenTelemetry: spans the in-memory exporter received (and discarded) since start. */
  spansExported?: number;
}

export type Reply =
  | { type: 'ready'; id: 0; port: number }
  | { type: 'status'; id: number; status: ServerStatus }
  | { type: 'done'; id: number; bytes?: number }
  | { type: 'error'; id: number; message: string };
