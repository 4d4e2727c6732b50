import { SliceKind, type TraceModel } from './model.js';

/** Causality arrows for a selected slice: where its callback was caused, what it caused, a task's outgoing calls. */

/** A point a flow arrow starts or ends at: a time in a row of a track. */
export interface FlowEnd {
  time: number;
  track: number;
  row: number;
}

export interface Flow {
  from: FlowEnd;
  to: FlowEnd;
}

/** Most arrows drawn for one selection; a busy callback can create thousands of resources. */
const MAX_FLOWS = 64;

/** First index of `times` (sorted) at or after `t`. */
export function lowerBound(times: ArrayLike<number>, t: number, from = 0, to = times.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The deepest row of a slice track with a slice running at `t` (0 when none). */
export function rowAt(model: TraceModel, track: number, t: number): number {
  const tr = model.tracks[track];
  if (tr === undefined || tr.type !== 'slices') return 0;
  for (let r = tr.rows.length - 1; r >= 0; r--) {
    const row = tr.rows[r];
    const i = lowerBound(row.end, t);
    if (i < row.start.length && row.start[i] <= t) return r;
  }
  return 0;
}

function endOf(model: TraceModel, slice: number, atStart = true): FlowEnd {
  const s = model.slices;
  return { time: atStart ? s.start[slice] : s.end[slice], track: s.track[slice], row: s.row[slice] };
}

export function flowsOf(model: TraceModel, slice: number): Flow[] {
  const s = model.slices;
  const flows: Flow[] = [];
  const kind = s.kind[slice];
  if (kind === SliceKind.callback) {
    const id = s.ref[slice];
    const thread = s.thread[slice];
    const c = model.creations;
    // Where this callback's resource was created.
    const created = model.creationOf.get(id);
    if (created >= 0) {
      const track = model.executionTracks.get(c.thread[created]);
      if (track !== undefined) flows.push({ from: { time: c.time[created], track, row: rowAt(model, track, c.time[created]) }, to: endOf(model, slice) });
    }
    // Resources this callback created, to their callbacks.
    const track = s.track[slice];
    for (let i = lowerBound(c.time, s.start[slice]); i < c.count && c.time[i] <= s.end[slice] && flows.length < MAX_FLOWS; i++) {
      if (c.trigger[i] !== id || c.thread[i] !== thread) continue;
      const callbacks = model.callbacksOf(c.id[i]);
      for (const target of callbacks.slice(0, 3)) flows.push({ from: { time: c.time[i], track, row: rowAt(model, track, c.time[i]) }, to: endOf(model, target) });
    }
  } else if (kind === SliceKind.request || kind === SliceKind.task) {
    const task = s.ref[slice];
    for (const call of model.clients.values()) {
      if (call.task === task && flows.length < MAX_FLOWS) flows.push({ from: { time: s.start[call.slice], track: s.track[slice], row: s.row[slice] }, to: endOf(model, call.slice) });
    }
  } else if (kind === SliceKind.client) {
    const call = model.clients.get(s.ref[slice]);
    const task = call === undefined ? undefined : model.tasks.get(call.task);
    if (task !== undefined) flows.push({ from: { time: s.start[slice], track: s.track[task.slice], row: s.row[task.slice] }, to: endOf(model, slice) });
  }
  return flows;
}
