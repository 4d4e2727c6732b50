import { lowerBound } from './flows.js';
import type { Row } from './model.js';

/**
 * Level of detail for a row of slices: what to draw of it between `t0` and `t1` at `scale`
 * pixels per ns. A slice at least a pixel wide is drawn as itself; a slice narrower than a pixel
 * stands for its whole pixel column, and the slices after it in that column are skipped by a
 * binary search over the row's end times. So a row costs at most about one visit per pixel
 * column (plus one per wide slice), however many slices it holds.
 *
 * `visit(i, x0, x1, column)`: index in the row, left and right in pixels from t0, and whether it
 * stands for a one-pixel column.
 */
export function visitRow(row: Row, t0: number, t1: number, scale: number, visit: (i: number, x0: number, x1: number, column: boolean) => void): void {
  const n = row.start.length;
  let i = lowerBound(row.end, t0);
  while (i < n) {
    const start = row.start[i];
    if (start > t1) break;
    const x0 = (start - t0) * scale;
    const x1 = (row.end[i] - t0) * scale;
    if (x1 - x0 < 1) {
      const px = Math.floor(x0);
      visit(i, px, px + 1, true);
      i = lowerBound(row.end, t0 + (px + 1) / scale, i + 1);
    } else {
      visit(i, x0, x1, false);
      i++;
    }
  }
}
