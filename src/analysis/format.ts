import type { TraceStats } from './types.js';

/** Formatting shared by the text reports and the viewer: durations, times, sizes. No Node imports. */

/** A duration in ns as milliseconds: `204.2 ms`, `0.35 ms`, `12 345.0 ms` stays in ms. */
export function ms(ns: number): string {
  const value = ns / 1e6;
  const digits = Math.abs(value) < 1 ? 2 : 1;
  return `${value.toFixed(digits)} ms`;
}

/** A trace time as an offset from the trace's start, in seconds: `+1.234 s`. */
export function offset(time: number, start: number): string {
  return `+${((time - start) / 1e9).toFixed(3)} s`;
}

/** Wall-clock time (ms since the epoch) of a trace time, from the trace's first sync. */
export function wallTimeOf(stats: Pick<TraceStats, 'start' | 'wallStart'>, time: number): number {
  return stats.wallStart + (time - stats.start) / 1e6;
}

/** ISO 8601 of a wall time in ms since the epoch, or `unknown` when there is none. */
export function iso(wallMs: number): string {
  if (!Number.isFinite(wallMs) || wallMs <= 0) return 'unknown';
  return new Date(wallMs).toISOString();
}

/** A byte count: `1.2 MB`, `34.5 kB`, `512 B` (decimal units). */
export function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** A share 0..1 as a percentage: `98%`, `0.4%`. */
export function percent(share: number): string {
  const p = share * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** A count with thousands separators: `1,234,567`. */
export function count(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A thread's name for people: `main (t0)`, or `t3` when it has no name. */
export function threadLabel(id: number, name: string | undefined): string {
  return name ? `${name} (t${id})` : `t${id}`;
}
