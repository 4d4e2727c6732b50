import type { Generation } from '../tracer/hub.js';

/**
 * The flight recorder's window policy. After a generation ends, the window is that generation
 * plus older ones, newest first, for as long as the total stays within `maxBytes` and the window
 * does not yet reach back `minAgeNs` from `now`. `maxBytes` wins over `minAge`, and the newest
 * whole generation is always kept, whatever its size.
 */
export function nextWindow(window: readonly Generation[], finished: Generation, now: number, minAgeNs: number, maxBytes: number): Generation[] {
  const kept: Generation[] = [finished];
  let bytes = finished.bytes;
  for (let i = window.length - 1; i >= 0; i--) {
    const oldestKept = kept[kept.length - 1];
    if (now - oldestKept.start.trace >= minAgeNs) break;
    const older = window[i];
    if (bytes + older.bytes > maxBytes) break;
    bytes += older.bytes;
    kept.push(older);
  }
  return kept.reverse();
}

/** Total bytes of a window, headers included. */
export function windowBytes(window: readonly Generation[]): number {
  let bytes = 0;
  for (const g of window) bytes += g.bytes;
  return bytes;
}
