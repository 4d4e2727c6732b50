import type { EventOf } from '../reader/events.js';
import { IntervalSet } from './intervals.js';
import { SLOWED_MIN_OVERLAP_NS, SLOWED_MIN_SHARE } from './rules.js';
import type { StackFrame } from '../format/events.js';
import { StackCounter } from './stacks.js';
import { TopN } from './top.js';
import type { Breakdown, CallSummary } from './types.js';

/**
 * What the analyzer keeps while it reads: the tasks, calls and pauses it follows, the records
 * its rules read at the end, and the small functions that update them. Internal to analysis/.
 */

/** Regions remembered per task to find the dominating one. */
const REGIONS_PER_TASK = 4;

/** @internal */
export interface RequestState {
  method: string;
  path: string;
  route: string;
  status: number;
  error: string;
}

/** @internal A task being followed. */
export interface TaskState {
  id: number;
  name: string;
  parent: number;
  thread: number;
  start: number;
  /** NaN while open. */
  end: number;
  /** Generations begun before it ended: it waits for late events until a later one begins. */
  endGeneration: number;
  unfinished: boolean;
  request: RequestState | undefined;
  regionDepth: number;
  regionSince: number;
  regions: number;
  callDepth: number;
  callSince: number;
  outgoing: number;
  loopBlocked: number;
  gc: number;
  /**
   * Union of everything that explains the task's time, for `waiting`: one interval inline
   * (most tasks have one region or none), a set once a second, disjoint one comes.
   */
  coverFrom: number;
  coverTo: number;
  cover: IntervalSet | undefined;
  regionsByLength: { name: string; duration: number }[] | undefined;
  slowestCall: CallState | undefined;
  /** Its outgoing calls not ended yet. */
  openCalls: CallState[] | undefined;
}

export function newTask(event: EventOf<'taskBegin'>): TaskState {
  return {
    id: event.task, name: event.name, parent: event.parent, thread: event.thread, start: event.time, end: NaN, endGeneration: 0, unfinished: false, request: undefined,
    regionDepth: 0, regionSince: 0, regions: 0, callDepth: 0, callSince: 0, outgoing: 0, loopBlocked: 0, gc: 0,
    coverFrom: NaN, coverTo: NaN, cover: undefined, regionsByLength: undefined, slowestCall: undefined, openCalls: undefined,
  };
}

/** Whether `call` waited longer than `than` within a task that ends at `end` (NaN: still open). */
export function isLonger(call: CallState, than: CallState | undefined, end: number): boolean {
  return than === undefined || waitedIn(call, end) > waitedIn(than, end);
}

/** How long a task waited on a call: to the call's end, or the task's when it ended first. */
export function waitedIn(call: CallState, end: number): number {
  const callEnd = Number.isNaN(call.end) ? end : Number.isNaN(end) ? call.end : Math.min(call.end, end);
  return Number.isNaN(callEnd) ? 0 : callEnd - call.start;
}

export function addCover(task: TaskState, from: number, to: number): void {
  if (!(to > from)) return;
  if (task.cover !== undefined) {
    task.cover.add(from, to);
  } else if (Number.isNaN(task.coverTo)) {
    task.coverFrom = from;
    task.coverTo = to;
  } else if (from <= task.coverTo && to >= task.coverFrom) {
    if (from < task.coverFrom) task.coverFrom = from;
    if (to > task.coverTo) task.coverTo = to;
  } else {
    task.cover = new IntervalSet();
    task.cover.add(task.coverFrom, task.coverTo);
    task.cover.add(from, to);
  }
}

export function breakdownOf(task: TaskState, duration: number): Breakdown {
  return {
    regions: Math.min(task.regions, duration),
    loopBlocked: Math.min(task.loopBlocked, duration),
    gc: Math.min(task.gc, duration),
    outgoing: Math.min(task.outgoing, duration),
    waiting: Math.max(0, duration - coveredTime(task)),
  };
}

export function coveredTime(task: TaskState): number {
  if (task.cover !== undefined) return task.cover.covered(task.start, task.end);
  if (Number.isNaN(task.coverTo)) return 0;
  return Math.max(0, Math.min(task.coverTo, task.end) - Math.max(task.coverFrom, task.start));
}

export function noteRegionLength(task: TaskState, name: string, duration: number): void {
  const list = (task.regionsByLength ??= []);
  if (list.length < REGIONS_PER_TASK) {
    list.push({ name, duration });
    return;
  }
  let shortest = 0;
  for (let i = 1; i < list.length; i++) if (list[i].duration < list[shortest].duration) shortest = i;
  if (duration > list[shortest].duration) list[shortest] = { name, duration };
}

export function requestLabel(task: TaskState): string {
  const request = task.request;
  if (request === undefined) return task.name;
  return `${request.method} ${request.route !== '' ? request.route : request.path}`;
}

export function taskLabel(task: TaskState): string {
  return task.request !== undefined ? `request ${requestLabel(task)} (task ${task.id})` : `task "${task.name}" (task ${task.id})`;
}

export interface OpenRegion {
  id: number;
  task: number;
  name: string;
  start: number;
}

/**
 * A thread's open regions, in the order they began. Regions mostly end in reverse order (all
 * synchronous ones do), so the one ending is looked for from the top; entries are reused, so
 * following a region allocates nothing once the stack has grown.
 */
export class RegionStack {
  private readonly items: OpenRegion[] = [];
  depth = 0;

  constructor(private readonly limit: number) {}

  push(id: number, task: number, name: string, start: number): void {
    if (this.depth >= this.limit) {
      // Regions that never end (a broken trace): the older half goes at once, O(1) a push.
      const drop = this.depth >>> 1;
      this.items.splice(0, drop);
      this.depth -= drop;
    }
    let entry = this.items[this.depth];
    if (entry === undefined) {
      entry = { id: 0, task: 0, name: '', start: 0 };
      this.items.push(entry);
    }
    entry.id = id;
    entry.task = task;
    entry.name = name;
    entry.start = start;
    this.depth++;
  }

  /** Takes the open region `id` off the stack; its entry stays valid until the next push. */
  take(id: number): OpenRegion | undefined {
    const items = this.items;
    for (let i = this.depth - 1; i >= 0; i--) {
      if (items[i].id === id) return this.remove(i);
    }
    return undefined;
  }

  /** The open regions, oldest first. */
  open(): readonly OpenRegion[] {
    return this.items.slice(0, this.depth);
  }

  private remove(i: number): OpenRegion {
    const items = this.items;
    const entry = items[i];
    const top = --this.depth;
    if (i !== top) {
      items.copyWithin(i, i + 1, top + 1);
      items[top] = entry;
    }
    return entry;
  }
}

export interface OpenCallback {
  id: number;
  start: number;
}

/** @internal */
export interface CallState {
  id: number;
  thread: number;
  task: TaskState | undefined;
  taskId: number;
  inferred: boolean;
  method: string;
  host: string;
  path: string;
  start: number;
  end: number;
  status: number;
  error: string;
  unfinished: boolean;
}

export function callSummary(call: CallState, until: number): CallSummary {
  const end = Number.isNaN(call.end) ? until : call.end;
  const summary: CallSummary = {
    id: call.id, task: call.taskId, inferredTask: call.inferred, method: call.method, host: call.host, path: call.path,
    status: call.status, error: call.error, thread: call.thread, start: call.start, duration: Math.max(0, end - call.start),
  };
  if (call.unfinished || Number.isNaN(call.end)) summary.unfinished = true;
  return summary;
}

export type ActivityKind = 'region' | 'callback' | 'task';

/** What an activity is: a region's name, a callback's async id, a task. */
export type Subject = string | number | TaskState;

export interface Activity {
  thread: number;
  kind: ActivityKind;
  subject: Subject;
  task: number;
  start: number;
  end: number;
}

/** The best candidate of one kind for what ran during a block: the longest overlap. */
export interface Culprit {
  label: string;
  task: number;
  overlap: number;
}

/** A task or request a pause overlapped. */
export interface Affected {
  task: number;
  name: string;
  isRequest: boolean;
  duration: number;
  overlap: number;
}

/**
 * A blocked loop turn or a long GC pause, with what it affected (tasks overlapping it) and, for
 * blocks, what ran during it: CPU samples and the regions, callbacks and tasks of its thread.
 */
export class Pause {
  /** Tasks slowed by it (see SLOWED_*), worst first, a few. */
  readonly affected = new TopN<Affected>(5);
  affectedRequests = 0;
  affectedTasks = 0;
  /** Sum of the overlaps with the slowed tasks. */
  delay = 0;
  samples: StackCounter | undefined;
  readonly culprits: { region?: Culprit; callback?: Culprit; task?: Culprit } = {};
  settled = false;
  /** For a block inferred from a synchronous region (not recorded by the loop source): the region's name. */
  inferredFrom: string | undefined;
  /** Set when the loop source's record of the same block arrived: this one no longer counts. */
  superseded = false;

  constructor(
    readonly kind: 'block' | 'gc',
    readonly name: string,
    readonly detail: string,
    readonly thread: number,
    readonly start: number,
    readonly end: number,
    private readonly describe: (kind: ActivityKind, subject: Subject) => string,
  ) {}

  get duration(): number {
    return this.end - this.start;
  }

  sample(stack: readonly StackFrame[]): void {
    (this.samples ??= new StackCounter(512)).add(stack);
  }

  /** An activity of the thread that ran during [start, end]; keeps the longest overlap per kind (ties: the later start, the more specific). */
  activity(kind: ActivityKind, subject: Subject, task: number, start: number, end: number): void {
    const overlap = Math.min(end, this.end) - Math.max(start, this.start);
    if (overlap <= 0) return;
    const current = this.culprits[kind];
    if (current === undefined || overlap >= current.overlap) this.culprits[kind] = { label: this.describe(kind, subject), task, overlap };
  }

  affect(task: TaskState, overlap: number, duration: number): void {
    if (overlap < SLOWED_MIN_OVERLAP_NS || overlap < SLOWED_MIN_SHARE * duration) return;
    const isRequest = task.request !== undefined;
    if (isRequest) this.affectedRequests++;
    else this.affectedTasks++;
    this.delay += overlap;
    // Requests before tasks: they are what users wait for.
    const score = overlap + (isRequest ? 1e15 : 0);
    if (this.affected.accepts(score)) this.affected.offer(score, { task: task.id, name: isRequest ? requestLabel(task) : task.name, isRequest, duration, overlap });
  }
}

export interface GcBucket {
  gc: number;
  forced: number;
}

/** Consecutive GC windows above the pressure threshold. */
export interface GcEpisode {
  thread: number;
  start: number;
  end: number;
  /** GC time in the episode, and the part of it forced by the application (`gc()`). */
  gc: number;
  forced: number;
  /** Time the episode's windows cover (windows at the trace's edges may be partial). */
  span: number;
  /** The highest share of one window. */
  peak: number;
}

/** A run of `loop.utilization` samples at or above the saturation threshold. */
export interface SaturationEpisode {
  thread: number;
  start: number;
  end: number;
  samples: number;
  sum: number;
  min: number;
}

/** An outgoing host that requests waited on. */
export interface WaitAggregate {
  host: string;
  /** Requests that spent most of their time in one call to this host. */
  requests: number;
  waited: number;
  errors: number;
  /** Of those requests, how many had the call's task inferred (no task recorded on the call). */
  inferred: number;
  /** The request that waited longest, how long, and on which call. */
  worst: { task: number; name: string; thread: number; start: number; duration: number; waited: number; call: CallSummary } | undefined;
}

/** A region name that dominates a task name. */
export interface DominanceAggregate {
  task: string;
  region: string;
  count: number;
  regionTotal: number;
  taskTotal: number;
  worst: { task: number; name: string; thread: number; start: number; duration: number; region: number; isRequest: boolean } | undefined;
}
