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

export interface RequestSummary {
  task: number;
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
}

export interface TaskSummary {
  task: number;
  name: string;
  thread: number;
  start: number;
  duration: number;
  breakdown: Breakdown;
}

export interface StackSummary {
  frames: readonly StackFrame[];
  samples: number;
  /** Share of all samples, 0..1. */
  share: number;
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
  cpu: { samples: number; topStacks: StackSummary[] };
  lost: { events: number; generations: number };
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
}

export interface Analysis {
  stats: TraceStats;
  findings: Finding[];
}
