import { performance } from 'node:perf_hooks';
import type { ClockSnapshot } from '../format/events.js';

/**
 * The trace clock: one process-wide monotonic clock in nanoseconds, the one `process.hrtime`
 * reads, counted from an epoch shared by every thread of the process. Reading it costs one
 * `performance.now()`: each thread measures once how its own `performance.now()` (which counts
 * from the thread's start) maps onto the shared epoch.
 */

export type { ClockSnapshot };

let epochNs = 0n;
let offsetNs = 0;

/** Sets the shared epoch (hrtime ns) and measures this thread's offset to it. */
export function initClock(epoch: bigint): void {
  epochNs = epoch;
  let bestSpread = Infinity;
  for (let i = 0; i < 7; i++) {
    const before = performance.now();
    const hr = process.hrtime.bigint();
    const after = performance.now();
    const spread = after - before;
    if (spread < bestSpread) {
      bestSpread = spread;
      offsetNs = Number(hr - epochNs) - ((before + after) / 2) * 1e6;
    }
  }
}

/** The epoch a main thread picks: its own `performance.now()` origin, so trace time is ns since the process started. */
export function mainThreadEpoch(): bigint {
  const before = performance.now();
  const hr = process.hrtime.bigint();
  const after = performance.now();
  return hr - BigInt(Math.round(((before + after) / 2) * 1e6));
}

/** Current trace time in ns (fractional; writers round deltas). */
export function traceNow(): number {
  return performance.now() * 1e6 + offsetNs;
}

/** Converts a `performance.now()`-style time (ms, this thread's origin) to trace time. */
export function fromPerformanceTime(ms: number): number {
  return ms * 1e6 + offsetNs;
}

let last: ClockSnapshot = { trace: 0, monoSec: 0, monoNsec: 0, wallSec: 0, wallNsec: 0 };

/** The later of (sec, nsec) and one nanosecond after (lastSec, lastNsec), as a pair. */
function strictlyAfter(sec: number, nsec: number, lastSec: number, lastNsec: number): [number, number] {
  if (sec > lastSec || (sec === lastSec && nsec > lastNsec)) return [sec, nsec];
  return lastNsec + 1 >= 1e9 ? [lastSec + 1, 0] : [lastSec, lastNsec + 1];
}

/**
 * Reads the trace, monotonic and wall clocks together. Each reading is strictly later than the
 * one before on every clock, so sync points always increase even when taken within the same
 * nanosecond or when the wall clock steps back. Seconds and nanoseconds stay apart because
 * wall-clock nanoseconds do not fit a double exactly.
 */
export function clockSnapshot(): ClockSnapshot {
  const [monoSecRaw, monoNsecRaw] = process.hrtime();
  const trace = Math.max(Math.round(traceNow()), last.trace + 1, 1);
  const [monoSec, monoNsec] = strictlyAfter(monoSecRaw, monoNsecRaw, last.monoSec, last.monoNsec);
  const wallMs = Date.now();
  const [wallSec, wallNsec] = strictlyAfter(
    Math.floor(wallMs / 1000),
    (wallMs % 1000) * 1e6 + (monoNsecRaw % 1e6),
    last.wallSec,
    last.wallNsec,
  );
  last = { trace, monoSec, monoNsec, wallSec, wallNsec };
  return last;
}
