/**
 * The model both exporters share: trace events in, tracks and their slices, instants, counters
 * and flows out, in a form any timeline viewer can draw. It decides *where* each thing goes;
 * the Perfetto and Chrome writers only decide how to spell it (docs/export.md has the mapping).
 *
 * Viewers nest the slices of a track by time, so a track must only ever hold slices that nest
 * strictly. Our events do not promise that (an async region can end after a later one began; a
 * loop block's estimated start can cut into a callback), so every slice is placed when it *ends*,
 * when both its ends are known, on the first track where it nests: its thread's track, or an
 * overflow lane. Tasks take a lane of their pool when they begin and give it back when they end,
 * so concurrent requests sit side by side and a lane holds one task and its regions at a time.
 *
 * Streaming with bounded state: what is open (regions, tasks, callbacks, client calls, ranges
 * whose end is still ahead) is kept until it ends; everything else is written and forgotten.
 * The maps of open things are capped, so a trace full of unended regions cannot grow memory
 * without bound (the overflow is counted in `stats`).
 */
import type { StackFrame } from '../format/events.js';
import { decodeText } from '../format/text.js';
import type { ProcessInfo, SyncEvent, TraceEvent } from '../reader/events.js';

/** A track of the timeline. */
export interface Track {
  /** Unique and stable for the whole output, never 0. */
  readonly uuid: number;
  readonly kind: 'process' | 'thread' | 'lane' | 'counter';
  /** Display name (for a thread, its name; for a lane, the name shared by its pool). */
  name: string;
  /** The track this one belongs to: the process track, or for thread overflow lanes, the thread. */
  readonly parent: Track | undefined;
  /** For thread tracks: our thread id (0 is the main thread). */
  readonly thread: number;
  /** For lanes: the category their slices carry. For counters: the unit ('bytes' or ''). */
  readonly category: string;
}

/**
 * A string argument as UTF-8 bytes, as a writer on another thread receives it
 * (timeline-commands.ts): writers copy the bytes rather than decode and encode the string again.
 * Only well-formed strings travel so. Like {@link Args}, it is reused: read it during the call.
 */
export class Utf8Text {
  bytes: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;
  /** Every byte is printable ASCII other than `"` and `\`: the JSON string is the bytes in quotes. */
  plainJson = false;

  toString(): string {
    return decodeText(this.bytes, this.start, this.end);
  }
}

/** An argument's value. */
export type ArgValue = string | number | boolean | Utf8Text;

/**
 * Arguments of a slice or instant, as parallel key/value lists. The builder reuses one object:
 * a writer must read it during the call and not keep it.
 */
export class Args {
  readonly keys: string[] = [];
  readonly values: ArgValue[] = [];
  length = 0;

  clear(): this {
    this.length = 0;
    return this;
  }

  add(key: string, value: ArgValue): this {
    this.keys[this.length] = key;
    this.values[this.length] = value;
    this.length++;
    return this;
  }

  /** Adds a string only when it is not empty, a number only when it is not 0. */
  addIf(key: string, value: string | number): this {
    if (value !== '' && value !== 0) this.add(key, value);
    return this;
  }
}

/** A flow end point: the async resource `id` of thread `thread`. `id` -1 means none. */
export interface FlowRef {
  thread: number;
  id: number;
}

/** What the builder tells a writer. Calls come in output order; times are trace ns. */
export interface TimelineWriter {
  /** A clock snapshot: at the start of every generation and at the end of the trace. */
  clock(sync: SyncEvent): void;
  /** A track is about to be used for the first time, or a thread was renamed. */
  declare(track: Track): void;
  /**
   * A slice on `track` from `begin` to `end`. `thread` is the thread it ran on; `group` is the
   * id that ties a lane's slice to the task (or other holder) it belongs to, unique for the
   * output, 0 on thread tracks. `flowIn` ends a flow (the slice is the first callback of a
   * resource created earlier).
   */
  slice(track: Track, thread: number, group: number, begin: number, end: number, name: string, category: string, args: Args, flowInThread: number, flowInId: number): void;
  /** An instant. `flowOutId` >= 0 starts a flow; `stack` (innermost frame first) is a sampled stack. */
  instant(track: Track, thread: number, time: number, name: string, category: string, args: Args, flowOutThread: number, flowOutId: number, stack: readonly StackFrame[] | undefined): void;
  /** A counter value. */
  counter(track: Track, thread: number, time: number, value: number): void;
  /** No more calls follow. */
  end(): void;
}

/**
 * What a writer may ask of the builder that calls it: the pid (1 when the trace does not say),
 * the process facts, and what had to be left out. A {@link TimelineBuilder} is one; so is what a
 * caller that runs the builder on another thread keeps up to date (cli/commands/convert-*.ts).
 */
export interface TimelineFacts {
  readonly pid: number;
  readonly process: ProcessInfo | undefined;
  readonly stats: TimelineStats;
}

/** What the builder had to leave out, for the converter's summary. */
export interface TimelineStats {
  /** Open regions, tasks, calls or ranges forgotten because too many were open at once. */
  droppedOpen: number;
  /** Slices that began before the trace's window (their begin is the window's start). */
  beganBeforeWindow: number;
  /** Slices still open at the end of the trace (their end is the window's end). */
  unfinished: number;
}

/** How many things of one kind may be open at once before the oldest is forgotten. */
const MAX_OPEN = 1 << 16;
/** Open tasks kept in a short array before a map takes the rest. */
const RECENT_TASKS = 32;
/** Ended regions and tasks kept for reuse. */
const FREE_LIST = 256;
/** Top-level intervals a lane remembers; older ones merge (which only ever moves a slice to another lane). */
const MAX_LANE_INTERVALS = 32;

/** A lane: a track whose slices are placed by the builder so that they nest. */
class Lane implements Track {
  readonly kind = 'lane' as const;
  readonly thread = 0;
  /** The task that owns the lane now; 0 when free. */
  holder = 0;
  /** End of the last thing placed on a free lane. */
  maxEnd = -Infinity;
  /** Top-level intervals placed since the lane was last taken or reset: [b0, e0, b1, e1, ...]. */
  readonly intervals: number[] = [];

  constructor(
    readonly uuid: number,
    public name: string,
    readonly parent: Track,
    readonly category: string,
  ) {}
}

/**
 * Whether [b, e] can be placed on a lane whose earlier intervals (all ending at or before e)
 * are `iv`, so that the lane's slices nest strictly. Ties: an earlier slice ending exactly at b,
 * or a contained one ending exactly at e, are fine (it was written first, and viewers keep file
 * order for equal times); one beginning exactly at b is not (it would become the parent).
 */
function fits(iv: number[], b: number, e: number): boolean {
  let i = iv.length;
  while (i > 0 && iv[i - 2] > b) {
    if (iv[i - 1] > e) return false;
    i -= 2;
  }
  return i === 0 || iv[i - 1] <= b;
}

function place(iv: number[], b: number, e: number): void {
  let i = iv.length;
  while (i > 0 && iv[i - 2] > b) i -= 2;
  if (i !== iv.length) iv.length = i;
  iv.push(b, e);
  if (iv.length > MAX_LANE_INTERVALS * 2) {
    // Merge all but the last few into one: the merged interval covers the gaps between them,
    // which can only make a later slice look like it overlaps (and move to another lane),
    // never the reverse. Merging many at once keeps the cost per slice constant.
    const keep = 8 * 2;
    iv[1] = iv[iv.length - keep - 1];
    iv.splice(2, iv.length - keep - 2);
  }
}

/** A pool of lanes sharing a name, under the process track. */
class LanePool {
  readonly lanes: Lane[] = [];
  constructor(
    readonly name: string,
    readonly category: string,
  ) {}
}

interface OpenRegion {
  id: number;
  task: number;
  name: string;
  begin: number;
}

interface OpenCallback {
  id: number;
  begin: number;
  /** The resource's type when its creation was seen. */
  type: string;
  /** This is the resource's first callback since its creation: it ends the creation's flow. */
  endsFlow: boolean;
}

interface Resource {
  type: string;
  flowPending: boolean;
}

interface PendingRange {
  begin: number;
  end: number;
  category: string;
  name: string;
  detail: string;
}

class ThreadState {
  readonly track: ThreadTrack;
  /** Overflow lanes for slices that do not nest on the thread's track. */
  readonly overflow: Lane[] = [];
  /** Open regions, most recent last (regions mostly end in reverse order of their begins). */
  readonly regions: OpenRegion[] = [];
  readonly callbacks: OpenCallback[] = [];
  /** Async resources whose creation was seen, for callback names and flows (oldest first). */
  readonly resources = new Map<number, Resource>();
  /** Backdated ranges waiting for the stream to pass their end, sorted by end. */
  readonly pendingRanges: PendingRange[] = [];

  constructor(track: ThreadTrack) {
    this.track = track;
  }
}

class ThreadTrack implements Track {
  readonly kind = 'thread' as const;
  readonly category = '';
  readonly intervals: number[] = [];
  constructor(
    readonly uuid: number,
    public name: string,
    readonly parent: Track,
    readonly thread: number,
  ) {}
}

class SimpleTrack implements Track {
  constructor(
    readonly uuid: number,
    readonly kind: 'process' | 'counter',
    public name: string,
    readonly parent: Track | undefined,
    readonly category: string,
  ) {}
  readonly thread = 0;
}

interface OpenTask {
  id: number;
  parent: number;
  name: string;
  begin: number;
  thread: number;
  lane: Lane | undefined;
  group: number;
  /** What the http source said of the request, when the task is a server request. */
  http: HttpRequestInfo | undefined;
}

interface HttpRequestInfo {
  method: string;
  path: string;
  route: string;
  remote: string;
  status: number;
  requestBytes: number;
  responseBytes: number;
  error: string;
}

function httpInfo(task: OpenTask): HttpRequestInfo {
  task.http ??= { method: '', path: '', route: '', remote: '', status: 0, requestBytes: 0, responseBytes: 0, error: '' };
  return task.http;
}

/**
 * The open tasks by id. Most traces have a few open at a time, each ending soon after it began:
 * a short array searched from its end serves those faster than a Map (whose deletions are what
 * cost most when tasks come and go by the million); a Map takes the rest.
 */
class OpenTasks {
  private readonly recent: OpenTask[] = [];
  private readonly older = new Map<number, OpenTask>();

  get size(): number {
    return this.recent.length + this.older.size;
  }

  get(id: number): OpenTask | undefined {
    const recent = this.recent;
    for (let i = recent.length - 1; i >= 0; i--) if (recent[i].id === id) return recent[i];
    return this.older.size === 0 ? undefined : this.older.get(id);
  }

  add(task: OpenTask): void {
    if (this.recent.length < RECENT_TASKS) this.recent.push(task);
    else this.older.set(task.id, task);
  }

  /** Removes `task`; false if it was not open. */
  remove(task: OpenTask): boolean {
    const recent = this.recent;
    for (let i = recent.length - 1; i >= 0; i--) {
      if (recent[i] === task) {
        if (i === recent.length - 1) recent.pop();
        else recent.splice(i, 1);
        return true;
      }
    }
    if (this.older.get(task.id) !== task) return false;
    this.older.delete(task.id);
    return true;
  }

  /** The task open the longest (roughly: the first of the map, else of the array). */
  oldest(): OpenTask | undefined {
    return this.older.size > 0 ? this.older.values().next().value : this.recent[0];
  }

  all(): OpenTask[] {
    return [...this.recent, ...this.older.values()];
  }
}

interface OpenCall {
  begin: number;
  thread: number;
  name: string;
  category: string;
  task: number;
  detail: string;
}

/** Turns a stream of trace events into timeline calls on a writer. */
export class TimelineBuilder implements TimelineFacts {
  readonly stats: TimelineStats = { droppedOpen: 0, beganBeforeWindow: 0, unfinished: 0 };
  /** The process facts, from the first sync that has them. */
  process: ProcessInfo | undefined;
  /** The process's pid as written (1 when the trace does not say). */
  pid = 1;
  private nextUuid = 1;
  private nextGroup = 1;
  private processTrack: SimpleTrack | undefined;
  private readonly threads = new Map<number, ThreadState>();
  private readonly counters = new Map<string, SimpleTrack>();
  private readonly tasks = new OpenTasks();
  private readonly clientCalls = new Map<number, OpenCall>();
  private readonly ranges = new Map<number, OpenCall>();
  private readonly pools = new Map<string, LanePool>();
  private readonly requestPool = this.pool('HTTP requests', 'http');
  private readonly taskPool = this.pool('Tasks', 'task');
  private readonly clientPool = this.pool('HTTP client', 'http');
  private readonly args = new Args();
  /** Ended regions and tasks, reused for the next ones: most traces are a stream of them. */
  private readonly freeRegions: OpenRegion[] = [];
  private readonly freeTasks: OpenTask[] = [];
  /** "create <type>" per resource type (a few dozen types). */
  private readonly createNames = new Map<string, string>();
  private windowStart = NaN;
  private lastTime = 0;
  /** Earliest end among all threads' pending ranges. */
  private nextRangeEnd = Infinity;
  private finished = false;
  /** The thread of the last event, looked up again most of the time. */
  private lastThreadId = -1;
  private lastThread: ThreadState | undefined;

  constructor(private readonly writer: TimelineWriter) {}

  /** Feeds the next event, in reader order. */
  event(e: TraceEvent): void {
    if (this.finished) return;
    // One switch over every kind, the most frequent first: `kind` is read once, and even `time`
    // is read in each case (events of different kinds have different shapes, so a read of a
    // field common to all of them is a slow, megamorphic one, which for a time also makes a
    // heap number per event).
    switch (e.kind) {
      case 'metric': {
        const t = this.at(e.time);
        this.writer.counter(this.counter(e.name), e.thread, t, e.value);
        return;
      }
      case 'log': {
        const t = this.at(e.time);
        const args = this.args.clear();
        args.add('message', e.message).addIf('task', e.task);
        this.writer.instant(this.thread(e.thread).track, e.thread, t, e.category, 'log', args, 0, -1, undefined);
        return;
      }
      case 'instant': {
        const t = this.at(e.time);
        const args = this.args.clear();
        args.addIf('detail', e.detail);
        this.writer.instant(this.thread(e.thread).track, e.thread, t, e.name, e.category, args, 0, -1, undefined);
        return;
      }
      case 'regionBegin': {
        const t = this.at(e.time);
        const regions = this.thread(e.thread).regions;
        if (regions.length >= MAX_OPEN) {
          regions.shift();
          this.stats.droppedOpen++;
        }
        const region = this.freeRegions.pop();
        if (region === undefined) regions.push({ id: e.region, task: e.task, name: e.name, begin: t });
        else {
          region.id = e.region;
          region.task = e.task;
          region.name = e.name;
          region.begin = t;
          regions.push(region);
        }
        return;
      }
      case 'regionEnd': {
        const t = this.at(e.time);
        this.regionEnd(e.thread, e.region, e.task, (e.flags & 1) !== 0, t);
        return;
      }
      case 'taskBegin': {
        const t = this.at(e.time);
        this.taskBegin(e.task, e.parent, e.name, t, e.thread);
        return;
      }
      case 'taskEnd': {
        const t = this.at(e.time);
        this.taskEnd(e.task, t, e.thread);
        return;
      }
      case 'callbackBegin': {
        const t = this.at(e.time);
        const ts = this.thread(e.thread);
        const resource = ts.resources.get(e.id);
        const endsFlow = resource !== undefined && resource.flowPending;
        if (endsFlow) resource.flowPending = false;
        if (ts.callbacks.length >= MAX_OPEN) {
          ts.callbacks.shift();
          this.stats.droppedOpen++;
        }
        ts.callbacks.push({ id: e.id, begin: t, type: resource?.type ?? '', endsFlow });
        return;
      }
      case 'callbackEnd': {
        const t = this.at(e.time);
        this.callbackEnd(e.thread, e.id, t);
        return;
      }
      case 'asyncCreate': {
        const t = this.at(e.time);
        const args = this.args.clear();
        const ts = this.thread(e.thread);
        const resources = ts.resources;
        if (resources.size >= MAX_OPEN) this.dropOldest(resources, false);
        resources.set(e.id, { type: e.type, flowPending: true });
        args.add('asyncId', e.id).addIf('trigger', e.trigger);
        let name = this.createNames.get(e.type);
        if (name === undefined) this.createNames.set(e.type, (name = `create ${e.type}`));
        this.writer.instant(ts.track, e.thread, t, name, 'async', args, e.thread, e.id, undefined);
        return;
      }
      case 'httpRequest': {
        const t = this.at(e.time);
        // An HTTP request is a task by itself: httpRequest begins it, httpResponse ends it.
        if (this.tasks.get(e.task) === undefined) this.taskBegin(e.task, 0, `${e.method} ${e.path}`, t, e.thread);
        const task = this.tasks.get(e.task);
        if (task !== undefined) {
          const http = httpInfo(task);
          http.method = e.method;
          http.path = e.path;
          http.route = e.route;
          http.remote = e.remote;
        }
        return;
      }
      case 'httpResponse': {
        const t = this.at(e.time);
        // The response ends the request's task; a request that began before the window still gets its slice.
        if (this.tasks.get(e.task) === undefined) this.taskBegin(e.task, 0, '(request began before the trace)', this.beginOf(undefined, t), e.thread);
        const task = this.tasks.get(e.task);
        if (task !== undefined) {
          const http = httpInfo(task);
          http.status = e.status;
          http.requestBytes = e.requestBytes;
          http.responseBytes = e.responseBytes;
          if (e.route !== '') http.route = e.route;
          http.error = e.error;
        }
        this.taskEnd(e.task, t, e.thread);
        return;
      }
      case 'httpClientBegin': {
        const t = this.at(e.time);
        this.openCall(this.clientCalls, e.id, { begin: t, thread: e.thread, name: `${e.method} ${e.host}${e.path}`, category: 'http', task: e.task, detail: '' });
        return;
      }
      case 'httpClientEnd': {
        const t = this.at(e.time);
        const args = this.args.clear();
        const open = this.clientCalls.get(e.id);
        this.clientCalls.delete(e.id);
        const begin = this.beginOf(open, t);
        args.addIf('task', open?.task ?? 0).addIf('status', e.status).addIf('error', e.error);
        this.placeInPool(this.clientPool, open?.thread ?? e.thread, begin, t, open?.name ?? '(HTTP call began before the trace)', 'http', args);
        return;
      }
      case 'range': {
        const t = this.at(e.time);
        const end = t + e.duration;
        const ts = this.thread(e.thread);
        const pending = ts.pendingRanges;
        let i = pending.length;
        while (i > 0 && pending[i - 1].end > end) i--;
        pending.splice(i, 0, { begin: t, end, category: e.category, name: e.name, detail: e.detail });
        if (end < this.nextRangeEnd) this.nextRangeEnd = end;
        return;
      }
      case 'rangeBegin': {
        const t = this.at(e.time);
        this.openCall(this.ranges, e.id, { begin: t, thread: e.thread, name: e.name, category: e.category, task: 0, detail: e.detail });
        return;
      }
      case 'rangeEnd': {
        const t = this.at(e.time);
        const args = this.args.clear();
        const open = this.ranges.get(e.id);
        this.ranges.delete(e.id);
        const begin = this.beginOf(open, t);
        const category = open?.category ?? 'range';
        args.addIf('detail', open?.detail ?? '').addIf('end detail', e.detail);
        this.placeInPool(this.pool(category, category), open?.thread ?? e.thread, begin, t, open?.name ?? '(range began before the trace)', category, args);
        return;
      }
      case 'cpuSample':
      case 'stackSample': {
        const t = this.at(e.time);
        const args = this.args.clear();
        const stack = e.stack;
        if (stack.length > 0) args.add('function', stack[0].functionName || '(anonymous)');
        this.writer.instant(this.thread(e.thread).track, e.thread, t, e.kind === 'cpuSample' ? 'cpu sample' : 'stack sample', 'cpu', args, 0, -1, stack);
        return;
      }
      case 'sourceStatus': {
        const t = this.at(e.time);
        const args = this.args.clear();
        args.add('state', e.state).addIf('detail', e.detail);
        this.processInstant(t, `source ${e.source}: ${e.state}`, 'source', args);
        return;
      }
      case 'threadName': {
        this.at(e.time);
        const ts = this.thread(e.thread, e.name);
        if (ts.track.name !== e.name) {
          ts.track.name = e.name;
          this.writer.declare(ts.track);
        }
        return;
      }
      case 'eventsLost': {
        const t = this.at(e.time);
        const args = this.args.clear();
        args.add('count', e.count);
        this.writer.instant(this.thread(e.thread).track, e.thread, t, 'events lost', 'trace', args, 0, -1, undefined);
        return;
      }
      case 'sync': {
        this.at(e.time);
        this.sync(e);
        return;
      }
      case 'generationsLost': {
        const t = this.at(e.time);
        const args = this.args.clear();
        this.processInstant(t, 'generations lost', 'trace', args.add('first', e.first).add('count', e.count).add('bytes', e.bytes));
        return;
      }
      default:
        // Kinds drawn nowhere still move the clock.
        this.at((e as TraceEvent).time);
    }
  }

  /** Notes the time of the next event, and places the ranges that ended before it; returns it. */
  private at(t: number): number {
    if (t > this.lastTime) this.lastTime = t;
    if (t >= this.nextRangeEnd) this.flushRanges(t);
    return t;
  }

  /** Writes whatever is still open (ending it at the end of the trace) and ends the output. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const end = this.lastTime;
    this.flushRanges(Infinity);
    const args = this.args;
    for (const [thread, ts] of this.threads) {
      // Innermost first, so that slices ending together are written child before parent.
      const open: { begin: number; kind: 'callback' | 'region'; callback?: OpenCallback; region?: OpenRegion }[] = [];
      for (const cb of ts.callbacks) open.push({ begin: cb.begin, kind: 'callback', callback: cb });
      for (const region of ts.regions) open.push({ begin: region.begin, kind: 'region', region });
      open.sort((a, b) => b.begin - a.begin);
      for (const item of open) {
        this.stats.unfinished++;
        if (item.kind === 'callback') {
          const cb = item.callback!;
          args.clear().add('asyncId', cb.id).add('unfinished', true);
          this.placeOnThread(ts, thread, cb.begin, end, cb.type === '' ? 'callback' : cb.type, 'callback', args, cb.endsFlow ? thread : 0, cb.endsFlow ? cb.id : -1);
        } else {
          const region = item.region!;
          args.clear().add('unfinished', true);
          this.endRegion(ts, thread, region.task, false, region.begin, end, region.name, args);
        }
      }
      ts.callbacks.length = 0;
      ts.regions.length = 0;
    }
    for (const [id, call] of this.clientCalls) {
      this.stats.unfinished++;
      args.clear().addIf('task', call.task).add('unfinished', true);
      this.placeInPool(this.clientPool, call.thread, call.begin, end, call.name, 'http', args);
      this.clientCalls.delete(id);
    }
    for (const [id, range] of this.ranges) {
      this.stats.unfinished++;
      args.clear().addIf('detail', range.detail).add('unfinished', true);
      this.placeInPool(this.pool(range.category, range.category), range.thread, range.begin, end, range.name, range.category, args);
      this.ranges.delete(id);
    }
    for (const task of this.tasks.all().sort((a, b) => b.begin - a.begin)) {
      this.stats.unfinished++;
      this.endTask(task, end, task.thread, true);
    }
    this.writer.end();
  }

  private sync(e: SyncEvent): void {
    if (this.processTrack === undefined) {
      this.windowStart = e.time;
      this.process = e.process;
      if (e.process !== undefined && e.process.pid > 0) this.pid = e.process.pid;
      // The clock first, so that every later timestamp can be placed.
      this.writer.clock(e);
      this.processTrack = new SimpleTrack(this.nextUuid++, 'process', e.process?.title ?? 'node', undefined, '');
      this.writer.declare(this.processTrack);
      return;
    }
    this.writer.clock(e);
  }

  private processInstant(time: number, name: string, category: string, args: Args): void {
    this.writer.instant(this.processTrackOf(), 0, time, name, category, args, 0, -1, undefined);
  }

  private processTrackOf(): Track {
    if (this.processTrack === undefined) {
      // Events before any sync cannot come from the reader; make the process anyway.
      this.processTrack = new SimpleTrack(this.nextUuid++, 'process', 'node', undefined, '');
      this.writer.declare(this.processTrack);
    }
    return this.processTrack;
  }

  /** The thread's state, made (and its track declared, named `name` if given) on first use. */
  private thread(thread: number, name?: string): ThreadState {
    if (thread === this.lastThreadId) return this.lastThread!;
    let ts = this.threads.get(thread);
    if (ts === undefined) {
      const track = new ThreadTrack(this.nextUuid++, name ?? (thread === 0 ? 'main' : `worker ${thread}`), this.processTrackOf(), thread);
      ts = new ThreadState(track);
      this.threads.set(thread, ts);
      this.writer.declare(track);
    }
    this.lastThreadId = thread;
    this.lastThread = ts;
    return ts;
  }

  private counter(name: string): Track {
    let track = this.counters.get(name);
    if (track === undefined) {
      // Memory metrics are in bytes (docs/sources.md); viewers format them as such.
      const unit = name.startsWith('memory.') ? 'bytes' : '';
      track = new SimpleTrack(this.nextUuid++, 'counter', name, this.processTrackOf(), unit);
      this.counters.set(name, track);
      this.writer.declare(track);
    }
    return track;
  }

  private pool(name: string, category: string): LanePool {
    let pool = this.pools.get(name);
    if (pool === undefined) {
      pool = new LanePool(name, category);
      this.pools.set(name, pool);
    }
    return pool;
  }

  private newLane(name: string, parent: Track, category: string): Lane {
    const lane = new Lane(this.nextUuid++, name, parent, category);
    this.writer.declare(lane);
    return lane;
  }

  /** A free lane of `pool` with nothing placed after `begin`, or a new one. */
  private freeLane(pool: LanePool, begin: number): Lane {
    const lanes = pool.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i];
      if (lane.holder === 0 && lane.maxEnd <= begin) return lane;
    }
    const lane = this.newLane(pool.name, this.processTrackOf(), pool.category);
    pool.lanes.push(lane);
    return lane;
  }

  /** Places a finished slice that nothing nests in on a free lane of `pool`. */
  private placeInPool(pool: LanePool, thread: number, begin: number, end: number, name: string, category: string, args: Args): void {
    const lane = this.freeLane(pool, begin);
    lane.maxEnd = end;
    this.writer.slice(lane, thread, this.nextGroup++, begin, end, name, category, args, 0, -1);
  }

  /** Places a finished slice of a thread: on its track if it nests there, else on an overflow lane. */
  private placeOnThread(ts: ThreadState, thread: number, begin: number, end: number, name: string, category: string, args: Args, flowThread: number, flowId: number): void {
    let track: Track | undefined;
    if (fits(ts.track.intervals, begin, end)) {
      place(ts.track.intervals, begin, end);
      track = ts.track;
    } else {
      for (const lane of ts.overflow) {
        if (fits(lane.intervals, begin, end)) {
          place(lane.intervals, begin, end);
          track = lane;
          break;
        }
      }
      if (track === undefined) {
        const lane = this.newLane(`${ts.track.name} (overlapping)`, ts.track, category);
        place(lane.intervals, begin, end);
        ts.overflow.push(lane);
        track = lane;
      }
    }
    // Slices of an overflow lane do not belong to one holder: each is a group of its own.
    this.writer.slice(track, thread, track === ts.track ? 0 : this.nextGroup++, begin, end, name, category, args, flowThread, flowId);
  }

  private flushRanges(upTo: number): void {
    let next = Infinity;
    for (const [thread, ts] of this.threads) {
      const pending = ts.pendingRanges;
      let n = 0;
      while (n < pending.length && pending[n].end <= upTo) {
        const r = pending[n++];
        this.args.clear().addIf('detail', r.detail);
        this.placeOnThread(ts, thread, r.begin, r.end, r.name, r.category, this.args, 0, -1);
      }
      if (n > 0) pending.splice(0, n);
      if (pending.length > 0 && pending[0].end < next) next = pending[0].end;
    }
    this.nextRangeEnd = next;
  }

  private callbackEnd(thread: number, id: number, time: number): void {
    const ts = this.thread(thread);
    const stack = ts.callbacks;
    let i = stack.length - 1;
    while (i >= 0 && stack[i].id !== id) i--;
    const args = this.args.clear().add('asyncId', id);
    if (i < 0) {
      // Began before the window.
      const resource = ts.resources.get(id);
      this.placeOnThread(ts, thread, this.beginOf(undefined, time), time, resource?.type || 'callback', 'callback', args, 0, -1);
      return;
    }
    const cb = stack[i];
    stack.splice(i, 1);
    this.placeOnThread(ts, thread, cb.begin, time, cb.type === '' ? 'callback' : cb.type, 'callback', args, cb.endsFlow ? thread : 0, cb.endsFlow ? id : -1);
  }

  private regionEnd(thread: number, regionId: number, task: number, sync: boolean, time: number): void {
    const ts = this.thread(thread);
    const regions = ts.regions;
    let i = regions.length - 1;
    while (i >= 0 && regions[i].id !== regionId) i--;
    const args = this.args.clear();
    if (i < 0) {
      args.add('began before the trace', true);
      this.endRegion(ts, thread, task, sync, this.beginOf(undefined, time), time, '(region began before the trace)', args);
      return;
    }
    const region = regions[i];
    if (i === regions.length - 1) regions.pop();
    else regions.splice(i, 1);
    this.endRegion(ts, thread, region.task, sync, region.begin, time, region.name, args);
    if (this.freeRegions.length < FREE_LIST) this.freeRegions.push(region);
  }

  /**
   * Synchronous regions go on their thread, where they nest with callbacks; the others on their
   * task's lane (or, when they do not nest there, another lane of the task's pool).
   */
  private endRegion(ts: ThreadState, thread: number, taskId: number, sync: boolean, begin: number, end: number, name: string, args: Args): void {
    args.addIf('task', taskId);
    const task = taskId === 0 ? undefined : this.tasks.get(taskId);
    if (sync || task === undefined) {
      if (sync || taskId === 0) {
        this.placeOnThread(ts, thread, begin, end, name, 'region', args, 0, -1);
      } else {
        this.placeInPool(this.taskPool, thread, begin, end, name, 'region', args);
      }
      return;
    }
    const lane = this.taskLane(task);
    if (begin > task.begin && fits(lane.intervals, begin, end)) {
      place(lane.intervals, begin, end);
      this.writer.slice(lane, thread, task.group, begin, end, name, 'region', args, 0, -1);
    } else {
      this.placeInPool(this.poolOf(task), thread, begin, end, name, 'region', args);
    }
  }

  private poolOf(task: OpenTask): LanePool {
    return task.http !== undefined ? this.requestPool : this.taskPool;
  }

  /** The task's lane, taken from its pool the first time something needs it. */
  private taskLane(task: OpenTask): Lane {
    if (task.lane !== undefined) return task.lane;
    const lane = this.freeLane(this.poolOf(task), task.begin);
    lane.holder = task.id;
    lane.intervals.length = 0;
    task.lane = lane;
    return lane;
  }

  private taskBegin(id: number, parent: number, name: string, time: number, thread: number): void {
    if (this.tasks.size >= MAX_OPEN) {
      const oldest = this.tasks.oldest()!;
      if (oldest.lane !== undefined) oldest.lane.holder = 0;
      this.tasks.remove(oldest);
      this.stats.droppedOpen++;
    }
    this.thread(thread);
    const task = this.freeTasks.pop();
    if (task === undefined) {
      this.tasks.add({ id, parent, name, begin: time, thread, lane: undefined, group: this.nextGroup++, http: undefined });
    } else {
      task.id = id;
      task.parent = parent;
      task.name = name;
      task.begin = time;
      task.thread = thread;
      task.lane = undefined;
      task.group = this.nextGroup++;
      task.http = undefined;
      this.tasks.add(task);
    }
  }

  private taskEnd(id: number, time: number, thread: number): void {
    let task = this.tasks.get(id);
    if (task === undefined) {
      task = { id, parent: 0, name: '(task began before the trace)', begin: this.beginOf(undefined, time), thread, lane: undefined, group: this.nextGroup++, http: undefined };
    }
    this.endTask(task, time, thread, false);
  }

  private endTask(task: OpenTask, end: number, thread: number, unfinished: boolean): void {
    const lane = this.taskLane(task);
    const args = this.args.clear().add('task', task.id).addIf('parent', task.parent);
    const http = task.http;
    if (http !== undefined) {
      args.addIf('method', http.method).addIf('path', http.path).addIf('route', http.route).addIf('remote', http.remote);
      args.addIf('status', http.status).addIf('requestBytes', http.requestBytes).addIf('responseBytes', http.responseBytes).addIf('error', http.error);
    }
    if (thread !== task.thread) args.add('endThread', thread);
    if (unfinished) args.add('unfinished', true);
    this.writer.slice(lane, task.thread, task.group, task.begin, end, task.name, http !== undefined ? 'http' : 'task', args, 0, -1);
    lane.holder = 0;
    lane.maxEnd = end;
    if (this.tasks.remove(task) && this.freeTasks.length < FREE_LIST) this.freeTasks.push(task);
  }

  private openCall(map: Map<number, OpenCall>, id: number, call: OpenCall): void {
    if (map.size >= MAX_OPEN) this.dropOldest(map);
    this.thread(call.thread);
    map.set(id, call);
  }

  /** Begin of a slice whose begin may not be in the window: the window's start then. */
  private beginOf(open: { begin: number } | undefined, end: number): number {
    if (open !== undefined) return open.begin;
    this.stats.beganBeforeWindow++;
    return Number.isNaN(this.windowStart) || this.windowStart > end ? end : this.windowStart;
  }

  /**
   * Drops the oldest eighth of a full map at once: dropping one entry per insertion would make
   * V8's iterator step over every earlier deleted entry again, which turns quadratic.
   */
  private dropOldest(map: Map<number, unknown>, count = true): void {
    let drop = Math.max(1, map.size >> 3);
    for (const key of map.keys()) {
      map.delete(key);
      if (count) this.stats.droppedOpen++;
      if (--drop === 0) break;
    }
  }
}
