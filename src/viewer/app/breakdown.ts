import type { Breakdown } from '../../analysis/types.js';
import { SliceKind, type TraceModel } from './model.js';

/**
 * Where a task's time went, for any task the user selects (the analysis lists only the
 * slowest), with the analysis contract's definitions: the union of its own regions, the time
 * its thread's loop was blocked and in GC while it ran, the union of its outgoing calls, and
 * what none of these explains.
 */
export function breakdownOf(model: TraceModel, task: number): Breakdown | undefined {
  const info = model.tasks.get(task);
  if (info === undefined) return undefined;
  const s = model.slices;
  const from = s.start[info.slice];
  const to = s.end[info.slice];
  const regions: [number, number][] = [];
  const blocked: [number, number][] = [];
  const gc: [number, number][] = [];
  const outgoing: [number, number][] = [];
  for (let i = 0; i < s.count; i++) {
    const a = s.start[i];
    const b = s.end[i];
    if (b <= from || a >= to) continue;
    const kind = s.kind[i];
    if (kind === SliceKind.region && s.ref[i] === task) regions.push([a, b]);
    else if (kind === SliceKind.loopBlock && s.thread[i] === info.thread) blocked.push([a, b]);
    else if (kind === SliceKind.gc && s.thread[i] === info.thread) gc.push([a, b]);
  }
  for (const call of model.clients.values()) if (call.task === task) outgoing.push([s.start[call.slice], s.end[call.slice]]);
  const all = [...regions, ...blocked, ...gc, ...outgoing];
  return {
    regions: covered(regions, from, to),
    loopBlocked: covered(blocked, from, to),
    gc: covered(gc, from, to),
    outgoing: covered(outgoing, from, to),
    waiting: Math.max(0, to - from - covered(all, from, to)),
  };
}

/** Time covered by the union of `intervals`, inside [from, to). */
export function covered(intervals: [number, number][], from: number, to: number): number {
  const clipped = intervals.map(([a, b]) => [Math.max(a, from), Math.min(b, to)] as [number, number]).filter(([a, b]) => b > a);
  clipped.sort((x, y) => x[0] - y[0]);
  let total = 0;
  let start = -Infinity;
  let end = -Infinity;
  for (const [a, b] of clipped) {
    if (a > end) {
      if (end > start) total += end - start;
      start = a;
      end = b;
    } else if (b > end) {
      end = b;
    }
  }
  if (end > start) total += end - start;
  return total;
}
