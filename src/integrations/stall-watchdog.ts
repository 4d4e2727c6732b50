import { isMainThread, Worker } from 'node:worker_threads';
import { NfrError } from '../errors/errors.js';
import { traceNow } from '../tracer/clock.js';
import { SERVICE_THREAD, tracerRuntime } from '../tracer/runtime.js';
import { Ctl } from '../tracer/shared-state.js';
import type { DirectorySinkOptions } from './directory-sink.js';
import type { SnapshotBudgetState } from './snapshot-budget.js';
import type { SnapshotMeta } from './snapshot-meta.js';

/**
 * The stall watchdog: a snapshot of a blocked event loop, written while it is still blocked.
 *
 * The main thread writes a heartbeat (the trace clock) into the control block from a timer
 * every `interval` ms (a quarter of the threshold, between 10 and 250 ms). A worker thread of
 * the library (stall-worker.ts) watches it. When the timer is `threshold` ms overdue, one turn
 * of the main thread's loop has been running that long: the worker takes the main thread's
 * JavaScript stack through the inspector, writes a `stall` event with it on its own thread,
 * builds a snapshot of the whole window from shared memory (the main thread's committed
 * events included) and hands it to the directory sink, all without the main thread. The
 * report (and the snapshot's bytes, for a callback sink) reaches the main thread once its
 * loop runs again.
 *
 * One snapshot per stall: the worker waits for the next heartbeat before it can fire again,
 * and not within `cooldown` ms of its last snapshot; snapshots draw on the shared budget.
 *
 * What it costs: one timer tick per interval on the main thread (a clock read and a store);
 * a worker thread (about 13 MB of resident memory, measured), idle between checks, which come
 * about once per threshold. Taking a stack costs the stalled main thread the debugger's enable
 * (about 30 µs per loaded script) and a pause of about a millisecond (see stall-worker.ts).
 * From detection to the file written took 25-50 ms for a small window, 55-80 ms for 13 MB
 * (stack 25-40 ms, building 15-30 ms, writing 5-12 ms), measured on a shared machine.
 *
 * The worker runs with no `execArgv` and no `NODE_OPTIONS`, so the application's preloads
 * (`--import`, `--require`: an APM agent, this library's own zero-code preload) do not load
 * into it. Once started it is unref'd (it never keeps the process alive), and it prints nothing.
 */

/** Settings of {@link startStallWatchdog}. */
export interface StallWatchdogOptions {
  /** Ms one turn of the loop must run before it counts as a stall. */
  threshold: number;
  /** Least ms between two stall snapshots. */
  cooldown: number;
  /** Where snapshots go; undefined for none (the report then carries the bytes only). */
  sink: Required<Pick<DirectorySinkOptions, 'dir' | 'maxFiles' | 'maxTotalBytes'>> | undefined;
  /** The rate limit shared with the other triggers (`SnapshotBudget.state`). */
  budget: SnapshotBudgetState;
  /** Ms to wait for the main thread's stack (default 500); past it the stack is left empty. */
  stackTimeout?: number;
  /** Whether reports carry the snapshot's bytes (default true): for a callback sink. */
  deliverBytes?: boolean;
}

/** How the stall's stack was (or was not) taken. */
export type StallStackOutcome =
  /** The main thread paused and the stack was read. */
  | 'paused'
  /** It did not answer in time: it was inside native code. */
  | 'native'
  /** It was paused in a debugger already: not a stall, no snapshot. */
  | 'debuggerPaused'
  /** No inspector (a Node built without it, or the permission model denies it). */
  | 'unavailable';

/** What the watchdog did about one stall. */
export interface StallReport {
  /** The snapshot's metadata (with `bytes: 0` when none was written). `details` holds `blockedMs`, `stack` (text frames), `stackTaken`, `stillBlocked`, and `mainThreadStuckInNative` or a `note` when the stack is missing. */
  meta: SnapshotMeta;
  /** Where the directory sink put the snapshot. */
  path?: string;
  /** Why the snapshot failed (the sink's `ERR_SINK_FAILED`, or an error of the watchdog). */
  error?: { code: string; message: string };
  /** Why no snapshot was taken. */
  skipped?: 'rateLimit' | 'cooldown' | 'debuggerPaused';
  /** The snapshot, when `deliverBytes`: its buffer was moved from the watchdog's thread, not copied. */
  bytes?: Buffer;
  /** Ms from the stall's detection to the stack taken, the snapshot built and written, and in all. */
  timings: { stackMs: number; buildMs: number; writeMs: number; totalMs: number };
}

/** A running watchdog. */
export interface StallWatchdog {
  /** Stops the heartbeat and the worker. */
  stop(): Promise<void>;
  /** Resolves to true once the worker watches, false if it could not start. */
  readonly ready: Promise<boolean>;
  /** `starting`, `on`, `failed` (see `failure`) or `stopped`. */
  readonly state: 'starting' | 'on' | 'failed' | 'stopped';
  /** Why the worker could not start or died; the application goes on without the watchdog. */
  readonly failure: { code: string; message: string } | undefined;
  /**
   * Stalls acted on (while the tracer ran), whether or not a snapshot was taken. The counters
   * live in shared memory and are current at once, before the reports arrive.
   */
  readonly stalls: number;
  /** Snapshots built (and written, when there is a sink). */
  readonly snapshots: number;
  /** Stalls with no snapshot: the rate limit, the cooldown, or a thread paused in a debugger. */
  readonly skipped: number;
  /** Snapshots that failed (the sink, or the watchdog itself), and exceptions of the report callback. */
  readonly errors: number;
}

/** @internal What the worker receives. */
export interface StallWorkerData {
  [SERVICE_THREAD]: true;
  threshold: number;
  interval: number;
  cooldown: number;
  sink: StallWatchdogOptions['sink'];
  budget: SnapshotBudgetState;
  stackTimeout: number;
  deliverBytes: boolean;
  /** Why the main thread's stack cannot be taken here; undefined when it can. */
  noStack: string | undefined;
  /** The counters (Int32 words, see `Counter`), kept by the worker where the main thread reads them at any time. */
  counters: SharedArrayBuffer;
}

/** @internal Words of the shared counters. */
export const Counter = { stalls: 0, snapshots: 1, skipped: 2, errors: 3 } as const;

/** @internal A report as the worker posts it: the bytes as the buffer it transfers. */
export type StallWorkerReport = Omit<StallReport, 'bytes'> & { bytes?: ArrayBuffer };

/** @internal What the worker posts. */
export type StallWorkerMessage = { type: 'ready' } | { type: 'report'; report: StallWorkerReport } | { type: 'exiting' };

/** The heartbeat's period for a threshold: a quarter of it, between 10 and 250 ms. */
export function heartbeatInterval(threshold: number): number {
  return Math.min(250, Math.max(10, Math.floor(threshold / 4)));
}

const STOP_GRACE_MS = 2000;

/**
 * Why no stack can be taken in this process, or undefined. Under the permission model without
 * the inspector allowed, a worker's `connectToMainThread()` does not throw: Node aborts the
 * process on an assertion (seen on 20, 24 and 26), so it must never be called there.
 */
export function stackUnavailable(): string | undefined {
  if (!process.features.inspector) return 'this Node.js is built without the inspector';
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  if (permission !== undefined) {
    let allowed = false;
    try {
      allowed = permission.has('inspector');
    } catch {
      // a Node that does not know the scope does not allow it
    }
    if (!allowed) return 'the permission model denies the inspector (allow it with --allow-inspector, on the Node versions that have it)';
  }
  return undefined;
}

function failureOf(err: unknown): { code: string; message: string } {
  const code = (err as { code?: unknown })?.code;
  return { code: typeof code === 'string' ? code : 'ERR_STALL_WATCHDOG', message: err instanceof Error ? err.message : String(err) };
}

/** The environment without NODE_OPTIONS, whose preloads would load into the worker. */
function workerEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/**
 * Starts the heartbeat and the watchdog thread. Never throws for a watchdog that cannot run
 * (no worker threads under the permission model, a worker that dies): its `state` says
 * `failed` and `failure` why, and the application goes on. `onReport` is called on the main
 * thread, after the loop recovered, for every stall the watchdog acted on; what it throws is
 * counted in `errors`.
 */
export function startStallWatchdog(options: StallWatchdogOptions, onReport: (report: StallReport) => void): StallWatchdog {
  const memory = tracerRuntime().memory;
  const heartbeat = new Float64Array(memory.control, Ctl.heartbeat * 4, 1);
  const interval = heartbeatInterval(options.threshold);
  let state: StallWatchdog['state'] = 'starting';
  let failure: StallWatchdog['failure'];
  // Kept by the worker in shared memory, so they are current even while the main thread has
  // not yet read the reports (or is still blocked).
  const counters = new Int32Array(new SharedArrayBuffer(4 * 4));
  let callbackErrors = 0;
  let settleReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (settleReady = resolve));

  const beat = () => {
    heartbeat[0] = traceNow();
  };
  // Only the main thread beats: a watchdog started elsewhere fails below, and must not touch the word.
  if (isMainThread) beat();
  const beating = isMainThread ? setInterval(beat, interval) : undefined;
  beating?.unref();

  const fail = (err: unknown) => {
    if (state === 'stopped') return;
    state = 'failed';
    failure ??= failureOf(err);
    clearInterval(beating);
    settleReady(false);
  };

  const data: StallWorkerData = {
    [SERVICE_THREAD]: true,
    threshold: options.threshold,
    interval,
    cooldown: options.cooldown,
    sink: options.sink,
    budget: options.budget,
    stackTimeout: options.stackTimeout ?? 500,
    deliverBytes: options.deliverBytes ?? true,
    noStack: stackUnavailable(),
    counters: counters.buffer as SharedArrayBuffer,
  };
  let worker: Worker | undefined;
  try {
    if (!isMainThread) throw new NfrError('ERR_RECORDER_IN_WORKER', 'the stall watchdog watches the main thread\'s event loop: start it on the main thread');
    worker = new Worker(new URL('./stall-worker.js', import.meta.url), {
      workerData: data,
      execArgv: [],
      env: workerEnv(),
      name: 'nfr stall watchdog',
    });
  } catch (err) {
    fail(err);
  }

  const onMessage = (message: StallWorkerMessage) => {
    if (message.type === 'ready') {
      if (state === 'starting') state = 'on';
      settleReady(state === 'on');
      worker?.unref();
      return;
    }
    if (message.type === 'exiting') {
      // Answered only once this thread runs JavaScript, so after it has handled every inspector
      // request the watchdog sent before (a session's close among them): see the worker's exit().
      worker?.postMessage({ type: 'exit' });
      return;
    }
    const { bytes, ...rest } = message.report;
    const report: StallReport = bytes !== undefined ? { ...rest, bytes: Buffer.from(bytes) } : rest;
    try {
      onReport(report);
    } catch {
      callbackErrors++;
    }
  };
  let exited: Promise<void> = Promise.resolve();
  if (worker !== undefined) {
    const w = worker;
    w.on('message', onMessage);
    w.on('error', fail);
    // The worker keeps the process alive only while it starts (tens of ms), so that awaiting
    // `ready` settles; then it is unref'd (after the listeners: adding a 'message' listener refs it).
    exited = new Promise<void>((resolve) => {
      w.once('exit', (code) => {
        if (state !== 'stopped') fail(new Error(`the stall watchdog's thread exited (code ${code})`));
        resolve();
      });
    });
  }

  return {
    get state() {
      return state;
    },
    get failure() {
      return failure;
    },
    get stalls() {
      return Atomics.load(counters, Counter.stalls);
    },
    get snapshots() {
      return Atomics.load(counters, Counter.snapshots);
    },
    get skipped() {
      return Atomics.load(counters, Counter.skipped);
    },
    get errors() {
      return Atomics.load(counters, Counter.errors) + callbackErrors;
    },
    ready,
    async stop() {
      if (state === 'stopped') return exited;
      state = 'stopped';
      clearInterval(beating);
      settleReady(false);
      if (worker === undefined) return;
      const w = worker;
      // Until it has exited, so that a process awaiting stop() does not end with the await unsettled.
      w.ref();
      try {
        w.postMessage({ type: 'stop' });
      } catch {
        // it is gone already
      }
      // The worker ends by itself between checks; one writing a snapshot gets some time to finish.
      const grace = setTimeout(() => void w.terminate(), STOP_GRACE_MS);
      grace.unref();
      await exited;
      clearTimeout(grace);
    },
  };
}
