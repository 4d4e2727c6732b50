import type { StackFrame } from '../format/events.js';
import type { TimedEvent } from './events.js';
import { BUILDERS, FILLERS, fillState } from './timed-codecs.js';

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

  /**
   * The i-th event in time order, like {@link event}, but in the one object of its kind that
   * every call returns for that kind (on any view): read it before the next call, do not keep it.
   * It saves an object per event to consumers that only read each event once.
   */
  transientEvent(i: number): TimedEvent {
    const index = this.order === undefined ? i : this.order[i];
    const batch = this.batches[this.batchOf[index]];
    const b = batch.bytes;
    let p = this.offsets[index];
    const fill = FILLERS[b[p++]]!;
    while (b[p++] & 0x80); // the time delta, already applied
    fillState.time = this.times[index];
    return fill(b, p, batch.thread, batch.strings, batch.stacks);
  }

  /** Time of the i-th event in time order, without building it. */
  time(i: number): number {
    return this.times[this.order === undefined ? i : this.order[i]];
  }

  /**
   * Encoded size in bytes of the i-th event in time order (type byte, time delta and arguments).
   * The scanner stores each batch's events contiguously, in write order, so an event ends where
   * the next one of its batch begins, or at the end of its batch.
   */
  size(i: number): number {
    const index = this.order === undefined ? i : this.order[i];
    const batch = this.batchOf[index];
    const next = index + 1;
    const end = next < this.count && this.batchOf[next] === batch ? this.offsets[next] : this.batches[batch].bytes.length;
    return end - this.offsets[index];
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
  const lists: Uint32Array[] = runs.map(({ start, end, sorted }) => (sorted ? identity(start, end) : sortRun(times, start, end)));
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

function identity(start: number, end: number): Uint32Array {
  const list = new Uint32Array(end - start);
  for (let i = 0; i < list.length; i++) list[i] = start + i;
  return list;
}

/**
 * The indexes [start, end) ordered by time, ties by index: the same order as sorting them all
 * with that comparator, found faster. A run is out of order only because of its few backdated
 * events (GC and blocked-loop ranges, CPU samples), so the events at or after the latest time
 * kept so far form a sorted sequence; only the others are sorted (a comparator sort costs far
 * more per element), then the two sequences are merged.
 */
function sortRun(times: Float64Array, start: number, end: number): Uint32Array {
  const kept = new Uint32Array(end - start);
  let keptCount = 0;
  let displaced: number[] = [];
  let last = -Infinity;
  for (let i = start; i < end; i++) {
    const t = times[i];
    if (t >= last) {
      kept[keptCount++] = i;
      last = t;
    } else {
      displaced.push(i);
    }
  }
  if (displaced.length === 0) return kept;
  displaced = displaced.sort((a, b) => times[a] - times[b] || a - b);
  const list = new Uint32Array(end - start);
  let k = 0;
  let d = 0;
  let n = 0;
  while (k < keptCount && d < displaced.length) {
    const a = kept[k];
    const b = displaced[d];
    const ta = times[a];
    const tb = times[b];
    if (ta < tb || (ta === tb && a < b)) {
      list[n++] = a;
      k++;
    } else {
      list[n++] = b;
      d++;
    }
  }
  while (k < keptCount) list[n++] = kept[k++];
  while (d < displaced.length) list[n++] = displaced[d++];
  return list;
}

/** Whether a run before `run` has its head at `time` (ties go to the earlier run). */
function anyEarlierRunAt(lists: Uint32Array[], heads: number[], run: number, time: number, times: Float64Array): boolean {
  for (let r = 0; r < run; r++) if (heads[r] < lists[r].length && times[lists[r][heads[r]]] === time) return true;
  return false;
}
