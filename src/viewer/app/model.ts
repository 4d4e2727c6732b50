import type { StackFrame } from '../../format/events.js';
import type { ProcessInfo } from '../../reader/events.js';

/**
 * The viewer's render model: what the timeline draws, built once from a trace by
 * build-model.ts. Everything numerous lives in typed arrays (one entry per slice, sample or
 * mark), so a 10 MiB trace of ~700k events stays cheap to hold and fast to draw. Times are
 * trace ns, as in the trace.
 */

/** What a slice is; decides its colour, its details and where it is laid out. */
export const SliceKind = {
  /** An async resource's callback on a thread (callbackBegin/End). */
  callback: 0,
  /** A user region (regionBegin/End); synchronous ones sit in the thread's execution track. */
  region: 1,
  /** A loop turn that blocked the event loop (`range` loop/blocked). */
  loopBlock: 2,
  /** A garbage collection (`range` gc/*). */
  gc: 3,
  /** Another range learned after the fact (`range` of another category). */
  range: 4,
  /** An asynchronous range (rangeBegin/End). */
  asyncRange: 5,
  /** A server HTTP request: a task with httpRequest/httpResponse. */
  request: 6,
  /** Any other task. */
  task: 7,
  /** An outgoing HTTP call (httpClientBegin/End). */
  client: 8,
} as const;
export type SliceKind = (typeof SliceKind)[keyof typeof SliceKind];

/** Slice flags. */
export const SliceFlag = {
  /** Began before the trace's window: its start is the window's start. */
  openStart: 1,
  /** Did not end inside the window: its end is the window's end. */
  openEnd: 2,
} as const;

/** Every slice of the trace, column-wise; a slice is an index into these arrays. */
export interface SliceTable {
  count: number;
  start: Float64Array;
  end: Float64Array;
  kind: Uint8Array;
  flags: Uint8Array;
  /** Index into {@link TraceModel.strings}: the label drawn on the slice. */
  name: Uint32Array;
  thread: Uint32Array;
  /**
   * What the slice refers to, by kind: callback → async id; region → task id; request, task →
   * task id; client → client call id; range, asyncRange → index into {@link TraceModel.rangeInfo}.
   */
  ref: Float64Array;
  /** Where it is drawn: track index (into {@link TraceModel.tracks}) and row in that track. */
  track: Uint32Array;
  row: Uint32Array;
}

/** One row of a slice track: slice indexes sorted by start, never overlapping, with their times copied for binary search. */
export interface Row {
  slices: Uint32Array;
  start: Float64Array;
  end: Float64Array;
}

export interface SliceTrack {
  type: 'slices';
  title: string;
  rows: Row[];
}

/** Values of one metric on one thread over time, drawn as a step chart. */
export interface CounterTrack {
  type: 'counter';
  title: string;
  /** The metric's name in the trace. */
  metric: string;
  thread: number;
  times: Float64Array;
  values: Float64Array;
  min: number;
  max: number;
  /** How to print a value: bytes, ms, a 0..1 ratio, or a plain number. */
  unit: 'bytes' | 'ms' | 'ratio' | 'number';
}

/** Logs, instants and losses of a thread, drawn as marks. */
export interface MarkTrack {
  type: 'marks';
  title: string;
  thread: number;
  /** Indexes into {@link TraceModel.marks}, sorted by time. */
  marks: Uint32Array;
  times: Float64Array;
}

/** CPU or stack samples of a thread, drawn as ticks coloured by their innermost frame. */
export interface SampleTrack {
  type: 'samples';
  title: string;
  thread: number;
  times: Float64Array;
  /** Index into {@link TraceModel.stacks}. */
  stacks: Uint32Array;
}

export type Track = SliceTrack | CounterTrack | MarkTrack | SampleTrack;

/** A group of tracks under one title: a thread, an async lane, a group of counters. */
export interface Lane {
  title: string;
  kind: 'thread' | 'async' | 'counters';
  /** For thread lanes. */
  thread?: number;
  /** Indexes into {@link TraceModel.tracks}. */
  tracks: number[];
}

export const MarkKind = { log: 0, instant: 1, eventsLost: 2, generationsLost: 3 } as const;
export type MarkKind = (typeof MarkKind)[keyof typeof MarkKind];

export interface MarkTable {
  count: number;
  time: Float64Array;
  thread: Uint32Array;
  kind: Uint8Array;
  /** Category (log, instant) as a string index. */
  category: Uint32Array;
  /** Message (log), name (instant) or a description (losses), as a string index. */
  text: Uint32Array;
  /** Instant detail as a string index. */
  detail: Uint32Array;
  task: Float64Array;
}

/** A server request's or task's facts. */
export interface TaskInfo {
  task: number;
  name: string;
  parent: number;
  thread: number;
  slice: number;
  request?: RequestInfo;
}

export interface RequestInfo {
  method: string;
  path: string;
  route: string;
  remote: string;
  /** 0 while unanswered. */
  status: number;
  requestBytes: number;
  responseBytes: number;
  error: string;
  /** Whether httpResponse was seen. */
  answered: boolean;
}

export interface ClientCallInfo {
  id: number;
  /** The task that made it; 0 when unknown. */
  task: number;
  /** The call named no task and was given to the only task open on its thread. */
  inferredTask: boolean;
  method: string;
  host: string;
  path: string;
  status: number;
  error: string;
  slice: number;
}

export interface RangeInfo {
  category: string;
  name: string;
  detail: string;
  /** For asynchronous ranges: the id and the detail at the end. */
  id?: number;
  endDetail?: string;
}

/** Async resources' creations (asyncCreate), column-wise, in time order. */
export interface CreationTable {
  count: number;
  id: Float64Array;
  trigger: Float64Array;
  time: Float64Array;
  thread: Uint32Array;
  /** Resource type as a string index. */
  type: Uint32Array;
}

/** The clock snapshots of the trace's sync points, to turn trace times into wall times. */
export interface ClockPoint {
  trace: number;
  wallSec: number;
  wallNsec: number;
}

export interface ThreadInfo {
  id: number;
  name: string;
}

export interface SourceState {
  source: string;
  state: string;
  detail: string;
}

export interface TraceModel {
  /** Trace time of the window's start and end (first and last sync, widened to cover every event). */
  start: number;
  end: number;
  clocks: ClockPoint[];
  process: ProcessInfo | undefined;
  generations: number;
  events: number;
  bytes: number;
  threads: ThreadInfo[];
  /** The last state each source reported. */
  sources: SourceState[];
  strings: string[];
  slices: SliceTable;
  marks: MarkTable;
  tracks: Track[];
  lanes: Lane[];
  tasks: Map<number, TaskInfo>;
  clients: Map<number, ClientCallInfo>;
  rangeInfo: RangeInfo[];
  creations: CreationTable;
  /** Creation index by async id (-1: not created in the window). */
  creationOf: { get(id: number): number };
  /** Callback slices of an async id, in time order. */
  callbacksOf(id: number): readonly number[];
  /** Distinct stacks, outermost frame first, as indexes into {@link frames}. */
  stacks: Uint32Array[];
  frames: StackFrame[];
  /** The track that holds each thread's samples. */
  sampleTracks: Map<number, number>;
  /** The track that holds each thread's callbacks and synchronous regions. */
  executionTracks: Map<number, number>;
}
