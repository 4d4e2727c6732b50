import type { ClockPoint } from './model.js';

/** How the viewer prints times, durations, sizes and values. */

/** "850 ns", "12.3 µs", "4.56 ms", "1.23 s". */
export function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${Math.round(ns)} ns`;
  if (abs < 1e6) return `${trim(ns / 1e3)} µs`;
  if (abs < 1e9) return `${trim(ns / 1e6)} ms`;
  if (abs < 600e9) return `${trim(ns / 1e9)} s`;
  return `${(ns / 60e9).toFixed(1)} min`;
}

/** Three significant digits, no trailing zeros. */
function trim(v: number): string {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return String(Number(v.toFixed(digits)));
}

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes} B`;
  if (abs < 1024 * 1024) return `${trim(bytes / 1024)} KiB`;
  if (abs < 1024 * 1024 * 1024) return `${trim(bytes / 1024 / 1024)} MiB`;
  return `${trim(bytes / 1024 / 1024 / 1024)} GiB`;
}

export function formatValue(value: number, unit: 'bytes' | 'ms' | 'ratio' | 'number'): string {
  if (unit === 'bytes') return formatBytes(value);
  if (unit === 'ms') return `${trim(value)} ms`;
  if (unit === 'ratio') return `${trim(value * 100)} %`;
  return Math.abs(value) >= 1e6 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(2) : trim(value);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** A wall-clock instant: whole seconds since the Unix epoch and nanoseconds, exact at any precision. */
export interface WallTime {
  sec: number;
  nsec: number;
}

/**
 * Wall time of a trace time, from the sync point at or before it (the first one for earlier
 * times): each generation's clock snapshot ties trace time to wall time, so a clock step
 * between generations moves only the generations after it.
 */
export function wallTime(clocks: readonly ClockPoint[], t: number): WallTime {
  if (clocks.length === 0) return { sec: 0, nsec: 0 };
  let lo = 0;
  let hi = clocks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (clocks[mid].trace <= t) lo = mid;
    else hi = mid - 1;
  }
  const c = clocks[lo];
  const ns = c.wallNsec + Math.round(t - c.trace);
  const carry = Math.floor(ns / 1e9);
  return { sec: c.wallSec + carry, nsec: ns - carry * 1e9 };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** "14:02:08" in local time. */
export function clockText(w: WallTime): string {
  const d = new Date(w.sec * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "2026-11-30 14:02:08.123" in local time. */
export function dateTimeText(w: WallTime): string {
  const d = new Date(w.sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockText(w)}.${pad(Math.floor(w.nsec / 1e6), 3)}`;
}

/** The local time zone as "UTC+01:00". */
export function zoneText(w: WallTime): string {
  const offset = -new Date(w.sec * 1000).getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * The wall time to print at a ruler tick `step` ns apart: seconds and as many fraction digits
 * as the step needs ("14:02:08.125", "14:02:08.125 250" for µs, with ns beyond).
 */
export function tickText(w: WallTime, step: number): string {
  const base = clockText(w);
  if (step >= 1e9) return base;
  const ms = pad(Math.floor(w.nsec / 1e6), 3);
  if (step >= 1e6) return `${base}.${ms}`;
  const us = pad(Math.floor(w.nsec / 1e3) % 1000, 3);
  if (step >= 1e3) return `${base}.${ms} ${us}`;
  return `${base}.${ms} ${us} ${pad(w.nsec % 1000, 3)}`;
}

/** Steps a ruler can use, in ns: 1-2-5 up to seconds, then round seconds, minutes and hours (each divides a day). */
const STEPS: number[] = (() => {
  const steps: number[] = [];
  for (let e = 0; e <= 9; e++) for (const m of [1, 2, 5]) steps.push(m * 10 ** e);
  for (const s of [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]) steps.push(s * 1e9);
  return steps.filter((s) => s <= 86400e9);
})();

/** The smallest ruler step at least `minStep` ns. */
export function rulerStep(minStep: number): number {
  for (const s of STEPS) if (s >= minStep) return s;
  return STEPS[STEPS.length - 1];
}

/**
 * Trace times of the ruler ticks between `t0` and `t1`, `step` ns apart and placed where the
 * wall clock is a whole multiple of the step (so labels read 14:02:08.100, .200, ...).
 */
export function rulerTicks(clocks: readonly ClockPoint[], t0: number, t1: number, step: number): number[] {
  const w = wallTime(clocks, t0);
  // Remainder of the wall time in the day divided by the step: exact in doubles (< 2^53).
  const inDay = (w.sec % 86400) * 1e9 + w.nsec;
  const rem = inDay % step;
  const ticks: number[] = [];
  for (let t = t0 + (rem === 0 ? 0 : step - rem); t <= t1 && ticks.length < 1000; t += step) ticks.push(t);
  return ticks;
}
