import type { StackFrame } from '../format/events.js';
import type { ProcessInfo } from '../reader/events.js';

/**
 * What analysis produces: the contract between the analyzer (src/analysis/), the `nfr stats`
 * and `nfr findings` commands, and the viewer's side panels. Times are trace ns; durations ns.
 */

export interface KindCount {
  count: number;
  /** Encoded bytes of these events in the trace. */
  bytes: number;
}

export interface ThreadSummary {
  id: number;
  name: string;
  events: number;
}

/** Where a request's or task's time went. Parts may overlap (a GC during a region); `waiting` is what nothing explains. */
export interface Breakdown {
  /** Time inside the task's own regions (their union). */
  regions: number;
  /** Time the event loop was blocked (by anything) while the task ran. */
  loopBlocked: number;
  /** Time in garbage collection while the task ran. */
  gc: number;
  /** Time waiting on outgoing HTTP calls made by the task (their union). */
  outgoing: number;
  /** Duration not covered by any of the above. */
  waiting: number;
}

/** An outgoing HTTP call (httpClientBegin/End). */
export interface CallSummary {
  id: number;
  /** The task that made it; 0 when unknown. */
  task: number;
  /**
   * True when the call's own record named no task (the implicit current task was off, as it is
   * by default on Node 20/22) and the analyzer gave it to the only task open on its thread when
   * it began.
   */
  inferredTask: boolean;
  method: string;
  /** `host[:port]` of the downstream service. */
  host: string;
  path: string;
  /** 0 when no status arrived (an error, or still running at the end of the window). */
  status: number;
  error: string;
  thread: number;
  start: number;
  duration: number;
  /** True when the call had not ended when the window ended; `duration` runs to the window's end. */
  unfinished?: boolean;
}

export interface RequestSummary {
  task: number;
  /** `METHOD route`, or `METHOD path` when no route is known. */
  name: string;
  method: string;
  path: string;
  route: string;
  /** 0 when the request did not complete. */
  status: number;
  error: string;
  thread: number;
  start: number;
  duration: number;
  breakdown: Breakdown;
  /** True when the request had not ended when the window ended; `duration` runs to the window's end. */
  unfinished?: boolean;
  /** The task's longest outgoing call, when it made any. */
  slowestCall?: CallSummary;
}

export interface TaskSummary {
  task: number;
  name: string;
  thread: number;
  start: number;
  duration: number;
  breakdown: Breakdown;
  /** True when the task had not ended when the window ended; `duration` runs to the window's end. */
  unfinished?: boolean;
  /** Id of the parent task, 0 for none. */
  parent?: number;
}

export interface StackSummary {
  frames: readonly StackFrame[];
  samples: number;
  /** Share of all samples, 0..1. */
  share: number;
}

/** A function by the CPU samples it appears in. */
export interface FunctionSummary {
  frame: StackFrame;
  /** Samples in which it was the innermost frame (running itself). */
  self: number;
  /** Samples in which it was anywhere on the stack (itself or what it called). */
  total: number;
}

export interface TraceStats {
  /** Trace time of the first and last sync events, and the span between. */
  start: number;
  end: number;
  duration: number;
  /** Wall-clock time of start and end, ms since the Unix epoch (from the sync clock snapshots). */
  wallStart: number;
  wallEnd: number;
  generations: number;
  process: ProcessInfo | undefined;
  threads: ThreadSummary[];
  totalEvents: number;
  totalBytes: number;
  byKind: Record<string, KindCount>;
  requests: { count: number; slowest: RequestSummary[] };
  tasks: { count: number; slowest: TaskSummary[] };
  loop: { blocks: number; blockedTotal: number; longestBlocks: { start: number; duration: number; thread: number }[]; utilizationMean: number; utilizationMax: number };
  gc: { count: number; total: number; byKind: Record<string, { count: number; total: number }>; longest: { start: number; duration: number; kind: string; thread: number }[] };
  cpu: { samples: number; topStacks: StackSummary[]; topFunctions?: FunctionSummary[] };
  lost: { events: number; generations: number };
  /** Outgoing HTTP calls: how many began in the window, and the slowest. */
  calls?: { count: number; slowest: CallSummary[] };
  /**
   * Where the input's bytes went besides events, when the caller fed them (the CLI does):
   * string and stack tables, and framing (file header, batch headers, sync and end records).
   * With them, `totalBytes` is the size of the input.
   */
  layout?: { tables: number; framing: number };
  /** Highest `memory.heapUsed` and `memory.rss` seen, in bytes. */
  memory?: { heapUsedMax: number; rssMax: number };
  /** Number of `loop.utilization` samples the mean and max are made of. */
  utilizationSamples?: number;
  /** Per source, its last recorded state (`on`, `off`, `failed`, `unsupported`) and why. */
  sources?: Record<string, { state: string; detail: string }>;
  /**
   * What the analysis could not see or had to approximate (events cut by the window, bounds on
   * the analyzer's memory that were reached), in words.
   */
  notes?: string[];
}

export type Severity = 'info' | 'warning' | 'critical';

/** One automated diagnosis: what was wrong, where, and how sure the rule is. */
export interface Finding {
  /** Stable rule id, e.g. `request-slowed-by-loop-block`. */
  rule: string;
  severity: Severity;
  /** How sure the rule is, 0..1, and why, in words. */
  confidence: number;
  title: string;
  /** What happened, with numbers; one or a few sentences. */
  detail: string;
  /** Where: a time range, a thread, a task or request, a stack. */
  time: number;
  duration: number;
  thread?: number;
  task?: number;
  request?: string;
  stack?: readonly StackFrame[];
  /** The frame of `stack` the finding blames (the code to look at), when it names one. */
  frame?: StackFrame;
  /**
   * How much time the problem cost, in ns, for ranking findings of one severity: latency added
   * to requests, time paused, time saturated.
   */
  impact?: number;
  /** Why the rule is as sure as `confidence` says, in words. */
  confidenceReason?: string;
  /** Requests or tasks the problem affected, worst first (at most a few). */
  affected?: { task: number; name: string; duration: number; overlap: number }[];
}

export interface Analysis {
  stats: TraceStats;
  findings: Finding[];
}
