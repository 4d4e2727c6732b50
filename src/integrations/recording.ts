import { NfrError } from '../errors/errors.js';
import { trace } from '../api/trace.js';
import { FlightRecorder, type FlightRecorderStatus } from '../recorder/flight-recorder.js';
import { joinCluster, type ClusterLink } from './cluster-collect.js';
import { DirectorySink } from './directory-sink.js';
import { describeError, watchCrash, watchSignal } from './process-triggers.js';
import { resolveRecordingOptions, type ResolvedRecordingOptions, type StartRecordingOptions } from './recording-options.js';
import { SnapshotBudget } from './snapshot-budget.js';
import { snapshotMeta, type SnapshotMeta } from './snapshot-meta.js';
import { startStallWatchdog, type StallReport, type StallWatchdog } from './stall-watchdog.js';
import { watchSlowRequests, type SlowRequest } from './trigger-slow-request.js';

/** Why a snapshot was not taken. */
export type SkipReason = 'rateLimit' | 'cooldown' | 'busy' | 'stopped' | 'debuggerPaused';

/** What a snapshot attempt gave. */
export type SnapshotResult =
  | {
      taken: true;
      meta: SnapshotMeta;
      /** Where the directory sink put it; undefined without one, or when it failed (see `errors`). */
      path: string | undefined;
      /** Sinks that failed (`ERR_SINK_FAILED`); the snapshot reached the others. */
      errors: NfrError[];
    }
  | { taken: false; skipped: SkipReason; message: string };

/** Counts for one trigger. */
export interface TriggerCounts {
  fired: number;
  taken: number;
  skipped: number;
}

/** What {@link Recording.status} reports. */
export interface RecordingStatus {
  active: boolean;
  /** Triggers that are armed, by name. */
  triggers: string[];
  snapshots: number;
  /** Snapshots not taken, by why. */
  skipped: Record<SkipReason, number>;
  byTrigger: Record<string, TriggerCounts>;
  /** Sink failures (missing directory, full disk, a callback that threw). */
  sinkErrors: number;
  /** Errors inside triggers, caught and counted. */
  triggerErrors: number;
  lastSnapshot: { time: string; reason: string; trigger: string; path: string | undefined } | undefined;
  dir: string | undefined;
  /** The stall watchdog thread: `on`, `starting`, `failed` (with why), `stopped`, or `off` when not asked for. */
  stallWatchdog: { state: string; failure: { code: string; message: string } | undefined; stalls: number };
  recorder: FlightRecorderStatus;
}

/** Triggers whose snapshots another process of a cluster does not need to echo. */
const LOCAL_TRIGGERS = new Set(['cluster', 'manual', 'debugHandler']);

class BytesCollector {
  private readonly chunks: Buffer[] = [];
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean {
    this.chunks.push(Buffer.from(chunk));
    callback?.();
    return true;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

let current: Recording | undefined;

/**
 * A flight recorder with its triggers and sinks, as {@link startRecording} makes it: it keeps
 * recording, and writes the window out when a trigger fires (a slow request, a stalled loop, a
 * signal, a crash, or {@link Recording.dump}), within a rate limit.
 */
export class Recording {
  /** The flight recorder underneath: its window, `status()`, or a `writeTo` of your own. */
  readonly recorder: FlightRecorder;
  private readonly options: ResolvedRecordingOptions;
  private readonly sink: DirectorySink | undefined;
  private readonly budget: SnapshotBudget;
  private readonly stops: (() => void)[] = [];
  private readonly lastTaken = new Map<string, number>();
  private readonly counts: Record<string, TriggerCounts> = {};
  private readonly skipped: Record<SkipReason, number> = { rateLimit: 0, cooldown: 0, busy: 0, stopped: 0, debuggerPaused: 0 };
  private readonly armed: string[] = [];
  private busy = false;
  /** The snapshot being written, for a request that waits its turn rather than being dropped. */
  private inFlight: Promise<unknown> | undefined;
  private active = true;
  private snapshots = 0;
  private sinkErrors = 0;
  private triggerErrors = 0;
  private last: RecordingStatus['lastSnapshot'];
  private pendingSlow: { timer: NodeJS.Timeout; requests: SlowRequest[]; more: number } | undefined;
  private cluster: ClusterLink | undefined;
  private watchdog: StallWatchdog | undefined;

  /** @internal Use {@link startRecording}. */
  constructor(options: ResolvedRecordingOptions) {
    this.options = options;
    this.recorder = new FlightRecorder(options.recorder);
    this.sink = options.dir === false ? undefined : new DirectorySink({ dir: options.dir, maxFiles: options.maxFiles, maxTotalBytes: options.maxTotalBytes });
    this.budget = SnapshotBudget.create(options.maxSnapshots, options.snapshotWindow);
    this.recorder.start();
    try {
      this.arm();
    } catch (err) {
      this.disarm();
      void this.stopWatchdog();
      void this.recorder.stop();
      throw err;
    }
  }

  private arm(): void {
    const o = this.options;
    const onError = (err: unknown) => this.triggerError(err);
    if (o.slowRequest !== undefined) {
      const slow = o.slowRequest;
      this.stops.push(watchSlowRequests(slow, (request) => this.onSlowRequest(request), onError));
      this.armed.push('slowRequest');
    }
    if (o.stall !== undefined) {
      const sink = this.sink === undefined ? undefined : { dir: this.sink.dir, maxFiles: this.sink.maxFiles, maxTotalBytes: this.sink.maxTotalBytes };
      const watchdog = startStallWatchdog(
        { threshold: o.stall.threshold, cooldown: o.stall.cooldown, sink, budget: this.budget.state, deliverBytes: o.onSnapshot !== undefined },
        (report) => this.onStallReport(report),
      );
      this.watchdog = watchdog;
      this.armed.push('stall');
    }
    if (o.signal !== undefined) {
      const signal = o.signal;
      const stop = watchSignal(signal, () => void this.fire('signal', `signal ${signal}`, { signal }, 0, true));
      if (stop !== undefined) {
        this.stops.push(stop);
        this.armed.push('signal');
      }
    }
    if (o.crash) {
      this.stops.push(watchCrash((error, origin) => this.onCrash(error, origin)));
      this.armed.push('crash');
    }
    if (o.cluster) {
      this.cluster = joinCluster((reason, from) => void this.fire('cluster', reason, { from }, 0, false));
      if (this.cluster !== undefined) {
        const link = this.cluster;
        this.stops.push(() => link.stop());
        this.armed.push('cluster');
      }
    }
  }

  private disarm(): void {
    for (const stop of this.stops.splice(0)) {
      try {
        stop();
      } catch (err) {
        this.triggerError(err);
      }
    }
    if (this.pendingSlow !== undefined) clearTimeout(this.pendingSlow.timer);
    this.pendingSlow = undefined;
  }

  private async stopWatchdog(): Promise<void> {
    const watchdog = this.watchdog;
    if (watchdog === undefined) return;
    try {
      await watchdog.stop();
    } catch (err) {
      this.triggerError(err);
    }
  }

  private triggerError(err: unknown): void {
    this.triggerErrors++;
    if (this.options.log) this.say(`a trigger failed: ${describeError(err).message}`);
  }

  private countsOf(trigger: string): TriggerCounts {
    return (this.counts[trigger] ??= { fired: 0, taken: 0, skipped: 0 });
  }

  private say(line: string): void {
    try {
      process.stderr.write(`node-flight-recorder: ${line}\n`);
    } catch {
      // stderr closed: nothing to tell, and nothing to break.
    }
  }

  /**
   * A slow request: recording goes on for the post-trigger delay, then one snapshot covers it
   * and every other slow request that ended meanwhile.
   */
  private onSlowRequest(request: SlowRequest): void {
    const slow = this.options.slowRequest!;
    const pending = this.pendingSlow;
    if (pending !== undefined) {
      if (pending.requests.length < 10) pending.requests.push(request);
      else pending.more++;
      return;
    }
    const counts = this.countsOf('slowRequest');
    const last = this.lastTaken.get('slowRequest');
    if (last !== undefined && Date.now() - last < slow.cooldown) {
      counts.fired++;
      counts.skipped++;
      this.skipped.cooldown++;
      return;
    }
    trace.log('flight-recorder', `trigger: slow request ${request.method} ${request.path} took ${request.durationMs} ms`);
    const batch = { timer: undefined as NodeJS.Timeout | undefined, requests: [request], more: 0 };
    batch.timer = setTimeout(() => {
      this.pendingSlow = undefined;
      const first = batch.requests[0];
      const details = { requests: batch.requests, moreRequests: batch.more, thresholdMs: slow.threshold, delayMs: slow.delay };
      void this.fire('slowRequest', `slow request ${first.method} ${first.path} ${Math.round(first.durationMs)}ms`, details, slow.cooldown, true);
    }, slow.delay);
    batch.timer.unref();
    this.pendingSlow = batch as { timer: NodeJS.Timeout; requests: SlowRequest[]; more: number };
  }

  /**
   * What the watchdog did while the main thread was stuck, told once it runs again: counted here,
   * handed to the callback sink, announced to the cluster.
   */
  private onStallReport(report: StallReport): void {
    const counts = this.countsOf('stall');
    counts.fired++;
    if (report.skipped !== undefined) {
      counts.skipped++;
      this.skipped[report.skipped]++;
      return;
    }
    const errors: NfrError[] = [];
    if (report.error !== undefined) errors.push(new NfrError(report.error.code === 'ERR_SINK_FAILED' ? 'ERR_SINK_FAILED' : 'ERR_STALL_WATCHDOG', report.error.message));
    let delivered = report.path !== undefined;
    const callback = this.options.onSnapshot;
    if (callback !== undefined && report.bytes !== undefined) {
      delivered = true;
      void Promise.resolve()
        .then(() => callback(report.bytes!, report.meta))
        .catch((err) => {
          this.sinkErrors++;
          if (this.options.log) this.say(`snapshot (${report.meta.reason}) failed: onSnapshot threw: ${describeError(err).message}`);
        });
    }
    if (this.options.cluster && (report.path !== undefined || report.bytes !== undefined)) this.cluster?.announce(report.meta.reason);
    this.stored('stall', counts, report.meta, report.path, errors, delivered);
  }

  private onCrash(error: unknown, origin: string): void {
    try {
      const details = { origin, error: describeError(error) };
      this.takeSync('crash', origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception', details);
    } catch (err) {
      this.triggerError(err);
    }
  }

  /** The checks every snapshot passes first; a skip reason, or undefined to go ahead. */
  private admit(trigger: string, cooldown: number, counts: TriggerCounts, ignoreBusy: boolean): SkipReason | undefined {
    counts.fired++;
    let skip: SkipReason | undefined;
    const last = this.lastTaken.get(trigger);
    if (!this.active) skip = 'stopped';
    else if (this.busy && !ignoreBusy) skip = 'busy';
    else if (last !== undefined && cooldown > 0 && Date.now() - last < cooldown) skip = 'cooldown';
    else if (!this.budget.tryTake()) skip = 'rateLimit';
    if (skip !== undefined) {
      counts.skipped++;
      this.skipped[skip]++;
    }
    return skip;
  }

  private skipResult(skip: SkipReason, trigger: string): SnapshotResult {
    const message =
      skip === 'rateLimit'
        ? `the rate limit (${this.options.maxSnapshots} per ${this.options.snapshotWindow / 1000} s) is reached`
        : skip === 'cooldown'
          ? `the ${trigger} trigger is cooling down`
          : skip === 'busy'
            ? 'another snapshot is being written'
            : 'the recording is stopped';
    return { taken: false, skipped: skip, message: `snapshot not taken: ${message}` };
  }

  /**
   * Takes a snapshot for `trigger` unless held back, and stores it in every sink. A signal or a
   * cluster's request, which someone made on purpose, waits for a snapshot in flight instead of
   * being dropped as busy.
   */
  private async fire(trigger: string, reason: string, details: Record<string, unknown>, cooldown: number, announce: boolean): Promise<SnapshotResult> {
    if (trigger === 'signal' || trigger === 'cluster') {
      while (this.inFlight !== undefined) await this.inFlight.catch(() => undefined);
    }
    const counts = this.countsOf(trigger);
    const skip = this.admit(trigger, cooldown, counts, false);
    if (skip !== undefined) return this.skipResult(skip, trigger);
    this.busy = true;
    this.lastTaken.set(trigger, Date.now());
    let finished: () => void = () => undefined;
    this.inFlight = new Promise<void>((resolve) => (finished = resolve));
    try {
      if (announce && !LOCAL_TRIGGERS.has(trigger)) this.cluster?.announce(reason);
      const collector = new BytesCollector();
      await this.recorder.writeTo(collector);
      const bytes = collector.bytes();
      const meta = snapshotMeta(trigger, reason, details, bytes.length);
      const errors: NfrError[] = [];
      let path: string | undefined;
      if (this.sink !== undefined) {
        try {
          path = await this.sink.write(bytes, meta);
        } catch (err) {
          errors.push(err instanceof NfrError ? err : new NfrError('ERR_SINK_FAILED', String(err), { cause: err }));
        }
      }
      let delivered = path !== undefined;
      if (this.options.onSnapshot !== undefined) {
        try {
          await this.options.onSnapshot(bytes, meta);
          delivered = true;
        } catch (err) {
          errors.push(new NfrError('ERR_SINK_FAILED', `onSnapshot threw: ${describeError(err).message}`, { cause: err }));
        }
      }
      return this.stored(trigger, counts, meta, path, errors, delivered);
    } catch (err) {
      // The recorder itself failed (stopped underneath us): counted like a sink failure.
      const error = err instanceof NfrError ? err : new NfrError('ERR_SINK_FAILED', String(err), { cause: err });
      return this.stored(trigger, counts, snapshotMeta(trigger, reason, details, 0), undefined, [error], false);
    } finally {
      this.busy = false;
      this.inFlight = undefined;
      finished();
    }
  }

  /** The same, synchronously, for a process about to end: nothing after this may wait. */
  private takeSync(trigger: string, reason: string, details: Record<string, unknown>): SnapshotResult {
    const counts = this.countsOf(trigger);
    const skip = this.admit(trigger, 0, counts, true);
    if (skip !== undefined) return this.skipResult(skip, trigger);
    const bytes = this.recorder.snapshotSync();
    const meta = snapshotMeta(trigger, reason, details, bytes.length);
    const errors: NfrError[] = [];
    let path: string | undefined;
    if (this.sink !== undefined) {
      try {
        path = this.sink.writeSync(bytes, meta);
      } catch (err) {
        errors.push(err instanceof NfrError ? err : new NfrError('ERR_SINK_FAILED', String(err), { cause: err }));
      }
    }
    let delivered = path !== undefined;
    if (this.options.onSnapshot !== undefined) {
      try {
        // Called, not awaited: the process ends once the monitors return.
        void Promise.resolve(this.options.onSnapshot(bytes, meta)).catch(() => undefined);
        delivered = true;
      } catch (err) {
        errors.push(new NfrError('ERR_SINK_FAILED', `onSnapshot threw: ${describeError(err).message}`, { cause: err }));
      }
    }
    return this.stored(trigger, counts, meta, path, errors, delivered);
  }

  private stored(trigger: string, counts: TriggerCounts, meta: SnapshotMeta, path: string | undefined, errors: NfrError[], delivered: boolean): SnapshotResult {
    this.sinkErrors += errors.length;
    if (delivered) {
      counts.taken++;
      this.snapshots++;
      this.last = { time: meta.time, reason: meta.reason, trigger, path };
    }
    if (this.options.log) {
      for (const error of errors) this.say(`snapshot (${meta.reason}) failed: ${error.message}`);
      if (path !== undefined) this.say(`snapshot (${meta.reason}) written to ${path}`);
    }
    return { taken: true, meta, path, errors };
  }

  /**
   * Takes a snapshot now, for `reason`, within the rate limit (no cooldown). Resolves to what
   * happened: where it went, or why it was not taken. Never rejects for a sink's failure; the
   * result lists it.
   */
  dump(reason = 'manual dump', details: Record<string, unknown> = {}): Promise<SnapshotResult> {
    if (typeof reason !== 'string' || reason === '') {
      return Promise.reject(new NfrError('ERR_INVALID_ARGUMENT', `dump(reason): reason must be a non-empty string, got ${typeof reason}`));
    }
    if (details === null || typeof details !== 'object') {
      return Promise.reject(new NfrError('ERR_INVALID_ARGUMENT', `dump(reason, details): details must be an object, got ${details === null ? 'null' : typeof details}`));
    }
    return this.fire('manual', reason, details, 0, false);
  }

  /** Counts and state, for health checks and the debug handler. */
  status(): RecordingStatus {
    return {
      active: this.active,
      triggers: [...this.armed],
      snapshots: this.snapshots,
      skipped: { ...this.skipped },
      byTrigger: Object.fromEntries(Object.entries(this.counts).map(([k, v]) => [k, { ...v }])),
      sinkErrors: this.sinkErrors,
      triggerErrors: this.triggerErrors,
      lastSnapshot: this.last,
      dir: this.sink?.dir,
      stallWatchdog: this.watchdog === undefined ? { state: 'off', failure: undefined, stalls: 0 } : { state: this.watchdog.state, failure: this.watchdog.failure, stalls: this.watchdog.stalls },
      recorder: this.recorder.status(),
    };
  }

  /** Disarms every trigger and stops the recorder (after a snapshot in flight). */
  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.disarm();
    if (current === this) current = undefined;
    await this.stopWatchdog();
    await this.recorder.stop();
  }
}

/**
 * Starts a flight recorder with triggers and sinks: the production set-up in one call, what
 * `node --import node-flight-recorder/auto` does from environment variables. One at a time per
 * process (signals and crash monitors are process-wide): a second call throws
 * `ERR_RECORDING_ACTIVE` until the first is stopped. Wrong options throw `ERR_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * import { startRecording } from 'node-flight-recorder';
 * const recording = startRecording({ slowRequest: { threshold: 500, routes: ['/api/*'] }, dir: '/var/tmp/traces' });
 * // later: await recording.dump('deploy check');
 * ```
 */
export function startRecording(options?: StartRecordingOptions): Recording {
  if (current !== undefined) {
    throw new NfrError('ERR_RECORDING_ACTIVE', 'startRecording() was already called in this process; stop() that recording first, or use currentRecording()');
  }
  const recording = new Recording(resolveRecordingOptions(options));
  current = recording;
  return recording;
}

/** The recording {@link startRecording} made, if it runs (for instance the one `--import node-flight-recorder/auto` started). */
export function currentRecording(): Recording | undefined {
  return current;
}
