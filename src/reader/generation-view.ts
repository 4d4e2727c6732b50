import type { StackFrame } from '../format/events.js';
import type { TimedEvent } from './events.js';
import { BUILDERS } from './timed-codecs.js';

/** An event batch of a generation, with the tables its references resolve against. */
export interface ViewBatch {
  bytes: Uint8Array;
  thread: number;
  strings: readonly string[];
  stacks: readonly (readonly StackFrame[])[];
}

/**
 * The timed events of one generation, checked and ordered but not yet made into objects: for
 * each event its time, its batch and its offset, in typed arrays. `event(i)` builds the i-th
 * event in time order.
 */
export class GenerationView {
  constructor(
    private readonly batches: readonly ViewBatch[],
    private readonly times: Float64Array,
    private readonly batchOf: Uint32Array,
    private readonly offsets: Uint32Array,
    /** Event indexes in time order; undefined when write order already is time order. */
    private readonly order: Uint32Array | undefined,
    readonly count: number,
  ) {}

  /** The i-th event in time order. */
  event(i: number): TimedEvent {
    const index = this.order === undefined ? i : this.order[i];
    const batch = this.batches[this.batchOf[index]];
    const b = batch.bytes;
    let p = this.offsets[index];
    const build = BUILDERS[b[p++]]!;
    while (b[p++] & 0x80); // the time delta, already applied
    return build(b, p, this.times[index], batch.thread, batch.strings, batch.stacks);
  }

  /** Time of the i-th event in time order, without building it. */
  time(i: number): number {
    return this.times[this.order === undefined ? i : this.order[i]];
  }
}

/** Growable columns the scanner fills. */
export class EventColumns {
  times: Float64Array;
  batchOf: Uint32Array;
  offsets: Uint32Array;
  count = 0;

  /** `expected`: a guess at the number of events, to grow rarely. */
  constructor(expected: number) {
    const size = Math.max(64, expected);
    this.times = new Float64Array(size);
    this.batchOf = new Uint32Array(size);
    this.offsets = new Uint32Array(size);
  }

  push(time: number, batch: number, offset: number): void {
    if (this.count === this.times.length) this.grow();
    const n = this.count++;
    this.times[n] = time;
    this.batchOf[n] = batch;
    this.offsets[n] = offset;
  }

  private grow(): void {
    const size = this.times.length * 2;
    const times = new Float64Array(size);
    times.set(this.times);
    const batchOf = new Uint32Array(size);
    batchOf.set(this.batchOf);
    const offsets = new Uint32Array(size);
    offsets.set(this.offsets);
    this.times = times;
    this.batchOf = batchOf;
    this.offsets = offsets;
  }
}

/**
 * Orders events given as per-thread runs [start, end) of the columns, each in write order.
 * A run with backdated events is sorted first (stably); then the runs are merged by time, ties
 * in run order. Returns undefined when there is one run already in order.
 */
export function timeOrder(times: Float64Array, runs: readonly { start: number; end: number; sorted: boolean }[], count: number): Uint32Array | undefined {
  if (runs.length === 1 && runs[0].sorted) return undefined;
  const lists: Uint32Array[] = runs.map(({ start, end, sorted }) => {
    const list = new Uint32Array(end - start);
    for (let i = 0; i < list.length; i++) list[i] = start + i;
    if (!sorted) list.sort((a, b) => times[a] - times[b] || a - b);
    return list;
  });
  if (lists.length === 1) return lists[0];
  const order = new Uint32Array(count);
  const heads = new Array<number>(lists.length).fill(0);
  let n = 0;
  while (n < count) {
    let best = -1;
    let bestTime = Infinity;
    let second = Infinity;
    for (let r = 0; r < lists.length; r++) {
      const h = heads[r];
      if (h >= lists[r].length) continue;
      const t = times[lists[r][h]];
      if (t < bestTime) {
        second = bestTime;
        bestTime = t;
        best = r;
      } else if (t < second) {
        second = t;
      }
    }
    // Take from the chosen run while it stays at or before every other run's head.
    const list = lists[best];
    let h = heads[best];
    do order[n++] = list[h++];
    while (h < list.length && (times[list[h]] < second || (times[list[h]] === second && !anyEarlierRunAt(lists, heads, best, second, times))));
    heads[best] = h;
  }
  return order;
}

/** Whether a run before `run` has its head at `time` (ties go to the earlier run). */
function anyEarlierRunAt(lists: Uint32Array[], heads: number[], run: number, time: number, times: Float64Array): boolean {
  for (let r = 0; r < run; r++) if (heads[r] < lists[r].length && times[lists[r][heads[r]]] === time) return true;
  return false;
}
