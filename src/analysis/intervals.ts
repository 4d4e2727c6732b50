/**
 * A union of time intervals with bounded memory: intervals are kept as a flat list and merged
 * when it grows; when more than {@link MAX_INTERVALS} disjoint intervals remain, the smallest
 * gaps between them are filled, so the union can only grow by those gaps (a bounded
 * over-estimate, never an under-estimate of covered time).
 */
const MAX_INTERVALS = 256;

export class IntervalSet {
  /** start0, end0, start1, end1, ... in any order until normalized. */
  private points: number[] = [];
  private sorted = true;

  /** Adds [start, end); empty and inverted intervals are ignored. */
  add(start: number, end: number): void {
    if (!(end > start)) return;
    const p = this.points;
    if (this.sorted && p.length > 0 && start < p[p.length - 2]) this.sorted = false;
    p.push(start, end);
    if (p.length > 4 * MAX_INTERVALS) this.normalize();
  }

  /** Total time covered inside [from, to). */
  covered(from: number, to: number): number {
    this.normalize();
    const p = this.points;
    let total = 0;
    for (let i = 0; i < p.length; i += 2) {
      const s = Math.max(p[i], from);
      const e = Math.min(p[i + 1], to);
      if (e > s) total += e - s;
    }
    return total;
  }

  private normalize(): void {
    const p = this.points;
    if (p.length <= 2) return;
    let pairs: [number, number][] | undefined;
    if (!this.sorted) {
      pairs = [];
      for (let i = 0; i < p.length; i += 2) pairs.push([p[i], p[i + 1]]);
      pairs.sort((a, b) => a[0] - b[0]);
    }
    const merged: number[] = [];
    const count = p.length / 2;
    for (let i = 0; i < count; i++) {
      const s = pairs === undefined ? p[2 * i] : pairs[i][0];
      const e = pairs === undefined ? p[2 * i + 1] : pairs[i][1];
      const last = merged.length - 1;
      if (last > 0 && s <= merged[last]) {
        if (e > merged[last]) merged[last] = e;
      } else {
        merged.push(s, e);
      }
    }
    while (merged.length > 2 * MAX_INTERVALS) fillSmallestGaps(merged);
    this.points = merged;
    this.sorted = true;
  }
}

/** Fills the smaller half of the gaps between sorted disjoint intervals. */
function fillSmallestGaps(points: number[]): void {
  const gaps: number[] = [];
  for (let i = 2; i < points.length; i += 2) gaps.push(points[i] - points[i - 1]);
  const sortedGaps = [...gaps].sort((a, b) => a - b);
  const limit = sortedGaps[Math.floor(sortedGaps.length / 2)];
  const out: number[] = [points[0], points[1]];
  for (let i = 2; i < points.length; i += 2) {
    if (gaps[i / 2 - 1] <= limit) out[out.length - 1] = Math.max(out[out.length - 1], points[i + 1]);
    else out.push(points[i], points[i + 1]);
  }
  points.length = 0;
  points.push(...out);
}
