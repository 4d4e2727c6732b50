import { NfrError } from '../errors/errors.js';
import { encodeHeader } from '../format/header.js';
import { traceNow } from '../tracer/clock.js';
import type { Generation, Subscriber, TracerDemand } from '../tracer/hub.js';
import { tracerHub } from '../tracer/runtime.js';
import { checkDestination, DestinationWriter, generationsToBuffer, writeGenerations } from './destination.js';
import type { SourceStatus } from '../tracer/source-manager.js';
import { resolveSources, type RecordingOptions, type SourceName } from '../tracer/sources.js';
import { checkedLater, checkOptions, positiveInteger, positiveNumber } from './options.js';
import { nextWindow, windowBytes } from './window.js';

/** Options of a {@link FlightRecorder}. */
export interface FlightRecorderOptions extends RecordingOptions {
  /**
   * How far back the window reaches, in ms (default 10 000). A lower bound: the window keeps
   * whole generations, so it usually reaches a little further. `maxBytes` takes precedence.
   */
  minAge?: number;
  /** Most bytes the window holds (default 10 MiB). Takes precedence over `minAge`; at least one generation is always kept. */
  maxBytes?: number;
  /** Generation period in ms (default 1000): how often the window can drop old data. */
  period?: number;
}

/** What {@link FlightRecorder.status} reports. */
export interface FlightRecorderStatus {
  enabled: boolean;
  /** Generations in the window. */
  generations: number;
  /** Bytes a snapshot would write now (before the forced generation end). */
  bytes: number;
  /** Trace time (ns) of the window's start and end; 0 when empty. */
  windowStart: number;
  windowEnd: number;
  snapshots: number;
  snapshotErrors: number;
  minAge: number;
  maxBytes: number;
  /** What each source of the shared tracer is doing (on, off, failed, unsupported) and its error count. */
  sources: Record<SourceName, SourceStatus>;
}

const DEFAULT_MIN_AGE_MS = 10_000;
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_PERIOD_MS = 1000;
/** Generations end early once they reach this share of maxBytes, so the window can follow maxBytes closely. */
const GENERATIONS_PER_WINDOW = 4;

/**
 * A flight recorder: keeps a moving window of the most recent trace in memory and writes it out
 * on demand. Several can run at once, each with its own window; they share the trace memory.
 *
 * @example
 * ```ts
 * const fr = new FlightRecorder({ minAge: 5_000, maxBytes: 4 << 20 });
 * fr.start();
 * // ... later, when something went wrong:
 * await fr.writeTo(fs.createWriteStream('slow-request.nfrt'));
 * ```
 */
export class FlightRecorder {
  readonly minAge: number;
  readonly maxBytes: number;
  readonly period: number;
  private window: Generation[] = [];
  private active = false;
  private stopping: Promise<void> | undefined;
  private snapshot: Promise<unknown> | undefined;
  private snapshots = 0;
  private snapshotErrors = 0;
  private readonly subscriber: Subscriber;

  constructor(options?: FlightRecorderOptions) {
    const o = checkOptions<FlightRecorderOptions>('FlightRecorder', options, {
      minAge: positiveNumber,
      maxBytes: positiveInteger,
      period: positiveNumber,
      level: checkedLater,
      sources: checkedLater,
    });
    const sources = resolveSources('FlightRecorder', o);
    this.minAge = o.minAge ?? DEFAULT_MIN_AGE_MS;
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
    this.period = o.period ?? DEFAULT_PERIOD_MS;
    const demand: TracerDemand = {
      period: this.period,
      generationBytes: this.maxBytes / GENERATIONS_PER_WINDOW,
      retainedBytes: this.maxBytes,
      sources,
    };
    this.subscriber = {
      demand,
      onGeneration: (g) => {
        this.window = nextWindow(this.window, g, traceNow(), this.minAge * 1e6, this.maxBytes);
      },
      oldestRetained: () => (this.window.length > 0 ? this.window[0].number : Infinity),
    };
  }

  /** Whether the recorder is started (and not stopped since). */
  get enabled(): boolean {
    return this.active;
  }

  /**
   * Starts recording. Throws `ERR_FLIGHT_RECORDER_ACTIVE` when already started. Recording starts
   * at the next generation boundary, which this call makes.
   */
  start(): void {
    if (this.active) throw new NfrError('ERR_FLIGHT_RECORDER_ACTIVE', 'this flight recorder is already started; call stop() first, or use another FlightRecorder');
    if (this.stopping) throw new NfrError('ERR_FLIGHT_RECORDER_ACTIVE', 'this flight recorder is still stopping; await stop() before starting it again');
    this.window = [];
    tracerHub('FlightRecorder').subscribe(this.subscriber);
    this.active = true;
  }

  /**
   * Writes the window to `dest`: the trace header, then every generation of the window, ending
   * with the one this call closes, so the snapshot holds everything up to now. Resolves to the
   * number of bytes written.
   *
   * Rejects with `ERR_FLIGHT_RECORDER_DISABLED` when not started and with
   * `ERR_SNAPSHOT_IN_PROGRESS`, writing nothing, while another `writeTo` of this recorder is in
   * flight (use that one's result). A destination error rejects with that error; the recorder
   * keeps running.
   */
  writeTo(dest: NodeJS.WritableStream | import('./destination.js').Destination): Promise<number> {
    if (!this.active) {
      return Promise.reject(new NfrError('ERR_FLIGHT_RECORDER_DISABLED', 'this flight recorder is not started; call start() first'));
    }
    if (this.snapshot !== undefined) {
      return Promise.reject(new NfrError('ERR_SNAPSHOT_IN_PROGRESS', 'a snapshot of this flight recorder is being written; wait for it, or use its output'));
    }
    try {
      checkDestination(dest, 'FlightRecorder.writeTo');
    } catch (err) {
      return Promise.reject(err);
    }
    const hub = tracerHub('FlightRecorder');
    hub.advance();
    const generations = this.window.slice();
    const hold = { oldestRetained: () => (generations.length > 0 ? generations[0].number : Infinity) };
    hub.hold(hold);
    const out = new DestinationWriter(dest);
    const written = (async () => {
      try {
        await out.write(encodeHeader());
        await writeGenerations(out, hub.pool, generations);
        const bytes = await out.finish();
        this.snapshots++;
        return bytes;
      } catch (err) {
        this.snapshotErrors++;
        out.detach();
        throw err;
      } finally {
        hub.release(hold);
        this.snapshot = undefined;
      }
    })();
    this.snapshot = written;
    return written;
  }

  /**
   * The window as one buffer, synchronously: for when there is no later, such as an uncaught
   * exception about to end the process. Ends the current generation first, like `writeTo`.
   * Throws `ERR_FLIGHT_RECORDER_DISABLED` when not started. Blocks the event loop for the copy
   * (a few ms for 10 MiB); prefer `writeTo` whenever the process goes on.
   */
  snapshotSync(): Buffer {
    if (!this.active) throw new NfrError('ERR_FLIGHT_RECORDER_DISABLED', 'this flight recorder is not started; call start() first');
    const hub = tracerHub('FlightRecorder');
    hub.advance();
    const bytes = generationsToBuffer(hub.pool, encodeHeader(), this.window);
    this.snapshots++;
    return bytes;
  }

  /** Stops recording and drops the window. Waits for a `writeTo` in flight. No-op when not started. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (!this.active) return Promise.resolve();
    this.active = false;
    const unsubscribe = () => {
      tracerHub('FlightRecorder').unsubscribe(this.subscriber);
      this.window = [];
    };
    if (this.snapshot === undefined) {
      unsubscribe();
      return Promise.resolve();
    }
    this.stopping = this.snapshot
      .catch(() => undefined)
      .then(unsubscribe)
      .finally(() => {
        this.stopping = undefined;
      });
    return this.stopping;
  }

  /** The recorder's state, for health checks and debug endpoints. */
  status(): FlightRecorderStatus {
    const w = this.window;
    return {
      enabled: this.active,
      generations: w.length,
      bytes: windowBytes(w),
      windowStart: w.length > 0 ? w[0].start.trace : 0,
      windowEnd: w.length > 0 ? w[w.length - 1].end.trace : 0,
      snapshots: this.snapshots,
      snapshotErrors: this.snapshotErrors,
      minAge: this.minAge,
      maxBytes: this.maxBytes,
      sources: tracerHub('FlightRecorder').sources.status(),
    };
  }
}
