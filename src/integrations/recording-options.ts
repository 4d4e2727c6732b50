import { constants as osConstants } from 'node:os';
import { NfrError } from '../errors/errors.js';
import { checkedLater, checkOptions, positiveInteger, positiveNumber } from '../recorder/options.js';
import type { FlightRecorderOptions } from '../recorder/flight-recorder.js';
import type { SnapshotMeta } from './snapshot-meta.js';

/** The slow-request trigger's settings. */
export interface SlowRequestOptions {
  /** Requests slower than this (ms, default 1000) fire it. */
  threshold?: number;
  /** Only these paths or routes (exact, `prefix*`, or RegExp); default all. */
  routes?: (string | RegExp)[];
  /** Keep recording this long (ms, default 200) after the slow request ends before the snapshot: what happened next is often the answer. */
  delay?: number;
  /** Least time (ms) between two snapshots of this trigger (default: the recording's `cooldown`). */
  cooldown?: number;
}

/** The stall watchdog's settings. */
export interface StallOptions {
  /** The main thread's loop stuck this long (ms, default 1000) fires it. */
  threshold?: number;
  /** Least time (ms) between two stall snapshots (default: the recording's `cooldown`). */
  cooldown?: number;
}

/** Options of {@link startRecording}: the recorder's, where snapshots go, how often, and what triggers them. */
export interface StartRecordingOptions extends FlightRecorderOptions {
  /** Directory of the snapshots (default `./flight-recordings`); `false` for none (then give `onSnapshot`). */
  dir?: string | false;
  /** Snapshots kept in `dir`; older ones are removed (default 20). */
  maxFiles?: number;
  /** Bytes of snapshots kept in `dir` (default 200 MiB). */
  maxTotalBytes?: number;
  /** Called with each snapshot and what it is about: upload it wherever you like. Errors are counted, never thrown. */
  onSnapshot?: (bytes: Buffer, meta: SnapshotMeta) => void | Promise<void>;
  /** At most this many snapshots per `snapshotWindow` (default 5), by all triggers together. */
  maxSnapshots?: number;
  /** The window of `maxSnapshots`, in ms (default one hour). */
  snapshotWindow?: number;
  /** Least time (ms) between two snapshots of one automatic trigger (default 60 000). Signals, `dump()` and crashes have none. */
  cooldown?: number;
  /** Snapshot after a slow HTTP server request (default on, 1000 ms); `false` to turn off. */
  slowRequest?: SlowRequestOptions | boolean;
  /** Snapshot when a watchdog thread sees the event loop stuck (default on, 1000 ms); `false` to turn off. */
  stall?: StallOptions | boolean;
  /** Signal that takes a snapshot (default `'SIGUSR2'`); `false` for none. */
  signal?: string | false;
  /** Snapshot, synchronously, on an uncaught exception or unhandled rejection that ends the process (default true). */
  crash?: boolean;
  /** Under node:cluster, a trigger in one process collects snapshots from all of them (default true). */
  cluster?: boolean;
  /** Print one line on stderr for each snapshot written or failed (default true). */
  log?: boolean;
}

/** The options with every default filled in. */
export interface ResolvedRecordingOptions {
  recorder: FlightRecorderOptions;
  dir: string | false;
  maxFiles: number;
  maxTotalBytes: number;
  onSnapshot: StartRecordingOptions['onSnapshot'];
  maxSnapshots: number;
  snapshotWindow: number;
  cooldown: number;
  slowRequest: Required<Omit<SlowRequestOptions, 'routes'>> & { routes: (string | RegExp)[] } | undefined;
  stall: Required<StallOptions> | undefined;
  signal: string | undefined;
  crash: boolean;
  cluster: boolean;
  log: boolean;
}

type Check = (value: unknown) => string | undefined;

const nonNegative: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : 'a finite number >= 0');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
const fn: Check = (v) => (typeof v === 'function' ? undefined : 'a function');
const dirCheck: Check = (v) => (v === false || (typeof v === 'string' && v !== '') ? undefined : 'a directory path or false');
const objectOrBool: Check = (v) => (typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v)) ? undefined : 'true, false or an object of settings');

/** Signals a process may not catch, or that Node uses itself. */
const UNUSABLE_SIGNALS = new Set(['SIGKILL', 'SIGSTOP', 'SIGUSR1', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL']);

const signalCheck: Check = (v) => {
  if (v === false) return undefined;
  if (typeof v !== 'string' || !(v in osConstants.signals)) return 'false or a signal name of this platform, such as "SIGUSR2"';
  if (UNUSABLE_SIGNALS.has(v)) return `a signal other than ${v} (it cannot be caught, or Node uses it)`;
  return undefined;
};

const routesCheck: Check = (v) => (Array.isArray(v) && v.every((r) => (typeof r === 'string' && r !== '') || r instanceof RegExp) ? undefined : 'an array of paths ("/api/*") and RegExps');

const DEFAULT_COOLDOWN_MS = 60_000;

/** Checks every option (a typed error naming the first wrong one) and fills in the defaults. */
export function resolveRecordingOptions(options: StartRecordingOptions | undefined): ResolvedRecordingOptions {
  const o = checkOptions<StartRecordingOptions>('startRecording', options, {
    minAge: positiveNumber,
    maxBytes: positiveInteger,
    period: positiveNumber,
    level: checkedLater,
    sources: checkedLater,
    dir: dirCheck,
    maxFiles: positiveInteger,
    maxTotalBytes: positiveInteger,
    onSnapshot: fn,
    maxSnapshots: positiveInteger,
    snapshotWindow: positiveNumber,
    cooldown: nonNegative,
    slowRequest: objectOrBool,
    stall: objectOrBool,
    signal: signalCheck,
    crash: bool,
    cluster: bool,
    log: bool,
  });
  const cooldown = o.cooldown ?? DEFAULT_COOLDOWN_MS;
  const slow = o.slowRequest === false ? undefined : checkOptions<SlowRequestOptions>('startRecording: slowRequest', o.slowRequest === true ? undefined : o.slowRequest, {
    threshold: positiveNumber,
    routes: routesCheck,
    delay: nonNegative,
    cooldown: nonNegative,
  });
  const stall = o.stall === false ? undefined : checkOptions<StallOptions>('startRecording: stall', o.stall === true ? undefined : o.stall, {
    threshold: positiveNumber,
    cooldown: nonNegative,
  });
  if (stall?.threshold !== undefined && stall.threshold < 50) {
    throw new NfrError('ERR_INVALID_OPTION', `startRecording: option "stall.threshold" must be at least 50 ms, got ${stall.threshold}`);
  }
  if (o.dir === false && o.onSnapshot === undefined) {
    throw new NfrError('ERR_INVALID_OPTION', 'startRecording: with dir: false, give onSnapshot, or snapshots would go nowhere');
  }
  return {
    recorder: { minAge: o.minAge, maxBytes: o.maxBytes, period: o.period, level: o.level, sources: o.sources },
    dir: o.dir ?? './flight-recordings',
    maxFiles: o.maxFiles ?? 20,
    maxTotalBytes: o.maxTotalBytes ?? 200 * 1024 * 1024,
    onSnapshot: o.onSnapshot,
    maxSnapshots: o.maxSnapshots ?? 5,
    snapshotWindow: o.snapshotWindow ?? 3_600_000,
    cooldown,
    slowRequest: slow === undefined ? undefined : { threshold: slow.threshold ?? 1000, routes: slow.routes ?? [], delay: slow.delay ?? 200, cooldown: slow.cooldown ?? cooldown },
    stall: stall === undefined ? undefined : { threshold: stall.threshold ?? 1000, cooldown: stall.cooldown ?? cooldown },
    signal: o.signal === false ? undefined : (o.signal ?? 'SIGUSR2'),
    crash: o.crash ?? true,
    cluster: o.cluster ?? true,
    log: o.log ?? true,
  };
}
