import type { TraceModel } from './model.js';

/** Most matches listed; more are still highlighted, through the names they match. */
const MAX_MATCHES = 100_000;

/** Finding slices and marks by name (case-insensitive substring). */
export class Search {
  query = '';
  /** By string index: 1 where the string matches. Undefined when no search is active. */
  matchName: Uint8Array | undefined;
  /** Matches by time: a slice index, or a mark index m as -(m + 1). */
  hits: Int32Array = new Int32Array(0);
  /** Total matches (may exceed the list). */
  total = 0;
  /** Position in {@link hits} of the last match jumped to. */
  current = -1;

  constructor(private readonly model: TraceModel) {}

  get active(): boolean {
    return this.matchName !== undefined;
  }

  set(query: string): void {
    this.query = query;
    this.current = -1;
    const q = query.trim().toLowerCase();
    if (q === '') {
      this.matchName = undefined;
      this.hits = new Int32Array(0);
      this.total = 0;
      return;
    }
    const { strings, slices, marks } = this.model;
    const match = new Uint8Array(strings.length);
    for (let i = 1; i < strings.length; i++) if (strings[i].toLowerCase().includes(q)) match[i] = 1;
    this.matchName = match;
    const found: number[] = [];
    let total = 0;
    for (let s = 0; s < slices.count; s++) {
      if (match[slices.name[s]] === 1) {
        total++;
        if (found.length < MAX_MATCHES) found.push(s);
      }
    }
    for (let m = 0; m < marks.count; m++) {
      if (match[marks.text[m]] === 1 || match[marks.category[m]] === 1) {
        total++;
        if (found.length < MAX_MATCHES) found.push(-(m + 1));
      }
    }
    const time = (h: number) => (h >= 0 ? slices.start[h] : marks.time[-h - 1]);
    found.sort((a, b) => time(a) - time(b) || a - b);
    this.hits = Int32Array.from(found);
    this.total = total;
  }

  /** The next (or previous) hit after the current one, as in {@link hits}; undefined when none. */
  step(direction: 1 | -1): number | undefined {
    const n = this.hits.length;
    if (n === 0) return undefined;
    this.current = this.current < 0 ? (direction === 1 ? 0 : n - 1) : (this.current + direction + n) % n;
    return this.hits[this.current];
  }
}
