import type { StackFrame } from '../../format/events.js';
import type { ProcessInfo, TimedEvent, TraceEvent } from '../../reader/events.js';
import { GenerationView } from '../../reader/generation-view.js';
import { TraceDecoder, type BatchInfo, type DecodedItem } from '../../reader/trace-decoder.js';
import { SliceFlag, SliceKind, MarkKind, type ClientCallInfo, type ClockPoint, type CounterTrack, type Lane, type RangeInfo, type Row, type SourceState, type TaskInfo, type Track, type TraceModel } from './model.js';
import { f64, u32, u8 } from './columns.js';
import { IdIndex } from './id-index.js';
import { packBlocks, packRows, sortByStart, type Block } from './pack.js';

/**
 * Decodes a whole trace held in memory into the reader's items: sync events and generations of
 * timed events, scanned but not yet made into objects. A truncated trace keeps its complete
 * generations (the viewer shows what there is); a corrupt one throws the reader's NfrError.
 * `onBatch` sees every batch (the analysis counts table and framing bytes with it).
 */
export function decodeTrace(bytes: Uint8Array, onBatch?: (batch: BatchInfo) => void): DecodedItem[] {
  const decoder = new TraceDecoder({ allowTruncated: true, onBatch });
  const items: DecodedItem[] = [];
  decoder.push(bytes, items);
  decoder.finish(items);
  return items;
}

/** Builds the render model of a decoded trace; `bytes` is the trace's size, for the stats. */
export function buildModel(items: readonly DecodedItem[], bytes: number): TraceModel {
  const builder = new ModelBuilder(bytes);
  for (const item of items) {
    if (item instanceof GenerationView) builder.generation(item);
    else builder.add(item);
  }
  return builder.finish();
}

interface ThreadState {
  id: number;
  name: string;
  /** Open callbacks: [async id, slice] pairs, innermost last. */
  callbacks: number[];
  /** Open regions by region id. */
  regions: Map<number, number>;
  execution: number[];
  asyncRegions: number[];
  loop: number[];
  gc: number[];
  ranges: Map<string, number[]>;
  marks: number[];
  sampleTimes: number[];
  sampleStacks: number[];
  /** Tasks begun and not yet ended on the thread, to give a call that names no task to the only one open. */
  openTasks: Set<number>;
}

interface TaskState extends TaskInfo {
  regions: number[];
}

interface CounterState {
  thread: number;
  name: string;
  times: number[];
  values: number[];
}

const NO_TIME = NaN;

class ModelBuilder {
  private readonly strings: string[] = [''];
  private readonly stringIds = new Map<string, number>([['', 0]]);
  /** The name of a callback whose resource's creation is not in the window. */
  private readonly callbackName = this.intern('callback');
  // Slices.
  private readonly sStart = f64();
  private readonly sEnd = f64();
  private readonly sKind = u8();
  private readonly sFlags = u8();
  private readonly sName = u32();
  private readonly sThread = u32();
  private readonly sRef = f64();
  // Marks.
  private readonly mTime = f64();
  private readonly mThread = u32();
  private readonly mKind = u8();
  private readonly mCategory = u32();
  private readonly mText = u32();
  private readonly mDetail = u32();
  private readonly mTask = f64();
  // Async resources' creations.
  private readonly cId = f64();
  private readonly cTrigger = f64();
  private readonly cTime = f64();
  private readonly cThread = u32();
  private readonly cType = u32();
  private readonly creationOf = new IdIndex();

  private readonly threads = new Map<number, ThreadState>();
  private readonly tasks = new Map<number, TaskState>();
  private readonly clients = new Map<number, ClientCallInfo>();
  private readonly rangeInfo: RangeInfo[] = [];
  private readonly openRanges = new Map<number, number>();
  private readonly asyncRanges = new Map<string, number[]>();
  private readonly counters = new Map<string, CounterState>();
  private readonly sources = new Map<string, SourceState>();
  private readonly clocks: ClockPoint[] = [];
  // Stacks: interned by the reader's frame arrays (shared within a generation) and by content.
  private readonly stackByArray = new Map<readonly StackFrame[], number>();
  private readonly stackByKey = new Map<string, number>();
  private readonly stacks: Uint32Array[] = [];
  private readonly frames: StackFrame[] = [];
  private readonly frameIds = new Map<string, number>();

  private process: ProcessInfo | undefined;
  private generations = 0;
  private events = 0;
  private windowStart = NaN;
  private windowEnd = NaN;
  private minTime = Infinity;
  private maxTime = -Infinity;

  constructor(private readonly bytes: number) {}

  private intern(value: string): number {
    let id = this.stringIds.get(value);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(value);
      this.stringIds.set(value, id);
    }
    return id;
  }

  private lastThread: ThreadState | undefined;

  private thread(id: number): ThreadState {
    if (this.lastThread?.id === id) return this.lastThread;
    let t = this.threads.get(id);
    if (t === undefined) {
      t = { id, name: id === 0 ? 'main' : `thread ${id}`, callbacks: [], regions: new Map(), execution: [], asyncRegions: [], loop: [], gc: [], ranges: new Map(), marks: [], sampleTimes: [], sampleStacks: [], openTasks: new Set() };
      this.threads.set(id, t);
    }
    this.lastThread = t;
    return t;
  }

  /** The start to give a slice whose begin is not in the window. */
  private get openStartTime(): number {
    return Number.isNaN(this.windowStart) ? this.minTime : this.windowStart;
  }

  private slice(kind: SliceKind, start: number, end: number, name: number, thread: number, ref: number, flags = 0): number {
    const index = this.sStart.length;
    this.sStart.push(start);
    this.sEnd.push(end);
    this.sKind.push(kind);
    this.sFlags.push(flags);
    this.sName.push(name);
    this.sThread.push(thread);
    this.sRef.push(ref);
    return index;
  }

  private mark(kind: MarkKind, time: number, thread: number, category: string, text: string, detail: string, task: number): void {
    const index = this.mTime.length;
    this.mTime.push(time);
    this.mThread.push(thread);
    this.mKind.push(kind);
    this.mCategory.push(this.intern(category));
    this.mText.push(this.intern(text));
    this.mDetail.push(this.intern(detail));
    this.mTask.push(task);
    this.thread(thread).marks.push(index);
  }

  /** A generation of timed events, in time order. */
  generation(view: GenerationView): void {
    const n = view.count;
    if (n === 0) return;
    this.events += n;
    if (view.time(0) < this.minTime) this.minTime = view.time(0);
    if (view.time(n - 1) > this.maxTime) this.maxTime = view.time(n - 1);
    for (let i = 0; i < n; i++) this.timed(view.event(i));
  }

  /** An event outside generations' timed events: a sync, a loss. */
  add(e: TraceEvent): void {
    this.events++;
    if (e.time < this.minTime) this.minTime = e.time;
    if (e.time > this.maxTime) this.maxTime = e.time;
    switch (e.kind) {
      case 'sync':
        this.clocks.push({ trace: e.clock.trace, wallSec: e.clock.wallSec, wallNsec: e.clock.wallNsec });
        if (e.process !== undefined) this.process = e.process;
        if (Number.isNaN(this.windowStart)) this.windowStart = e.time;
        if (e.final) this.windowEnd = e.time;
        else this.generations++;
        return;
      case 'generationsLost':
        this.mark(MarkKind.generationsLost, e.time, e.thread, 'trace', `${e.count} generations lost`, `generations ${e.first}–${e.first + e.count - 1}, ${e.bytes} bytes, dropped because the destination was slow`, 0);
        return;
      default:
        this.timed(e);
    }
  }

  /**
   * One timed event. The three kinds a detailed trace is mostly made of come first, each in a
   * method of its own, so that their field reads see one object shape (fast) rather than all of them.
   */
  timed(e: TimedEvent): void {
    switch (e.kind) {
      case 'callbackBegin':
        return this.callbackBegin(e);
      case 'callbackEnd':
        return this.callbackEnd(e);
      case 'asyncCreate':
        return this.asyncCreate(e);
      case 'threadName':
        this.thread(e.thread).name = e.name;
        return;
      case 'sourceStatus':
        this.sources.set(e.source, { source: e.source, state: e.state, detail: e.detail });
        return;
      case 'regionBegin': {
        const s = this.slice(SliceKind.region, e.time, NO_TIME, this.intern(e.name), e.thread, e.task);
        this.thread(e.thread).regions.set(e.region, s);
        return;
      }
      case 'regionEnd': {
        const t = this.thread(e.thread);
        let s = t.regions.get(e.region);
        if (s === undefined) {
          s = this.slice(SliceKind.region, this.openStartTime, e.time, this.intern(`region ${e.region}`), e.thread, e.task, SliceFlag.openStart);
        } else {
          t.regions.delete(e.region);
          this.sEnd.a[s] = e.time;
        }
        if (e.flags & 1) t.execution.push(s);
        else this.asyncRegion(t, s);
        return;
      }
      case 'range': {
        const info = this.rangeInfo.push({ category: e.category, name: e.name, detail: e.detail }) - 1;
        const end = e.time + e.duration;
        if (end > this.maxTime) this.maxTime = end;
        const t = this.thread(e.thread);
        if (e.category === 'loop') {
          t.loop.push(this.slice(SliceKind.loopBlock, e.time, end, this.intern(e.name === 'blocked' ? 'event loop blocked' : `loop ${e.name}`), e.thread, info));
        } else if (e.category === 'gc') {
          t.gc.push(this.slice(SliceKind.gc, e.time, end, this.intern(`GC ${e.name}`), e.thread, info));
        } else {
          let list = t.ranges.get(e.category);
          if (list === undefined) t.ranges.set(e.category, (list = []));
          list.push(this.slice(SliceKind.range, e.time, end, this.intern(e.name), e.thread, info));
        }
        return;
      }
      case 'rangeBegin': {
        const info = this.rangeInfo.push({ category: e.category, name: e.name, detail: e.detail, id: e.id }) - 1;
        const s = this.slice(SliceKind.asyncRange, e.time, NO_TIME, this.intern(e.name), e.thread, info);
        this.openRanges.set(e.id, s);
        this.asyncRangeList(e.category).push(s);
        return;
      }
      case 'rangeEnd': {
        let s = this.openRanges.get(e.id);
        if (s === undefined) {
          const info = this.rangeInfo.push({ category: 'range', name: `range ${e.id}`, detail: '', id: e.id }) - 1;
          s = this.slice(SliceKind.asyncRange, this.openStartTime, e.time, this.intern(`range ${e.id}`), e.thread, info, SliceFlag.openStart);
          this.asyncRangeList('range').push(s);
        } else {
          this.openRanges.delete(e.id);
          this.sEnd.a[s] = e.time;
        }
        this.rangeInfo[this.sRef.a[s]].endDetail = e.detail;
        return;
      }
      case 'taskBegin': {
        const s = this.slice(SliceKind.task, e.time, NO_TIME, this.intern(e.name || `task ${e.task}`), e.thread, e.task);
        this.tasks.set(e.task, { task: e.task, name: e.name, parent: e.parent, thread: e.thread, slice: s, regions: [] });
        this.thread(e.thread).openTasks.add(e.task);
        return;
      }
      case 'taskEnd': {
        const task = this.taskOf(e.task, e.thread, e.time);
        if (Number.isNaN(this.sEnd.a[task.slice])) this.sEnd.a[task.slice] = e.time;
        this.thread(task.thread).openTasks.delete(e.task);
        return;
      }
      case 'httpRequest': {
        // An HTTP request is a task by itself: httpRequest begins it, httpResponse ends it.
        if (!this.tasks.has(e.task)) {
          const s = this.slice(SliceKind.task, e.time, NO_TIME, this.intern(`${e.method} ${e.path}`), e.thread, e.task);
          this.tasks.set(e.task, { task: e.task, name: `${e.method} ${e.path}`, parent: 0, thread: e.thread, slice: s, regions: [] });
          this.thread(e.thread).openTasks.add(e.task);
        }
        const task = this.taskOf(e.task, e.thread, e.time);
        task.request = { method: e.method, path: e.path, route: e.route, remote: e.remote, status: 0, requestBytes: 0, responseBytes: 0, error: '', answered: false };
        this.sKind.a[task.slice] = SliceKind.request;
        this.sName.a[task.slice] = this.intern(`${e.method} ${e.path}`);
        return;
      }
      case 'httpResponse': {
        const task = this.taskOf(e.task, e.thread, e.time);
        const request = (task.request ??= { method: '', path: '', route: '', remote: '', status: 0, requestBytes: 0, responseBytes: 0, error: '', answered: false });
        request.status = e.status;
        request.requestBytes = e.requestBytes;
        request.responseBytes = e.responseBytes;
        if (e.route !== '') request.route = e.route;
        request.error = e.error;
        request.answered = true;
        this.sKind.a[task.slice] = SliceKind.request;
        if (Number.isNaN(this.sEnd.a[task.slice])) this.sEnd.a[task.slice] = e.time;
        this.thread(task.thread).openTasks.delete(e.task);
        return;
      }
      case 'httpClientBegin': {
        const s = this.slice(SliceKind.client, e.time, NO_TIME, this.intern(`${e.method} ${e.host}${e.path}`), e.thread, e.id);
        // As the analysis does: a call that names no task belongs to the only task open on its thread, if one is.
        const open = this.thread(e.thread).openTasks;
        const inferred = e.task === 0 && open.size === 1;
        const task = inferred ? open.values().next().value! : e.task;
        this.clients.set(e.id, { id: e.id, task, inferredTask: inferred, method: e.method, host: e.host, path: e.path, status: 0, error: '', slice: s });
        return;
      }
      case 'httpClientEnd': {
        let call = this.clients.get(e.id);
        if (call === undefined) {
          const s = this.slice(SliceKind.client, this.openStartTime, e.time, this.intern(`request ${e.id}`), e.thread, e.id, SliceFlag.openStart);
          call = { id: e.id, task: 0, inferredTask: false, method: '', host: '', path: '', status: 0, error: '', slice: s };
          this.clients.set(e.id, call);
        } else {
          this.sEnd.a[call.slice] = e.time;
        }
        call.status = e.status;
        call.error = e.error;
        return;
      }
      case 'log':
        this.mark(MarkKind.log, e.time, e.thread, e.category, e.message, '', e.task);
        return;
      case 'instant':
        this.mark(MarkKind.instant, e.time, e.thread, e.category, e.name, e.detail, 0);
        return;
      case 'eventsLost':
        this.mark(MarkKind.eventsLost, e.time, e.thread, 'trace', `${e.count} events lost`, 'trace memory was full', 0);
        return;
      case 'metric': {
        const key = `${e.thread}\u0000${e.name}`;
        let c = this.counters.get(key);
        if (c === undefined) this.counters.set(key, (c = { thread: e.thread, name: e.name, times: [], values: [] }));
        c.times.push(e.time);
        c.values.push(e.value);
        return;
      }
      case 'cpuSample':
      case 'stackSample': {
        const t = this.thread(e.thread);
        t.sampleTimes.push(e.time);
        t.sampleStacks.push(this.internStack(e.stack));
        return;
      }
      default:
        return;
    }
  }

  private callbackBegin(e: TimedEvent<'callbackBegin'>): void {
    const creation = this.creationOf.get(e.id);
    const name = creation < 0 ? this.callbackName : this.cType.a[creation];
    const s = this.slice(SliceKind.callback, e.time, NO_TIME, name, e.thread, e.id);
    this.thread(e.thread).callbacks.push(e.id, s);
  }

  private callbackEnd(e: TimedEvent<'callbackEnd'>): void {
    const t = this.thread(e.thread);
    const open = t.callbacks;
    const id = e.id;
    let k = open.length - 2;
    while (k >= 0 && open[k] !== id) k -= 2;
    if (k < 0) {
      // Began before the window.
      const creation = this.creationOf.get(id);
      const name = creation < 0 ? this.callbackName : this.cType.a[creation];
      t.execution.push(this.slice(SliceKind.callback, this.openStartTime, e.time, name, e.thread, id, SliceFlag.openStart));
      return;
    }
    // Callbacks above it that never ended close with it.
    for (let j = open.length - 2; j >= k; j -= 2) {
      const s = open[j + 1];
      this.sEnd.a[s] = e.time;
      t.execution.push(s);
    }
    open.length = k;
  }

  private asyncCreate(e: TimedEvent<'asyncCreate'>): void {
    const index = this.cId.length;
    this.cId.push(e.id);
    this.cTrigger.push(e.trigger);
    this.cTime.push(e.time);
    this.cThread.push(e.thread);
    this.cType.push(this.intern(e.type));
    this.creationOf.set(e.id, index);
  }

  private asyncRegion(t: ThreadState, s: number): void {
    const task = this.tasks.get(this.sRef.a[s]);
    if (task !== undefined && this.sRef.a[s] !== 0) task.regions.push(s);
    else t.asyncRegions.push(s);
  }

  private asyncRangeList(category: string): number[] {
    let list = this.asyncRanges.get(category);
    if (list === undefined) this.asyncRanges.set(category, (list = []));
    return list;
  }

  /** The task, made up (begun before the window) when its begin is not in the trace. */
  private taskOf(id: number, thread: number, _time: number): TaskState {
    let task = this.tasks.get(id);
    if (task === undefined) {
      const s = this.slice(SliceKind.task, this.openStartTime, NO_TIME, this.intern(`task ${id}`), thread, id, SliceFlag.openStart);
      task = { task: id, name: `task ${id}`, parent: 0, thread, slice: s, regions: [] };
      this.tasks.set(id, task);
    }
    return task;
  }

  private internStack(frames: readonly StackFrame[]): number {
    let id = this.stackByArray.get(frames);
    if (id !== undefined) return id;
    const ids = new Uint32Array(frames.length);
    // The trace has the innermost frame first; the model keeps the outermost first, as a flame graph draws them.
    for (let i = 0; i < frames.length; i++) {
      const f = frames[frames.length - 1 - i];
      const key = `${f.functionName}\u0000${f.url}\u0000${f.line}\u0000${f.column}`;
      let frame = this.frameIds.get(key);
      if (frame === undefined) {
        frame = this.frames.length;
        this.frames.push(f);
        this.frameIds.set(key, frame);
      }
      ids[i] = frame;
    }
    const key = ids.join(',');
    id = this.stackByKey.get(key);
    if (id === undefined) {
      id = this.stacks.length;
      this.stacks.push(ids);
      this.stackByKey.set(key, id);
    }
    this.stackByArray.set(frames, id);
    return id;
  }

  finish(): TraceModel {
    const start = Math.min(Number.isNaN(this.windowStart) ? Infinity : this.windowStart, this.minTime);
    const end = Math.max(Number.isNaN(this.windowEnd) ? -Infinity : this.windowEnd, this.maxTime);
    const safeStart = Number.isFinite(start) ? start : 0;
    const safeEnd = Number.isFinite(end) && end > safeStart ? end : safeStart + 1;
    // Whatever is still open ends with the window.
    for (let s = 0; s < this.sEnd.length; s++) {
      if (Number.isNaN(this.sEnd.a[s])) {
        this.sEnd.a[s] = safeEnd;
        this.sFlags.a[s] |= SliceFlag.openEnd;
      }
    }
    for (const t of this.threads.values()) {
      for (let j = 0; j < t.callbacks.length; j += 2) t.execution.push(t.callbacks[j + 1]);
      for (const s of t.regions.values()) this.asyncRegion(t, s);
    }
    for (const task of this.tasks.values()) {
      if (task.request !== undefined) this.sName.a[task.slice] = this.intern(requestLabel(task));
    }

    const sliceStart = this.sStart.done();
    const sliceEnd = this.sEnd.done();
    const sliceKind = this.sKind.done();
    const sliceRef = this.sRef.done();
    const count = sliceStart.length;
    const sliceTrack = new Uint32Array(count);
    const sliceRow = new Uint32Array(count);
    const tracks: Track[] = [];
    const lanes: Lane[] = [];
    const sampleTracks = new Map<number, number>();
    const executionTracks = new Map<number, number>();

    const addTrack = (track: Track): number => tracks.push(track) - 1;
    /** A slice track of `items` packed greedily. */
    const packedTrack = (title: string, items: number[]): number => {
      sortByStart(items, sliceStart, sliceEnd);
      const { rows, count: rowCount } = packRows(items, sliceStart, sliceEnd);
      const index = tracks.length;
      const byRow: number[][] = Array.from({ length: rowCount }, () => []);
      for (let i = 0; i < items.length; i++) {
        byRow[rows[i]].push(items[i]);
        sliceTrack[items[i]] = index;
        sliceRow[items[i]] = rows[i];
      }
      return addTrack({ type: 'slices', title, rows: byRow.map((r) => makeRow(r, sliceStart, sliceEnd)) });
    };
    /** A slice track of tasks, each with its own regions in the rows below it. */
    const taskTrack = (title: string, list: TaskState[]): number => {
      list.sort((a, b) => sliceStart[a.slice] - sliceStart[b.slice] || sliceEnd[b.slice] - sliceEnd[a.slice] || a.slice - b.slice);
      const blocks: Block[] = [];
      const inner: { items: number[]; rows: Uint32Array }[] = [];
      for (const task of list) {
        const taskEnd = sliceEnd[task.slice];
        const items = sortByStart(task.regions, sliceStart, sliceEnd);
        const packed = packRows(items, sliceStart, sliceEnd);
        const rowEnds = [taskEnd];
        for (let k = 0; k < packed.count; k++) rowEnds.push(taskEnd);
        for (let i = 0; i < items.length; i++) rowEnds[packed.rows[i] + 1] = Math.max(rowEnds[packed.rows[i] + 1], sliceEnd[items[i]]);
        blocks.push({ start: sliceStart[task.slice], rowEnds });
        inner.push({ items, rows: packed.rows });
      }
      const { first, count: rowCount } = packBlocks(blocks);
      const index = tracks.length;
      const byRow: number[][] = Array.from({ length: rowCount }, () => []);
      list.forEach((task, b) => {
        const place = (s: number, row: number) => {
          byRow[row].push(s);
          sliceTrack[s] = index;
          sliceRow[s] = row;
        };
        place(task.slice, first[b]);
        const { items, rows } = inner[b];
        for (let i = 0; i < items.length; i++) place(items[i], first[b] + 1 + rows[i]);
      });
      return addTrack({ type: 'slices', title, rows: byRow.map((r) => makeRow(sortByStart(r, sliceStart, sliceEnd), sliceStart, sliceEnd)) });
    };

    const threadIds = [...this.threads.keys()].sort((a, b) => a - b);
    for (const id of threadIds) {
      const t = this.threads.get(id)!;
      const lane: Lane = { title: id === 0 ? t.name : `${t.name} (thread ${id})`, kind: 'thread', thread: id, tracks: [] };
      if (t.loop.length > 0) lane.tracks.push(packedTrack('Loop blocked', t.loop));
      if (t.gc.length > 0) lane.tracks.push(packedTrack('GC', t.gc));
      for (const [category, list] of [...t.ranges].sort(([a], [b]) => a.localeCompare(b))) lane.tracks.push(packedTrack(category, list));
      if (t.execution.length > 0) {
        const track = packedTrack('Execution', t.execution);
        executionTracks.set(id, track);
        lane.tracks.push(track);
      }
      if (t.asyncRegions.length > 0) lane.tracks.push(packedTrack('Async regions', t.asyncRegions));
      if (t.sampleTimes.length > 0) {
        const track = addTrack({ type: 'samples', title: 'CPU samples', thread: id, times: Float64Array.from(t.sampleTimes), stacks: Uint32Array.from(t.sampleStacks) });
        sampleTracks.set(id, track);
        lane.tracks.push(track);
      }
      if (t.marks.length > 0) {
        const marks = Uint32Array.from(t.marks).sort((a, b) => this.mTime.a[a] - this.mTime.a[b] || a - b);
        lane.tracks.push(addTrack({ type: 'marks', title: 'Logs & marks', thread: id, marks, times: Float64Array.from(marks, (m) => this.mTime.a[m]) }));
      }
      if (lane.tracks.length > 0) lanes.push(lane);
    }

    const requests: TaskState[] = [];
    const others: TaskState[] = [];
    for (const task of this.tasks.values()) (task.request !== undefined ? requests : others).push(task);
    if (requests.length > 0) lanes.push({ title: 'HTTP requests', kind: 'async', tracks: [taskTrack('Server requests', requests)] });
    if (others.length > 0) lanes.push({ title: 'Tasks', kind: 'async', tracks: [taskTrack('Tasks', others)] });
    if (this.clients.size > 0) lanes.push({ title: 'Outgoing HTTP', kind: 'async', tracks: [packedTrack('Outgoing calls', [...this.clients.values()].map((c) => c.slice))] });
    for (const [category, list] of [...this.asyncRanges].sort(([a], [b]) => a.localeCompare(b))) {
      lanes.push({ title: `Ranges: ${category}`, kind: 'async', tracks: [packedTrack(category, list)] });
    }

    const groups = new Map<string, number[]>();
    const counters = [...this.counters.values()].sort((a, b) => counterOrder(a.name) - counterOrder(b.name) || a.name.localeCompare(b.name) || a.thread - b.thread);
    const threadsOf = new Map<string, number>();
    for (const c of counters) threadsOf.set(c.name, (threadsOf.get(c.name) ?? 0) + 1);
    for (const c of counters) {
      const group = c.name.startsWith('loop.') ? 'Event loop' : c.name.startsWith('memory.') ? 'Memory' : 'Metrics';
      const title = c.thread === 0 && threadsOf.get(c.name) === 1 ? c.name : `${c.name} (${this.threads.get(c.thread)?.name ?? `thread ${c.thread}`})`;
      let list = groups.get(group);
      if (list === undefined) groups.set(group, (list = []));
      list.push(addTrack(counterTrack(title, c)));
    }
    for (const [title, list] of groups) lanes.push({ title, kind: 'counters', tracks: list });

    return {
      start: safeStart,
      end: safeEnd,
      clocks: this.clocks,
      process: this.process,
      generations: this.generations,
      events: this.events,
      bytes: this.bytes,
      threads: threadIds.map((id) => ({ id, name: this.threads.get(id)!.name })),
      sources: [...this.sources.values()],
      strings: this.strings,
      slices: {
        count,
        start: sliceStart,
        end: sliceEnd,
        kind: sliceKind,
        flags: this.sFlags.done(),
        name: this.sName.done(),
        thread: this.sThread.done(),
        ref: sliceRef,
        track: sliceTrack,
        row: sliceRow,
      },
      marks: {
        count: this.mTime.length,
        time: this.mTime.done(),
        thread: this.mThread.done(),
        kind: this.mKind.done(),
        category: this.mCategory.done(),
        text: this.mText.done(),
        detail: this.mDetail.done(),
        task: this.mTask.done(),
      },
      tracks,
      lanes,
      tasks: new Map([...this.tasks].map(([id, { regions: _regions, ...info }]) => [id, info])),
      clients: this.clients,
      rangeInfo: this.rangeInfo,
      creations: {
        count: this.cId.length,
        id: this.cId.done(),
        trigger: this.cTrigger.done(),
        time: this.cTime.done(),
        thread: this.cThread.done(),
        type: this.cType.done(),
      },
      creationOf: this.creationOf,
      callbacksOf: callbackIndex(sliceKind, sliceRef, sliceStart),
      stacks: this.stacks,
      frames: this.frames,
      sampleTracks,
      executionTracks,
    };
  }
}

/**
 * The callbacks of an async id, in time order. The index (callback slices sorted by id) is made
 * on first use, when a callback is first selected, so the first screen does not wait for it.
 */
function callbackIndex(kinds: Uint8Array, refs: Float64Array, start: Float64Array): (id: number) => readonly number[] {
  let ids: Float64Array | undefined;
  let slices: Uint32Array | undefined;
  return (id) => {
    if (ids === undefined || slices === undefined) {
      const list: number[] = [];
      for (let s = 0; s < kinds.length; s++) if (kinds[s] === SliceKind.callback) list.push(s);
      list.sort((a, b) => refs[a] - refs[b] || start[a] - start[b] || a - b);
      slices = Uint32Array.from(list);
      ids = Float64Array.from(list, (s) => refs[s]);
    }
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    const found: number[] = [];
    for (let i = lo; i < ids.length && ids[i] === id; i++) found.push(slices[i]);
    return found;
  };
}

function requestLabel(task: TaskState): string {
  const r = task.request!;
  const what = `${r.method} ${r.route !== '' ? r.route : r.path}`;
  if (r.error !== '') return `${what} (${r.error})`;
  return r.answered ? `${what} ${r.status}` : what;
}

function makeRow(slices: number[], start: Float64Array, end: Float64Array): Row {
  const n = slices.length;
  const row: Row = { slices: new Uint32Array(n), start: new Float64Array(n), end: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const s = slices[i];
    row.slices[i] = s;
    row.start[i] = start[s];
    row.end[i] = end[s];
  }
  return row;
}

/** Loop metrics first, then memory, then the rest; within the loop, utilization before delays. */
function counterOrder(name: string): number {
  if (name === 'loop.utilization') return 0;
  if (name.startsWith('loop.')) return 1;
  if (name === 'memory.heapUsed') return 2;
  if (name.startsWith('memory.')) return 3;
  return 4;
}

function counterTrack(title: string, c: CounterState): CounterTrack {
  let min = Infinity;
  let max = -Infinity;
  for (const v of c.values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const unit = c.name.startsWith('memory.') ? 'bytes' : c.name.startsWith('loop.delay') ? 'ms' : c.name === 'loop.utilization' ? 'ratio' : 'number';
  return { type: 'counter', title, metric: c.name, thread: c.thread, times: Float64Array.from(c.times), values: Float64Array.from(c.values), min, max, unit };
}
