import { isNfrError } from '../errors/errors.js';
import { BatchKind, REGION_FLAG_SYNC } from '../format/events.js';
import type { EventOf, TraceEvent } from './events.js';
import { eachEvent } from './reader.js';
import { TraceDecoder, type BatchInfo, type DecodedItem, type ReaderOptions } from './trace-decoder.js';

/** One thing wrong with a trace. */
export interface Problem {
  /** Stable code: the reader's error code for unreadable input, or a validator rule. */
  code: string;
  message: string;
  /** File offset, when the problem is tied to a place in the file. */
  offset?: number;
  /** Trace time (ns), when tied to an event. */
  time?: number;
}

/** Options of the validator. */
export interface ValidateOptions {
  /** Skip the clock snapshot checks (for traces whose clocks are known to be synthetic). */
  skipClockChecks?: boolean;
  /** Stop collecting after this many problems (default 1000). */
  maxProblems?: number;
}

interface OpenRegion {
  task: number;
  /** Set when a synchronous region that contained this one ended first. */
  outlivedSyncParent?: number;
}

/**
 * Checks a trace's rules beyond what the reader enforces: clock snapshots (non-zero, strictly
 * increasing from sync to sync), timestamps (monotonic per thread, inside their generation),
 * batch sequences, generation numbering, tasks (each begins and ends once) and regions (each
 * ends once, in its task, synchronous regions nested strictly). Tasks and regions cut by the
 * start of the window (an end without a begin) and by its end (a begin without an end) are fine.
 */
export class Validator {
  readonly problems: Problem[] = [];
  private readonly maxProblems: number;
  private lastSync: EventOf<'sync'> | undefined;
  private lastGeneration: number | undefined;
  private pendingLoss: EventOf<'generationsLost'> | undefined;
  private readonly threadTime = new Map<number, number>();
  private readonly sequences = new Map<string, number>();
  private generationBatches: BatchInfo[] = [];
  private readonly tasksBegun = new Set<number>();
  private readonly tasksEnded = new Set<number>();
  /** Open regions per thread, in the order they began (region ids increase per thread). */
  private readonly openRegions = new Map<number, Map<number, OpenRegion>>();
  private readonly regionsEnded = new Set<string>();

  constructor(private readonly options: ValidateOptions = {}) {
    this.maxProblems = options.maxProblems ?? 1000;
  }

  /** Reader hook: sees each batch before its generation's events. */
  batch = (info: BatchInfo): void => {
    this.generationBatches.push(info);
    if (info.kind === BatchKind.endOfGeneration) this.checkGeneration();
  };

  event(ev: TraceEvent): void {
    switch (ev.kind) {
      case 'sync':
        return this.sync(ev);
      case 'generationsLost':
        this.pendingLoss = ev;
        return;
      case 'taskBegin':
      case 'httpRequest': // an HTTP request is a task by itself
        if (this.tasksBegun.has(ev.task)) this.problem('TASK_BEGUN_TWICE', `task ${ev.task} (${ev.kind === 'taskBegin' ? ev.name : `${ev.method} ${ev.path}`}) begins twice`, ev.time);
        remember(this.tasksBegun, ev.task);
        return;
      case 'taskEnd':
      case 'httpResponse':
        if (this.tasksEnded.has(ev.task)) this.problem('TASK_ENDED_TWICE', `task ${ev.task} ends twice`, ev.time);
        remember(this.tasksEnded, ev.task);
        return;
      case 'regionBegin': {
        const open = this.regionsOf(ev.thread);
        if (open.has(ev.region) || this.regionsEnded.has(`${ev.thread}:${ev.region}`)) this.problem('REGION_BEGUN_TWICE', `region ${ev.region} on thread ${ev.thread} begins twice`, ev.time);
        open.set(ev.region, { task: ev.task });
        if (open.size > MEMORY_LIMIT) forgetOldest(open);
        return;
      }
      case 'regionEnd':
        return this.regionEnd(ev);
      case 'range':
        if (ev.time < 0 || !Number.isFinite(ev.duration)) this.problem('RANGE_BEFORE_EPOCH', `range ${ev.name} begins before the trace clock's epoch`, ev.time);
        return;
      default:
        return;
    }
  }

  /** Reports an error the reader threw. */
  readerError(err: unknown): void {
    if (isNfrError(err)) this.problem(err.code, err.message, undefined, err.offset);
    else this.problem('ERR_INTERNAL', `the reader failed unexpectedly: ${String(err)}`);
  }

  private sync(ev: EventOf<'sync'>): void {
    const c = ev.clock;
    if (!this.options.skipClockChecks) {
      if (c.trace === 0) this.problem('CLOCK_ZERO', `sync ${ev.n} has zero trace time`, ev.time);
      if (c.monoSec === 0 && c.monoNsec === 0) this.problem('CLOCK_ZERO', `sync ${ev.n} has zero monotonic time`, ev.time);
      if (c.wallSec === 0 && c.wallNsec === 0) this.problem('CLOCK_ZERO', `sync ${ev.n} has zero wall time`, ev.time);
      const last = this.lastSync?.clock;
      if (last !== undefined) {
        if (!(c.trace > last.trace)) this.problem('CLOCK_NOT_INCREASING', `sync ${ev.n} has non-increasing trace time: ${c.trace} after ${last.trace}`, ev.time);
        if (!after(c.monoSec, c.monoNsec, last.monoSec, last.monoNsec)) this.problem('CLOCK_NOT_INCREASING', `sync ${ev.n} has non-increasing monotonic time`, ev.time);
        if (!after(c.wallSec, c.wallNsec, last.wallSec, last.wallNsec)) this.problem('CLOCK_NOT_INCREASING', `sync ${ev.n} has non-increasing wall time`, ev.time);
      }
    }
    if (!ev.final) {
      const previous = this.lastGeneration;
      if (previous !== undefined && ev.generation !== previous + 1) {
        const loss = this.pendingLoss;
        const explained = loss !== undefined && loss.first === previous + 1 && loss.first + loss.count === ev.generation;
        if (!explained) this.problem('GENERATION_GAP', `generation ${ev.generation} follows generation ${previous} with no loss record for the gap`, ev.time);
      }
      this.lastGeneration = ev.generation;
      this.pendingLoss = undefined;
    }
    this.lastSync = ev;
  }

  private regionsOf(thread: number): Map<number, OpenRegion> {
    let open = this.openRegions.get(thread);
    if (open === undefined) {
      open = new Map();
      this.openRegions.set(thread, open);
    }
    return open;
  }

  private regionEnd(ev: EventOf<'regionEnd'>): void {
    const key = `${ev.thread}:${ev.region}`;
    if (this.regionsEnded.has(key)) {
      this.problem('REGION_ENDED_TWICE', `region ${ev.region} on thread ${ev.thread} ends twice`, ev.time);
      return;
    }
    remember(this.regionsEnded, key);
    const openOnThread = this.regionsOf(ev.thread);
    const open = openOnThread.get(ev.region);
    openOnThread.delete(ev.region);
    if (open === undefined) return; // it began before the window
    if (open.task !== ev.task) this.problem('REGION_TASK_MISMATCH', `region ${ev.region} begins in task ${open.task} but ends in task ${ev.task}`, ev.time);
    if ((ev.flags & REGION_FLAG_SYNC) === 0) return;
    if (open.outlivedSyncParent !== undefined) {
      this.problem('REGION_NOT_NESTED', `synchronous region ${ev.region} on thread ${ev.thread} ends after synchronous region ${open.outlivedSyncParent}, which it began inside`, ev.time);
    }
    // A synchronous region contains everything its thread began during it; what is still open outlives it.
    for (const [id, other] of openOnThread) {
      if (id > ev.region) other.outlivedSyncParent ??= ev.region;
    }
  }

  /** Batch-level rules of one generation, checked when its end arrives. */
  private checkGeneration(): void {
    const batches = this.generationBatches;
    this.generationBatches = [];
    const sync = batches.find((b) => b.kind === BatchKind.sync);
    const eog = batches[batches.length - 1];
    const startTime = sync?.clockTime;
    const endTime = eog?.kind === BatchKind.endOfGeneration ? eog.clockTime : undefined;
    this.sequences.clear();
    for (const b of batches) {
      if (b.kind !== BatchKind.events && b.kind !== BatchKind.tables) continue;
      const key = `${b.kind}:${b.thread}`;
      const expected = this.sequences.get(key) ?? 0;
      if (b.sequence !== expected) this.problem('BATCH_SEQUENCE', `batch ${b.sequence} of thread ${b.thread} in generation ${b.generation} should be batch ${expected}`, undefined, b.offset);
      this.sequences.set(key, b.sequence + 1);
      if (b.kind !== BatchKind.events || b.firstTime !== b.firstTime) continue;
      const previous = this.threadTime.get(b.thread);
      if (previous !== undefined && b.baseTime < previous) {
        this.problem('TIME_NOT_MONOTONIC', `thread ${b.thread}: a batch starts at ${b.baseTime}, before the previous batch's last event at ${previous}`, b.baseTime, b.offset);
      }
      this.threadTime.set(b.thread, b.lastTime);
      if (startTime !== undefined && b.firstTime < startTime) {
        this.problem('TIME_OUTSIDE_GENERATION', `thread ${b.thread}: an event at ${b.firstTime} precedes the start of generation ${b.generation} at ${startTime}`, b.firstTime, b.offset);
      }
      if (endTime !== undefined && b.lastTime > endTime) {
        this.problem('TIME_OUTSIDE_GENERATION', `thread ${b.thread}: an event at ${b.lastTime} follows the end of generation ${b.generation}`, b.lastTime, b.offset);
      }
    }
  }

  private problem(code: string, message: string, time?: number, offset?: number): void {
    if (this.problems.length >= this.maxProblems) return;
    const p: Problem = { code, message };
    if (time !== undefined) p.time = time;
    if (offset !== undefined) p.offset = offset;
    this.problems.push(p);
  }
}

/**
 * How many task and region ids the validator remembers. Ids only grow, so forgetting the oldest
 * quarter past this keeps memory bounded on huge traces at the price of missing a duplicate
 * that far apart.
 */
const MEMORY_LIMIT = 1 << 20;

function forgetOldest(ids: Set<unknown> | Map<unknown, unknown>): void {
  let drop = ids.size >> 2;
  for (const id of ids.keys()) {
    ids.delete(id);
    if (--drop <= 0) break;
  }
}

function remember<T>(ids: Set<T>, id: T): void {
  ids.add(id);
  if (ids.size > MEMORY_LIMIT) forgetOldest(ids);
}

function after(sec: number, nsec: number, lastSec: number, lastNsec: number): boolean {
  return sec > lastSec || (sec === lastSec && nsec > lastNsec);
}

/** Validates a trace held in memory; returns its problems, empty when it is valid. */
export function validate(bytes: Uint8Array, options: ValidateOptions & Pick<ReaderOptions, 'maxGenerationBytes'> = {}): Problem[] {
  return runValidation(options, (feed) => {
    const step = 1 << 20;
    for (let at = 0; at < bytes.length; at += step) feed(bytes.subarray(at, Math.min(bytes.length, at + step)));
  }) as Problem[];
}

/** Validates a trace from a stream without holding more than a generation in memory. */
export async function validateStream(source: AsyncIterable<Uint8Array>, options: ValidateOptions & Pick<ReaderOptions, 'maxGenerationBytes'> = {}): Promise<Problem[]> {
  return runValidation(options, async (feed) => {
    for await (const chunk of source) feed(chunk);
  });
}

function runValidation(options: ValidateOptions & Pick<ReaderOptions, 'maxGenerationBytes'>, input: (feed: (chunk: Uint8Array) => void) => void | Promise<void>): Problem[] | Promise<Problem[]> {
  const v = new Validator(options);
  const decoder = new TraceDecoder({ maxGenerationBytes: options.maxGenerationBytes, onBatch: v.batch });
  const out: DecodedItem[] = [];
  const flush = () => {
    eachEvent(out, (ev) => v.event(ev));
    out.length = 0;
  };
  const feed = (chunk: Uint8Array) => {
    decoder.push(chunk, out);
    flush();
  };
  const done = (err?: unknown) => {
    flush();
    if (err !== undefined) v.readerError(err);
    return v.problems;
  };
  try {
    const pending = input(feed);
    if (pending instanceof Promise) {
      return pending.then(
        () => {
          try {
            decoder.finish(out);
            return done();
          } catch (err) {
            return done(err);
          }
        },
        (err: unknown) => done(err),
      );
    }
    decoder.finish(out);
    return done();
  } catch (err) {
    return done(err);
  }
}
