import { REGION_FLAG_SYNC } from '../format/events.js';
import { existingThreadTracer } from '../tracer/runtime.js';

/**
 * A region opened by `startRegion`; close it with `end()`. Ending twice is harmless. Kept to
 * three fields: it is the one allocation a region costs.
 */
export class Region {
  private ended = false;

  /** @internal */
  constructor(
    /** The task the region belongs to (0 for none). */
    readonly task: number,
    /** Region id, unique on its thread; 0 for the region handed out while nothing records. */
    readonly id: number,
  ) {}

  end(): void {
    if (this.ended || this.id === 0) return;
    this.ended = true;
    existingThreadTracer()?.regionEnd(this.task, this.id, 0);
  }
}

/** The region handed out while tracing is off: ending it does nothing, and costs no allocation. */
const OFF_REGION = new Region(0, 0);

export function startRegion(task: number, name: string): Region {
  const t = existingThreadTracer();
  if (t === undefined || !t.begin()) return OFF_REGION;
  const id = t.newRegionId();
  t.regionBegin(task, id, name);
  return new Region(task, id);
}

/**
 * Runs `fn` inside a region. A synchronous `fn` makes a region marked synchronous (it must nest
 * strictly); for a promise the region ends when it settles. `fn`'s result or error passes through.
 */
export function withRegion<T>(task: number, name: string, fn: () => T): T {
  const t = existingThreadTracer();
  if (t === undefined || !t.begin()) return fn();
  const id = t.newRegionId();
  t.regionBegin(task, id, name);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    t.regionEnd(task, id, REGION_FLAG_SYNC);
    throw err;
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    return (result as unknown as PromiseLike<unknown>).then(
      (value) => {
        t.regionEnd(task, id, 0);
        return value;
      },
      (err: unknown) => {
        t.regionEnd(task, id, 0);
        throw err;
      },
    ) as T;
  }
  t.regionEnd(task, id, REGION_FLAG_SYNC);
  return result;
}
