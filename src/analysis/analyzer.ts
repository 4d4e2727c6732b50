import { NfrError } from '../errors/errors.js';
import { REGION_FLAG_SYNC } from '../format/events.js';
import type { EventOf, ProcessInfo, TraceEvent } from '../reader/events.js';
import {
  buildFindings, DOMINANT_REGION_SHARE, GC_PRESSURE_SHARE, GC_WINDOW_NS, LONG_GC_PAUSE_NS, MIN_DOMINATED_TASK_NS, SATURATION_UTILIZATION,
  SLOWED_MIN_OVERLAP_NS, SYNC_REGION_BLOCK_NS, WAIT_MIN_CALL_NS, WAIT_MIN_SHARE, type FindingInputs, type StallRecord,
} from './rules.js';
import { StackCounter } from './stacks.js';
import {
  addCover, breakdownOf, callSummary, isLonger, newTask, noteRegionLength, Pause, requestLabel, taskLabel, waitedIn,
  type Activity, type ActivityKind, type CallState, type DominanceAggregate, type GcBucket, type GcEpisode, type OpenCallback,
  RegionStack, type SaturationEpisode, type Subject, type TaskState, type WaitAggregate,
} from './state.js';
import { TopN } from './top.js';
import type { Analysis, CallSummary, KindCount, RequestSummary, TaskSummary, ThreadSummary, TraceStats } from './types.js';

/**
 * The analyzer: consumes a trace's events one at a time, in the order the reader hands them out,
 * and produces its statistics and findings. Memory is bounded whatever the trace's length: it
 * keeps the open tasks, regions and calls, the recent blocked turns and GC pauses of each
 * thread, fixed-size rings and top-N lists; everything else is folded into counters as it goes.
 * Every list has a bound, and one that overflows drops its older half at once, so that a
 * corrupt trace (regions that never end, thousands of threads) costs no more per event than a
 * sound one.
 *
 * Where a task's time went is settled when it ends: its own regions and outgoing calls were
 * followed as they happened; the blocked turns and GC pauses of its thread that overlapped it
 * are looked up in the thread's recent ones (kept by start, so a task that began after the last
 * of them costs one comparison).
 *
 * Order. The reader orders each generation by time, but events written after the fact (GC and
 * blocked-loop ranges, written when noticed, placed at their real start) can land in a later
 * generation, before its sync time: "late" events, which come first in that generation. A
 * generation cannot end during a blocked turn or a GC pause (both stop the thread that ends
 * generations), and the sources write such a range within moments of its end (the loop source
 * at its next tick, the GC source when the observer delivers or at the generation's end). So a
 * task that lasted long enough to be slowed (see `SLOWED_MIN_OVERLAP_NS`) is settled only when
 * a later generation has begun and shown events past its late ones, and {@link LATE_NS} has
 * passed since the task ended; until then a late range can still overlap it. Shorter tasks,
 * nearly all of them, are settled when they end.
 *
 * @example
 * ```ts
 * const analyzer = new Analyzer();
 * for (const ev of new Reader(bytes)) analyzer.add(ev);
 * const { stats, findings } = analyzer.finish();
 * ```
 */
export class Analyzer {
  private readonly top: number;
  private finished: Analysis | undefined;

  // Counting.
  private totalEvents = 0;
  private totalBytes = 0;
  private readonly kindNames: string[] = [];
  private readonly kindCounts: KindCount[] = [];
  private readonly threads: ThreadSummary[] = [];
  private readonly threadsById = new Map<number, ThreadSummary>();
  private lastThread: ThreadSummary | undefined;
  private tables = 0;
  private framing = 0;
  private hasLayout = false;

  // Time.
  private firstSync: EventOf<'sync'> | undefined;
  private lastSync: EventOf<'sync'> | undefined;
  private firstTime = Infinity;
  private watermark = -Infinity;
  /** Sync time of the generation being read; events before it are late. */
  private syncTime = -Infinity;
  private generations = 0;
  private process: ProcessInfo | undefined;
  private nextCheck = Infinity;

  // Tasks.
  /**
   * Open tasks: the one begun last in `recentTask`, the others in `openTasks`. Most tasks end
   * before another begins, so most never enter the map (a map insert and delete cost more than
   * the rest of a task's analysis).
   */
  private readonly openTasks = new Map<number, TaskState>();
  private recentTask: TaskState | undefined;
  /** Ended tasks still open to late events, in the order they ended (a queue from `pendingHead`). */
  private pending: TaskState[] = [];
  private pendingHead = 0;
  private requestCount = 0;
  private taskCount = 0;
  private readonly slowestRequests: TopN<RequestSummary>;
  private readonly slowestTasks: TopN<TaskSummary>;
  private tasksCutAtStart = 0;
  private tasksDropped = 0;
  private threadsDropped = 0;

  // Regions, callbacks, calls.
  private readonly openRegions = new Map<number, RegionStack>();
  private lastRegions: RegionStack | undefined;
  private lastRegionsThread = -1;
  private readonly openCallbacks = new Map<number, OpenCallback[]>();
  private readonly asyncTypes = new Map<number, string>();
  private readonly openCalls = new Map<number, Map<number, CallState>>();
  private callCount = 0;
  private readonly slowestCalls: TopN<CallSummary>;
  private readonly dominance = new Map<string, DominanceAggregate>();
  private readonly waits = new Map<string, WaitAggregate>();

  // Pauses: blocked loop turns and GC.
  private readonly pendingBlocks: Pause[] = [];
  private readonly retainedBlocks = new TopN<Pause>(MAX_RETAINED_PAUSES);
  /** Blocks inferred from synchronous regions, until a recorded block supersedes them. */
  private readonly inferredBlocks: Pause[] = [];

  private readonly retainedGcs = new TopN<Pause>(MAX_RETAINED_PAUSES);
  private blockCount = 0;
  private blockedTotal = 0;
  private readonly longestBlocks: TopN<{ start: number; duration: number; thread: number }>;
  /** Per thread, the recent blocked turns and GC pauses, by start: tasks take their overlaps from them when they end. */
  private readonly ranges = new Map<number, ThreadRanges>();
  private gcCount = 0;
  private gcTotal = 0;
  private readonly gcByKind = new Map<string, { count: number; total: number }>();
  private readonly longestGcs: TopN<{ start: number; duration: number; kind: string; thread: number }>;
  private readonly gcBuckets = new Map<number, Map<number, GcBucket>>();
  private readonly gcEpisodeState = new Map<number, GcEpisode & { lastIndex: number }>();
  private readonly gcEpisodes = new TopN<GcEpisode>(MAX_EPISODES);

  // Loop utilization.
  private utilizationSum = 0;
  private utilizationCount = 0;
  private utilizationMax = 0;
  private readonly utilizationState = new Map<number, { last: number; episode: SaturationEpisode | undefined }>();
  private readonly saturationEpisodes = new TopN<SaturationEpisode>(MAX_EPISODES);

  // CPU samples.
  private readonly stacks = new StackCounter();
  private readonly sampleRing: (EventOf<'cpuSample'> | undefined)[] = new Array(SAMPLE_RING);
  private sampleRingAt = 0;
  private readonly activityRing: Activity[] = Array.from({ length: ACTIVITY_RING }, () => ({ thread: -1, kind: 'region', subject: '', task: 0, start: 0, end: 0 }));
  private activityRingAt = 0;

  // Stall watchdog records.
  private readonly stalls: StallRecord[] = [];

  // Everything else.
  private lostEvents = 0;
  private lostGenerations = 0;
  private readonly sources = new Map<string, { state: string; detail: string }>();
  private heapUsedMax = 0;
  private rssMax = 0;

  constructor(options: AnalyzerOptions = {}) {
    this.top = Math.max(0, Math.floor(options.top ?? 10));
    this.slowestRequests = new TopN(this.top);
    this.slowestTasks = new TopN(this.top);
    this.slowestCalls = new TopN(this.top);
    this.longestBlocks = new TopN(this.top);
    this.longestGcs = new TopN(this.top);
  }

  /**
   * Adds the next event. `sizeInBytes` is its encoded size (from `GenerationView.size`), when
   * the caller knows it; without it, bytes by kind stay 0.
   */
  add(event: TraceEvent, sizeInBytes = 0): void {
    if (this.finished !== undefined) throw new NfrError('ERR_INVALID_ARGUMENT', 'Analyzer.add() was called after finish(); use a new Analyzer for another trace');
    this.totalEvents++;
    this.totalBytes += sizeInBytes;
    const kind = event.kind;
    // A short list scanned by identity: the kinds are the reader's interned literals, and a
    // trace has a dozen of them, which is cheaper than a map lookup per event.
    const kinds = this.kindNames;
    let k = 0;
    while (k < kinds.length && kinds[k] !== kind) k++;
    if (k === kinds.length) {
      kinds.push(kind);
      this.kindCounts.push({ count: 0, bytes: 0 });
    }
    const counted = this.kindCounts[k];
    counted.count++;
    counted.bytes += sizeInBytes;
    const time = event.time;
    if (kind === 'sync') {
      this.sync(event);
      return;
    }
    let thread = this.lastThread;
    if (thread === undefined || thread.id !== event.thread) thread = this.threadOf(event.thread);
    thread.events++;
    if (time < this.firstTime) this.firstTime = time;
    const late = time < this.syncTime;
    if (!late && time > this.watermark) this.watermark = time;
    if (time >= this.nextCheck) this.settle(time);
    switch (kind) {
      case 'taskBegin':
        return this.taskBegin(event);
      case 'taskEnd':
        return this.taskEnd(event);
      case 'httpRequest':
        return this.httpRequest(event);
      case 'httpResponse':
        return this.httpResponse(event);
      case 'regionBegin':
        return this.regionBegin(event);
      case 'regionEnd':
        return this.regionEnd(event);
      case 'httpClientBegin':
        return this.callBegin(event);
      case 'httpClientEnd':
        return this.callEnd(event);
      case 'range':
        if (event.category === 'gc') return this.gc(event, late);
        if (event.category === 'loop' && event.name === 'blocked') return this.block(event, late);
        return;
      case 'metric':
        return this.metric(event);
      case 'cpuSample':
        return this.cpuSample(event);
      case 'stall':
        return this.stall(event);
      case 'callbackBegin':
        return this.callbackBegin(event);
      case 'callbackEnd':
        return this.callbackEnd(event);
      case 'asyncCreate':
        if (this.asyncTypes.size >= MAX_ASYNC_TYPES) dropOldestHalfOfMap(this.asyncTypes);
        this.asyncTypes.set(event.id, event.type);
        return;
      case 'threadName':
        thread.name = event.name;
        return;
      case 'sourceStatus':
        this.sources.set(event.source, { state: event.state, detail: event.detail });
        return;
      case 'eventsLost':
        this.lostEvents += event.count;
        return;
      case 'generationsLost':
        this.lostGenerations += event.count;
        return;
      default:
        return;
    }
  }

  /**
   * Adds bytes of the input that are not events, so that `totalBytes` is the input's size:
   * string and stack tables, and framing (file header, batch headers, sync and end records).
   */
  addLayoutBytes(part: 'tables' | 'framing', bytes: number): void {
    this.hasLayout = true;
    this.totalBytes += bytes;
    if (part === 'tables') this.tables += bytes;
    else this.framing += bytes;
  }

  /** Settles everything still open (tasks running at the end of the window end there) and returns the analysis. */
  finish(): Analysis {
    if (this.finished !== undefined) return this.finished;
    const end = this.lastSync?.time ?? this.watermark;
    this.settle(Infinity);
    for (let i = this.pendingHead; i < this.pending.length; i++) this.finalizeTask(this.pending[i]);
    this.pending = [];
    this.pendingHead = 0;
    for (const block of this.pendingBlocks) this.finalizeBlock(block);
    this.pendingBlocks.length = 0;
    const unfinished = this.openTaskCount();
    this.forEachOpenTask((task) => {
      task.end = Math.max(end, task.start);
      task.unfinished = true;
      this.closeTaskIntervals(task);
      this.finalizeTask(task);
    });
    this.openTasks.clear();
    this.recentTask = undefined;
    for (const calls of this.openCalls.values()) {
      for (const call of calls.values()) {
        call.end = Math.max(end, call.start);
        call.unfinished = true;
        this.offerCall(call);
      }
    }
    this.closeGcBuckets(Infinity);
    for (const state of this.gcEpisodeState.values()) this.closeGcEpisode(state);
    for (const state of this.utilizationState.values()) {
      if (state.episode !== undefined) this.closeSaturation(state.episode);
      state.episode = undefined;
    }
    const stats = this.stats(unfinished);
    const inputs: FindingInputs = {
      stats,
      blocks: this.retainedBlocks.values(),
      gcs: this.retainedGcs.values(),
      gcEpisodes: this.gcEpisodes.values(),
      saturation: this.saturationEpisodes.values().map((e) => ({ ...e, blocked: this.blockedWithin(e.thread, e.start, e.end) })),
      waits: [...this.waits.values()],
      dominance: [...this.dominance.values()],
      stalls: this.stalls,
      threadName: (id) => this.threadsById.get(id)?.name,
    };
    this.finished = { stats, findings: buildFindings(inputs) };
    return this.finished;
  }

  // ---- time and generations ----

  private sync(event: EventOf<'sync'>): void {
    this.firstSync ??= event;
    this.lastSync = event;
    if (event.process !== undefined) this.process = event.process;
    if (event.time > this.watermark) this.watermark = event.time;
    if (event.time < this.firstTime) this.firstTime = event.time;
    if (event.final) {
      this.settle(event.time);
      return;
    }
    this.generations++;
    this.closeGcBuckets(this.syncTime);
    this.syncTime = event.time;
    this.scheduleCheck();
  }

  /** Settles what time `now` (not late) makes final: ended tasks no late event can reach, blocks that ended. */
  private settle(now: number): void {
    if (now >= this.syncTime) {
      const pending = this.pending;
      let head = this.pendingHead;
      while (head < pending.length && pending[head].endGeneration < this.generations && pending[head].end + LATE_NS <= now) this.finalizeTask(pending[head++]);
      this.compactPending(head);
    }
    if (this.pendingBlocks.length > 0) {
      let kept = 0;
      for (const block of this.pendingBlocks) {
        if (block.end <= now) this.finalizeBlock(block);
        else this.pendingBlocks[kept++] = block;
      }
      this.pendingBlocks.length = kept;
    }
    this.scheduleCheck();
  }

  private compactPending(head: number): void {
    if (head === this.pending.length) {
      this.pending.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > this.pending.length) {
      this.pending = this.pending.slice(head);
      head = 0;
    }
    this.pendingHead = head;
  }

  private scheduleCheck(): void {
    let next = Infinity;
    const head = this.pending[this.pendingHead];
    // A task ended in the generation being read waits for the next one (sync() checks again).
    if (head !== undefined && head.endGeneration < this.generations) next = Math.max(head.end + LATE_NS, this.syncTime);
    for (const block of this.pendingBlocks) if (block.end < next) next = block.end;
    this.nextCheck = next;
  }

  private threadOf(id: number): ThreadSummary {
    let thread = this.threadsById.get(id);
    if (thread === undefined) {
      thread = { id, name: '', events: 0 };
      if (this.threads.length < MAX_THREADS) {
        this.threadsById.set(id, thread);
        this.threads.push(thread);
      } else {
        // Only a corrupt trace has this many: the rest are counted, not listed.
        this.threadsDropped++;
      }
    }
    this.lastThread = thread;
    return thread;
  }

  // ---- tasks and requests ----

  /** The open task with this id: the one begun last is looked at first (the usual case). */
  private openTask(id: number): TaskState | undefined {
    const recent = this.recentTask;
    return recent !== undefined && recent.id === id ? recent : this.openTasks.get(id);
  }

  private openTaskCount(): number {
    return this.openTasks.size + (this.recentTask !== undefined ? 1 : 0);
  }

  private forEachOpenTask(fn: (task: TaskState) => void): void {
    if (this.recentTask !== undefined) fn(this.recentTask);
    for (const task of this.openTasks.values()) fn(task);
  }

  private taskBegin(event: EventOf<'taskBegin'>): void {
    const previous = this.recentTask;
    if (previous !== undefined) {
      if (this.openTasks.size >= MAX_OPEN_TASKS - 1) this.dropOldestTask();
      this.openTasks.set(previous.id, previous);
    }
    const task = newTask(event);
    // A second begin of an open task (a broken trace, which `nfr validate` reports) replaces it.
    if (this.openTasks.size > 0) this.openTasks.delete(task.id);
    this.recentTask = task;
    this.taskCount++;
  }

  private dropOldestTask(): void {
    this.tasksDropped += dropOldestHalfOfMap(this.openTasks);
  }

  /** An HTTP request is a task by itself: its httpRequest begins it, its httpResponse ends it. */
  private httpRequest(event: EventOf<'httpRequest'>): void {
    let task = this.openTask(event.task);
    if (task === undefined) {
      this.taskBegin({ kind: 'taskBegin', time: event.time, thread: event.thread, task: event.task, parent: 0, name: `${event.method} ${event.path}` });
      task = this.openTask(event.task);
    }
    if (task === undefined || task.request !== undefined) return;
    task.request = { method: event.method, path: event.path, route: event.route, status: 0, error: '' };
    this.requestCount++;
  }

  private httpResponse(event: EventOf<'httpResponse'>): void {
    const task = this.openTask(event.task);
    const request = task?.request;
    if (request === undefined) return;
    request.status = event.status;
    request.error = event.error;
    if (event.route !== '') request.route = event.route;
    this.taskEnd({ kind: 'taskEnd', time: event.time, thread: event.thread, task: event.task });
  }

  private taskEnd(event: EventOf<'taskEnd'>): void {
    const task = this.openTask(event.task);
    if (task === undefined) {
      this.tasksCutAtStart++;
      return;
    }
    if (this.recentTask === task) this.recentTask = undefined;
    else this.openTasks.delete(event.task);
    task.end = event.time;
    this.closeTaskIntervals(task);
    this.pushActivity(task.thread, 'task', task, task.id, task.start, task.end);
    if (this.pendingBlocks.length > 0) this.activityInBlocks(task.thread, 'task', task, task.id, task.start, task.end);
    // Only a late pause can still change the task; one shorter than the floor of a delay a
    // pause counts for cannot be slowed by one, and a late GC would move its breakdown by less
    // than its whole length: such tasks (most of them) are settled at once, keeping memory low.
    if (task.end - task.start < SLOWED_MIN_OVERLAP_NS) {
      this.finalizeTask(task);
      return;
    }
    task.endGeneration = this.generations;
    if (this.pending.length - this.pendingHead >= MAX_PENDING_TASKS) {
      this.finalizeTask(this.pending[this.pendingHead]);
      this.compactPending(this.pendingHead + 1);
    }
    this.pending.push(task);
    if (this.pending.length - this.pendingHead === 1) this.scheduleCheck();
  }

  /** Closes the task's region and call unions at its end. */
  private closeTaskIntervals(task: TaskState): void {
    if (task.regionDepth > 0) {
      task.regions += task.end - task.regionSince;
      addCover(task, task.regionSince, task.end);
      task.regionDepth = 0;
    }
    if (task.openCalls !== undefined) {
      // Calls the task did not wait out (it answered first, or the window ended): they count
      // up to its end.
      for (const call of task.openCalls) if (isLonger(call, task.slowestCall, task.end)) task.slowestCall = call;
      task.openCalls = undefined;
    }
    if (task.callDepth > 0) {
      task.outgoing += task.end - task.callSince;
      addCover(task, task.callSince, task.end);
      task.callDepth = 0;
    }
  }

  private finalizeTask(task: TaskState): void {
    const { start, end } = task;
    const duration = end - start;
    const ranges = this.ranges.get(task.thread);
    if (ranges !== undefined) {
      task.loopBlocked += overlaps(ranges.blocks, task, duration);
      task.gc += overlaps(ranges.gcs, task, duration);
    }
    const request = task.request;
    if (request !== undefined) {
      if (this.slowestRequests.accepts(duration)) {
        const summary: RequestSummary = {
          task: task.id, name: requestLabel(task), method: request.method, path: request.path, route: request.route, status: request.status, error: request.error,
          thread: task.thread, start, duration, breakdown: breakdownOf(task, duration),
        };
        if (task.unfinished) summary.unfinished = true;
        if (task.slowestCall !== undefined) summary.slowestCall = callSummary(task.slowestCall, end);
        this.slowestRequests.offer(duration, summary);
      }
      if (task.slowestCall !== undefined) this.noteWait(task, duration);
    } else if (this.slowestTasks.accepts(duration)) {
      const summary: TaskSummary = { task: task.id, name: task.name, thread: task.thread, start, duration, breakdown: breakdownOf(task, duration), parent: task.parent };
      if (task.unfinished) summary.unfinished = true;
      this.slowestTasks.offer(duration, summary);
    }
    if (task.regionsByLength !== undefined && duration >= MIN_DOMINATED_TASK_NS) this.noteDominance(task, duration);
  }

  /** Records a request that spent most of its time in one outgoing call (see rules.ts). */
  private noteWait(task: TaskState, duration: number): void {
    const call = task.slowestCall!;
    const callDuration = waitedIn(call, task.end);
    if (!(callDuration >= WAIT_MIN_CALL_NS && callDuration >= WAIT_MIN_SHARE * duration)) return;
    const key = call.host;
    let aggregate = this.waits.get(key);
    if (aggregate === undefined) {
      if (this.waits.size >= MAX_AGGREGATES) return;
      aggregate = { host: key, requests: 0, waited: 0, worst: undefined, errors: 0, inferred: 0 };
      this.waits.set(key, aggregate);
    }
    aggregate.requests++;
    aggregate.waited += callDuration;
    if (call.error !== '') aggregate.errors++;
    if (call.inferred) aggregate.inferred++;
    if (aggregate.worst === undefined || callDuration > aggregate.worst.waited) {
      aggregate.worst = { task: task.id, name: requestLabel(task), thread: task.thread, start: task.start, duration, waited: callDuration, call: callSummary(call, task.end) };
    }
  }

  /** Records the region that dominates a task, when one does (see rules.ts). */
  private noteDominance(task: TaskState, duration: number): void {
    let chosen: { name: string; duration: number } | undefined;
    // The shortest region still covering the threshold share is the most specific one.
    for (const region of task.regionsByLength!) {
      if (region.duration >= DOMINANT_REGION_SHARE * duration && (chosen === undefined || region.duration < chosen.duration)) chosen = region;
    }
    if (chosen === undefined) return;
    const taskKey = task.request !== undefined ? requestLabel(task) : task.name;
    const key = `${taskKey}\u0000${chosen.name}`;
    let aggregate = this.dominance.get(key);
    if (aggregate === undefined) {
      if (this.dominance.size >= MAX_AGGREGATES) return;
      aggregate = { task: taskKey, region: chosen.name, count: 0, regionTotal: 0, taskTotal: 0, worst: undefined };
      this.dominance.set(key, aggregate);
    }
    aggregate.count++;
    aggregate.regionTotal += chosen.duration;
    aggregate.taskTotal += duration;
    if (aggregate.worst === undefined || chosen.duration > aggregate.worst.region) {
      aggregate.worst = { task: task.id, name: task.request !== undefined ? requestLabel(task) : task.name, thread: task.thread, start: task.start, duration, region: chosen.duration, isRequest: task.request !== undefined };
    }
  }

  // ---- regions, callbacks ----

  private regionsOn(thread: number): RegionStack {
    if (thread === this.lastRegionsThread) return this.lastRegions!;
    let regions = this.openRegions.get(thread);
    if (regions === undefined) {
      regions = new RegionStack(MAX_OPEN_REGIONS);
      this.openRegions.set(thread, regions);
    }
    this.lastRegions = regions;
    this.lastRegionsThread = thread;
    return regions;
  }

  private regionBegin(event: EventOf<'regionBegin'>): void {
    this.regionsOn(event.thread).push(event.region, event.task, event.name, event.time);
    const task = this.openTask(event.task);
    if (task !== undefined && task.regionDepth++ === 0) task.regionSince = event.time;
  }

  private regionEnd(event: EventOf<'regionEnd'>): void {
    const region = this.regionsOn(event.thread).take(event.region);
    if (region === undefined) return;
    const time = event.time;
    const task = this.openTask(region.task);
    if (task !== undefined) {
      if (task.regionDepth > 0 && --task.regionDepth === 0) {
        task.regions += time - task.regionSince;
        addCover(task, task.regionSince, time);
      }
      if (time - region.start >= MIN_DOMINATED_TASK_NS * DOMINANT_REGION_SHARE) noteRegionLength(task, region.name, time - region.start);
    }
    this.pushActivity(event.thread, 'region', region.name, region.task, region.start, time);
    if (this.pendingBlocks.length > 0) this.activityInBlocks(event.thread, 'region', region.name, region.task, region.start, time);
    if ((event.flags & REGION_FLAG_SYNC) !== 0 && time - region.start >= SYNC_REGION_BLOCK_NS) this.syncRegionBlock(event.thread, region.name, region.start, time);
  }

  /**
   * A synchronous region (flag 1: it ran from begin to end without yielding) of
   * {@link SYNC_REGION_BLOCK_NS} or more blocked the loop for all of it. Usually the loop source
   * records that block too, at its next tick, and that record supersedes this one; but a snapshot
   * taken inside the slow request (the usual trigger) is written before that tick, so the region
   * is then the only trace of the block.
   */
  private syncRegionBlock(thread: number, name: string, start: number, end: number): void {
    if (this.blockedWithin(thread, start, end) >= 0.5 * (end - start)) return;
    const pause = new Pause('block', 'blocked', '', thread, start, end, this.describe);
    pause.inferredFrom = name;
    if (this.retainedBlocks.offer(end - start, pause)) {
      this.lookBack(pause);
      this.finalizeBlock(pause);
    }
    insertRange(this.rangesOf(thread).blocks, { start, end, pause });
    if (this.inferredBlocks.length >= RECENT_RANGES) dropOldestHalf(this.inferredBlocks);
    this.inferredBlocks.push(pause);
  }

  private rangesOf(thread: number): ThreadRanges {
    let ranges = this.ranges.get(thread);
    if (ranges === undefined) {
      ranges = { blocks: [], gcs: [] };
      this.ranges.set(thread, ranges);
    }
    return ranges;
  }

  private callbackBegin(event: EventOf<'callbackBegin'>): void {
    let stack = this.openCallbacks.get(event.thread);
    if (stack === undefined) {
      stack = [];
      this.openCallbacks.set(event.thread, stack);
    }
    if (stack.length >= MAX_OPEN_CALLBACKS) dropOldestHalf(stack);
    stack.push({ id: event.id, start: event.time });
  }

  private callbackEnd(event: EventOf<'callbackEnd'>): void {
    const stack = this.openCallbacks.get(event.thread);
    if (stack === undefined) return;
    let at = stack.length - 1;
    while (at >= 0 && stack[at].id !== event.id) at--;
    if (at < 0) return;
    const open = stack[at];
    stack.length = at;
    this.pushActivity(event.thread, 'callback', open.id, 0, open.start, event.time);
    if (this.pendingBlocks.length > 0) this.activityInBlocks(event.thread, 'callback', open.id, 0, open.start, event.time);
  }

  /** Names what ran during a block, for a finding: a region, a callback by its resource's type, a task. */
  private readonly describe = (kind: ActivityKind, subject: Subject): string => {
    if (kind === 'region') return `region "${String(subject)}"`;
    if (kind === 'callback') {
      const type = this.asyncTypes.get(subject as number);
      return type === undefined ? `a callback of async resource ${String(subject)}` : `a ${type} callback (async resource ${String(subject)})`;
    }
    return taskLabel(subject as TaskState);
  };

  // ---- outgoing calls ----

  private callBegin(event: EventOf<'httpClientBegin'>): void {
    let calls = this.openCalls.get(event.thread);
    if (calls === undefined) {
      calls = new Map();
      this.openCalls.set(event.thread, calls);
    }
    if (calls.size >= MAX_OPEN_CALLS) dropOldestHalfOfMap(calls);
    this.callCount++;
    let task = event.task !== 0 ? this.openTask(event.task) : undefined;
    let inferred = false;
    if (event.task === 0) {
      // No task recorded: the only task open on the thread made it, if there is exactly one.
      let found = 0;
      this.forEachOpenTask((open) => {
        if (open.thread !== event.thread) return;
        found++;
        task = open;
      });
      if (found !== 1) task = undefined;
      inferred = task !== undefined;
    }
    const call: CallState = {
      id: event.id, thread: event.thread, task, taskId: task?.id ?? event.task, inferred,
      method: event.method, host: event.host, path: event.path, start: event.time, end: NaN, status: 0, error: '', unfinished: false,
    };
    calls.set(event.id, call);
    if (task !== undefined) {
      if (task.callDepth++ === 0) task.callSince = event.time;
      (task.openCalls ??= []).push(call);
    }
  }

  private callEnd(event: EventOf<'httpClientEnd'>): void {
    const calls = this.openCalls.get(event.thread);
    const call = calls?.get(event.id);
    if (call === undefined) return;
    calls!.delete(event.id);
    call.end = event.time;
    call.status = event.status;
    call.error = event.error;
    const task = call.task;
    if (task !== undefined && Number.isNaN(task.end)) {
      if (task.callDepth > 0 && --task.callDepth === 0) {
        task.outgoing += event.time - task.callSince;
        addCover(task, task.callSince, event.time);
      }
      if (task.openCalls !== undefined) {
        const at = task.openCalls.indexOf(call);
        if (at >= 0) task.openCalls.splice(at, 1);
      }
      if (isLonger(call, task.slowestCall, task.end)) task.slowestCall = call;
    }
    this.offerCall(call);
  }

  private offerCall(call: CallState): void {
    const duration = call.end - call.start;
    if (this.slowestCalls.accepts(duration)) this.slowestCalls.offer(duration, callSummary(call, call.end));
  }

  // ---- pauses: blocked loop turns, GC ----

  private block(event: EventOf<'range'>, late: boolean): void {
    const start = event.time;
    const end = start + event.duration;
    this.blockCount++;
    this.blockedTotal += event.duration;
    if (this.longestBlocks.accepts(event.duration)) this.longestBlocks.offer(event.duration, { start, duration: event.duration, thread: event.thread });
    // A block inferred from a synchronous region, now recorded: the record stands for both.
    for (let i = this.inferredBlocks.length - 1; i >= 0; i--) {
      const inferred = this.inferredBlocks[i];
      if (inferred.thread === event.thread && Math.min(inferred.end, end) - Math.max(inferred.start, start) >= 0.5 * inferred.duration) {
        inferred.superseded = true;
        this.inferredBlocks.splice(i, 1);
      }
    }
    // Only the blocks a finding may name get a record of what they affected and what ran.
    const pause = this.retainedBlocks.accepts(event.duration) ? new Pause('block', 'blocked', '', event.thread, start, end, this.describe) : undefined;
    insertRange(this.rangesOf(event.thread).blocks, { start, end, pause });
    if (pause === undefined) return;
    this.retainedBlocks.offer(event.duration, pause);
    if (late || end <= this.watermark) {
      // Everything inside it was read already: look back, then settle it.
      this.lookBack(pause);
      this.finalizeBlock(pause);
    } else {
      // One thread blocks once at a time; only a corrupt trace piles up blocks still running.
      if (this.pendingBlocks.length >= MAX_PENDING_BLOCKS) this.finalizeBlock(this.pendingBlocks.shift()!);
      this.pendingBlocks.push(pause);
      this.scheduleCheck();
    }
  }

  private gc(event: EventOf<'range'>, late: boolean): void {
    const start = event.time;
    const duration = event.duration;
    const end = start + duration;
    this.gcCount++;
    this.gcTotal += duration;
    let byKind = this.gcByKind.get(event.name);
    if (byKind === undefined) {
      byKind = { count: 0, total: 0 };
      this.gcByKind.set(event.name, byKind);
    }
    byKind.count++;
    byKind.total += duration;
    if (this.longestGcs.accepts(duration)) this.longestGcs.offer(duration, { start, duration, kind: event.name, thread: event.thread });
    this.addGcToBuckets(event.thread, start, end, event.detail.includes('forced'));
    let pause: Pause | undefined;
    if (duration >= LONG_GC_PAUSE_NS && this.retainedGcs.accepts(duration)) {
      pause = new Pause('gc', event.name, event.detail, event.thread, start, end, this.describe);
      this.retainedGcs.offer(duration, pause);
    }
    insertRange(this.rangesOf(event.thread).gcs, { start, end, pause });
  }

  /** For a block read after what happened inside it: the samples and activities already seen. */
  private lookBack(pause: Pause): void {
    for (let i = 1; i <= SAMPLE_RING; i++) {
      const sample = this.sampleRing[(this.sampleRingAt - i + SAMPLE_RING) % SAMPLE_RING];
      if (sample === undefined || sample.time < pause.start) break;
      if (sample.thread === pause.thread && sample.time <= pause.end) pause.sample(sample.stack);
    }
    for (const a of this.activityRing) {
      if (a.thread === pause.thread) pause.activity(a.kind, a.subject, a.task, a.start, a.end);
    }
  }

  private finalizeBlock(pause: Pause): void {
    const thread = pause.thread;
    // What was still running on the thread when the block ended.
    // The innermost ones only: what ran is among what began last, and a broken trace with
    // thousands left open must not make every block cost thousands.
    const regions = this.openRegions.get(thread)?.open() ?? [];
    for (let i = Math.max(0, regions.length - OPEN_SCANNED); i < regions.length; i++) pause.activity('region', regions[i].name, regions[i].task, regions[i].start, pause.end);
    const callbacks = this.openCallbacks.get(thread) ?? [];
    for (let i = Math.max(0, callbacks.length - OPEN_SCANNED); i < callbacks.length; i++) pause.activity('callback', callbacks[i].id, 0, callbacks[i].start, pause.end);
    let scanned = 0;
    this.forEachOpenTask((task) => {
      if (task.thread === thread && scanned++ < OPEN_SCANNED) pause.activity('task', task, task.id, task.start, pause.end);
    });
    pause.settled = true;
  }

  private activityInBlocks(thread: number, kind: ActivityKind, subject: Subject, task: number, start: number, end: number): void {
    for (const block of this.pendingBlocks) if (block.thread === thread) block.activity(kind, subject, task, start, end);
  }

  private pushActivity(thread: number, kind: ActivityKind, subject: Subject, task: number, start: number, end: number): void {
    const slot = this.activityRing[this.activityRingAt];
    this.activityRingAt = (this.activityRingAt + 1) & (ACTIVITY_RING - 1);
    slot.thread = thread;
    slot.kind = kind;
    slot.subject = subject;
    slot.task = task;
    slot.start = start;
    slot.end = end;
  }

  private cpuSample(event: EventOf<'cpuSample'>): void {
    this.stacks.add(event.stack);
    this.sampleRing[this.sampleRingAt] = event;
    this.sampleRingAt = (this.sampleRingAt + 1) % SAMPLE_RING;
    for (const block of this.pendingBlocks) {
      if (block.thread === event.thread && event.time >= block.start && event.time <= block.end) block.sample(event.stack);
    }
  }

  /** A stall watchdog's record: with the requests and tasks then open on the stalled thread, which it held up. */
  private stall(event: EventOf<'stall'>): void {
    if (this.stalls.length >= MAX_STALLS) return;
    const open: StallRecord['open'] = [];
    this.forEachOpenTask((task) => {
      if (task.thread === event.blockedThread) open.push({ task: task.id, name: task.request !== undefined ? requestLabel(task) : task.name, isRequest: task.request !== undefined, start: task.start });
    });
    // Requests first (what users wait for), then the longest open.
    open.sort((a, b) => Number(b.isRequest) - Number(a.isRequest) || a.start - b.start);
    this.stalls.push({ time: event.time, blocked: event.blocked, thread: event.blockedThread, stack: event.stack, open: open.slice(0, MAX_STALL_OPEN), openCount: open.length });
  }

  // ---- GC pressure ----

  private addGcToBuckets(thread: number, start: number, end: number, forced: boolean): void {
    // No real pause lasts minutes; a longer one can only come from a corrupt trace, and would
    // make this loop long.
    if (end - start > MAX_GC_RANGE_NS) end = start + MAX_GC_RANGE_NS;
    let buckets = this.gcBuckets.get(thread);
    if (buckets === undefined) {
      buckets = new Map();
      this.gcBuckets.set(thread, buckets);
    }
    for (let index = Math.floor(start / GC_WINDOW_NS); index * GC_WINDOW_NS < end; index++) {
      const part = Math.min(end, (index + 1) * GC_WINDOW_NS) - Math.max(start, index * GC_WINDOW_NS);
      let bucket = buckets.get(index);
      if (bucket === undefined) {
        if (buckets.size >= MAX_GC_BUCKETS) this.closeGcBuckets(index * GC_WINDOW_NS);
        bucket = { gc: 0, forced: 0 };
        buckets.set(index, bucket);
      }
      bucket.gc += part;
      if (forced) bucket.forced += part;
    }
  }

  /** Closes every GC window that ends at or before `limit`, in order, into episodes. */
  private closeGcBuckets(limit: number): void {
    const traceStart = this.firstSync?.time ?? this.firstTime;
    const traceEnd = limit === Infinity ? (this.lastSync?.time ?? this.watermark) : Infinity;
    for (const [thread, buckets] of this.gcBuckets) {
      const closing = [...buckets.keys()].filter((i) => (i + 1) * GC_WINDOW_NS <= limit).sort((a, b) => a - b);
      if (closing.length === 0) continue;
      let state = this.gcEpisodeState.get(thread);
      if (state === undefined) {
        state = { thread, start: 0, end: 0, gc: 0, forced: 0, span: 0, peak: 0, lastIndex: -Infinity };
        this.gcEpisodeState.set(thread, state);
      }
      for (const index of closing) {
        const bucket = buckets.get(index)!;
        buckets.delete(index);
        const from = Math.max(index * GC_WINDOW_NS, traceStart);
        const to = Math.min((index + 1) * GC_WINDOW_NS, traceEnd);
        const span = to - from;
        const share = span >= GC_WINDOW_NS / 2 ? bucket.gc / span : 0;
        if (share < GC_PRESSURE_SHARE || index !== state.lastIndex + 1) this.closeGcEpisode(state);
        if (share >= GC_PRESSURE_SHARE) {
          if (state.span === 0) state.start = from;
          state.end = to;
          state.gc += bucket.gc;
          state.forced += bucket.forced;
          state.span += span;
          if (share > state.peak) state.peak = share;
        }
        state.lastIndex = index;
      }
    }
  }

  private closeGcEpisode(state: GcEpisode & { lastIndex: number }): void {
    if (state.span > 0) this.gcEpisodes.offer(state.gc, { thread: state.thread, start: state.start, end: state.end, gc: state.gc, forced: state.forced, span: state.span, peak: state.peak });
    state.span = 0;
    state.gc = 0;
    state.forced = 0;
    state.peak = 0;
  }

  // ---- metrics ----

  private metric(event: EventOf<'metric'>): void {
    const name = event.name;
    if (name === 'loop.utilization') return this.utilization(event);
    if (name === 'memory.heapUsed') {
      if (event.value > this.heapUsedMax) this.heapUsedMax = event.value;
    } else if (name === 'memory.rss') {
      if (event.value > this.rssMax) this.rssMax = event.value;
    }
  }

  private utilization(event: EventOf<'metric'>): void {
    const value = event.value;
    if (!Number.isFinite(value)) return;
    this.utilizationSum += value;
    this.utilizationCount++;
    if (value > this.utilizationMax) this.utilizationMax = value;
    let state = this.utilizationState.get(event.thread);
    if (state === undefined) {
      state = { last: NaN, episode: undefined };
      this.utilizationState.set(event.thread, state);
    }
    // A sample covers the interval since the previous one (the source's interval).
    const interval = Number.isNaN(state.last) ? DEFAULT_UTILIZATION_INTERVAL_NS : Math.min(event.time - state.last, MAX_UTILIZATION_INTERVAL_NS);
    state.last = event.time;
    if (value >= SATURATION_UTILIZATION) {
      const episode = (state.episode ??= { thread: event.thread, start: event.time - interval, end: event.time, samples: 0, sum: 0, min: 1 });
      episode.end = event.time;
      episode.samples++;
      episode.sum += value;
      if (value < episode.min) episode.min = value;
    } else if (state.episode !== undefined) {
      this.closeSaturation(state.episode);
      state.episode = undefined;
    }
  }

  private closeSaturation(episode: SaturationEpisode): void {
    this.saturationEpisodes.offer(episode.end - episode.start, episode);
  }

  /** Time of recorded blocks inside [start, end] on a thread (from the recent blocks kept). */
  private blockedWithin(thread: number, start: number, end: number): number {
    let total = 0;
    for (const b of this.ranges.get(thread)?.blocks ?? []) {
      if (b.pause?.superseded === true || b.pause?.inferredFrom !== undefined) continue;
      const overlap = Math.min(b.end, end) - Math.max(b.start, start);
      if (overlap > 0) total += overlap;
    }
    return total;
  }

  // ---- the result ----

  private stats(unfinished: number): TraceStats {
    const start = this.firstSync?.time ?? (Number.isFinite(this.firstTime) ? this.firstTime : 0);
    const end = this.lastSync?.time ?? (Number.isFinite(this.watermark) ? this.watermark : start);
    const wall = (sync: EventOf<'sync'> | undefined, time: number) => (sync === undefined ? 0 : sync.clock.wallSec * 1e3 + sync.clock.wallNsec / 1e6 + (time - sync.clock.trace) / 1e6);
    const byKind: Record<string, KindCount> = {};
    for (const [kind, c] of this.kindNames.map((name, i) => [name, this.kindCounts[i]] as const).sort((a, b) => b[1].bytes - a[1].bytes || b[1].count - a[1].count)) byKind[kind] = { ...c };
    const gcByKind: Record<string, { count: number; total: number }> = {};
    for (const [kind, c] of this.gcByKind) gcByKind[kind] = { ...c };
    const samples = this.stacks.total;
    const notes: string[] = [];
    if (unfinished > 0) notes.push(`${unfinished} task(s) were still running when the window ended; their durations run to its end`);
    if (this.tasksCutAtStart > 0) notes.push(`${this.tasksCutAtStart} task(s) began before the window and are left out`);
    if (this.tasksDropped > 0) notes.push(`${this.tasksDropped} task(s) were dropped unfinished: more than ${MAX_OPEN_TASKS} were open at once`);
    if (this.threadsDropped > 0) notes.push(`events of ${this.threadsDropped} more threads are counted but the threads are not listed (over ${MAX_THREADS})`);
    if (this.stacks.dropped > 0) notes.push(`${this.stacks.dropped} CPU samples of rare stacks are counted in the total but not in the top stacks`);
    if (this.blockCount > RECENT_RANGES || this.gcCount > RECENT_RANGES) notes.push(`task breakdowns count the last ${RECENT_RANGES} blocked turns and GC pauses of each thread only`);
    const stats: TraceStats = {
      start,
      end,
      duration: end - start,
      wallStart: wall(this.firstSync, start),
      wallEnd: wall(this.lastSync, end),
      generations: this.generations,
      process: this.process,
      threads: this.threads.map((t) => ({ ...t })),
      totalEvents: this.totalEvents,
      totalBytes: this.totalBytes,
      byKind,
      requests: { count: this.requestCount, slowest: this.slowestRequests.values() },
      tasks: { count: this.taskCount - this.requestCount, slowest: this.slowestTasks.values() },
      loop: {
        blocks: this.blockCount,
        blockedTotal: this.blockedTotal,
        longestBlocks: this.longestBlocks.values(),
        utilizationMean: this.utilizationCount > 0 ? this.utilizationSum / this.utilizationCount : 0,
        utilizationMax: this.utilizationMax,
      },
      gc: { count: this.gcCount, total: this.gcTotal, byKind: gcByKind, longest: this.longestGcs.values() },
      cpu: {
        samples,
        topStacks: this.stacks.top(this.top).map((s) => ({ frames: s.frames, samples: s.samples, share: samples > 0 ? s.samples / samples : 0 })),
        topFunctions: this.stacks.functions().sort((a, b) => b.self - a.self || b.total - a.total).slice(0, this.top),
      },
      lost: { events: this.lostEvents, generations: this.lostGenerations },
      calls: { count: this.callCount, slowest: this.slowestCalls.values() },
      utilizationSamples: this.utilizationCount,
      sources: Object.fromEntries(this.sources),
      notes,
    };
    if (this.hasLayout) stats.layout = { tables: this.tables, framing: this.framing };
    if (this.heapUsedMax > 0 || this.rssMax > 0) stats.memory = { heapUsedMax: this.heapUsedMax, rssMax: this.rssMax };
    return stats;
  }
}

/** Analyzes events in one go: `analyze(new Reader(bytes))`. */
export function analyze(events: Iterable<TraceEvent>, options?: AnalyzerOptions): Analysis {
  const analyzer = new Analyzer(options);
  for (const event of events) analyzer.add(event);
  return analyzer.finish();
}

export interface AnalyzerOptions {
  /** How many slowest requests, tasks and calls, longest pauses and top stacks to list (default 10). */
  top?: number;
}

// ---- bounds and thresholds ----

/** Stall watchdog records kept: one per stall snapshot, so a trace has a few. */
const MAX_STALLS = 100;
/** Open tasks named per stall. */
const MAX_STALL_OPEN = 5;
/** Blocks still running at once (one per thread in a real trace). */
const MAX_PENDING_BLOCKS = 64;
/** Threads listed; a real process has a few dozen at most. */
const MAX_THREADS = 4096;
/** Open tasks tracked at once; past it the oldest open task is dropped (and counted). */
const MAX_OPEN_TASKS = 100_000;
/**
 * How long after an ended task a late range may still arrive that overlaps it: the sources write
 * a GC or blocked-loop range within moments of its end (the next loop tick, 10 ms by default;
 * the GC observer's next delivery); 1 s leaves room for a loaded machine.
 */
const LATE_NS = 1e9;
/** Ended tasks waiting for late events; past it the oldest is settled early. */
const MAX_PENDING_TASKS = 100_000;
const MAX_OPEN_REGIONS = 100_000;
const MAX_OPEN_CALLBACKS = 10_000;
const MAX_OPEN_CALLS = 100_000;
const MAX_ASYNC_TYPES = 100_000;
/** Distinct hosts and (task, region) pairs aggregated for findings. */
const MAX_AGGREGATES = 10_000;
/** Blocks and long GC pauses kept, longest first, with what they affected. */
const MAX_RETAINED_PAUSES = 200;
const MAX_EPISODES = 20;
/** Recent CPU samples and ended activities, for blocks read after what happened inside them. */
const SAMPLE_RING = 16_384;
/** Powers of two. */
const ACTIVITY_RING = 1024;
/** Blocked turns and GC pauses remembered per thread (for tasks still open, and loop saturation). */
const RECENT_RANGES = 4096;
/** Open regions, callbacks and tasks looked at for what ran during a block. */
const OPEN_SCANNED = 64;
/** Open GC windows per thread (each 1 s); more closes the oldest. */
const MAX_GC_BUCKETS = 600;
/** Longest GC range counted into windows (see addGcToBuckets). */
const MAX_GC_RANGE_NS = 300e9;
const DEFAULT_UTILIZATION_INTERVAL_NS = 100e6;
const MAX_UTILIZATION_INTERVAL_NS = 1e9;

/** Drops the older half of a bounded list at once, so that keeping it bounded costs O(1) per item. */
function dropOldestHalf(list: unknown[]): void {
  list.splice(0, list.length >>> 1);
}

/** A recorded blocked turn or GC pause, with its record for findings when it is one of the longest. */
interface RangeRef {
  start: number;
  end: number;
  pause: Pause | undefined;
}

interface ThreadRanges {
  blocks: RangeRef[];
  gcs: RangeRef[];
}

/** Adds a range to a list kept by start (late ones go back to their place), bounded. */
function insertRange(list: RangeRef[], range: RangeRef): void {
  if (list.length >= RECENT_RANGES) dropOldestHalf(list);
  let at = list.length;
  while (at > 0 && list[at - 1].start > range.start) at--;
  if (at === list.length) list.push(range);
  else list.splice(at, 0, range);
}

/**
 * Sums a task's overlaps with the ranges of its thread (which follow each other and so are in
 * order of their ends too), adds them to its cover, and tells the longest ranges which tasks
 * they slowed. The usual task, begun after the last range ended, costs one comparison.
 */
function overlaps(list: readonly RangeRef[], task: TaskState, duration: number): number {
  const { start, end } = task;
  if (list.length === 0 || list[list.length - 1].end <= start) return 0;
  // The first range that ends after the task starts.
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].end <= start) lo = mid + 1;
    else hi = mid;
  }
  let total = 0;
  for (let i = lo; i < list.length && list[i].start < end; i++) {
    const range = list[i];
    if (range.pause?.superseded === true) continue;
    const from = Math.max(range.start, start);
    const to = Math.min(range.end, end);
    if (to <= from) continue;
    total += to - from;
    addCover(task, from, to);
    range.pause?.affect(task, to - from, duration);
  }
  return total;
}

/**
 * Drops the older half of a bounded map's entries at once (maps iterate in insertion order).
 * One at a time would cost more and more: a map walks past its deleted entries from the start.
 */
function dropOldestHalfOfMap(map: Map<unknown, unknown>): number {
  let drop = map.size >>> 1;
  const dropped = drop;
  for (const key of map.keys()) {
    if (drop-- <= 0) break;
    map.delete(key);
  }
  return dropped;
}
