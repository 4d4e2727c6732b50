/**
 * Laying slices out in rows so that none overlap within a row. Slices sorted by start (longest
 * first on ties) each go to the lowest row that is free at their start: slices that nest end up
 * one row below their parent, so this gives call-stack depth for properly nested slices and a
 * sensible packing for ranges that overlap arbitrarily (requests, outgoing calls).
 */

/** Sorts slice indexes by start, then longer first, then by index (stable). */
export function sortByStart(items: number[], start: ArrayLike<number>, end: ArrayLike<number>): number[] {
  return items.sort((a, b) => start[a] - start[b] || end[b] - end[a] || a - b);
}

/** Returns the row of each item (in the order given, which must be {@link sortByStart} order) and the number of rows. */
export function packRows(items: readonly number[], start: ArrayLike<number>, end: ArrayLike<number>): { rows: Uint32Array; count: number } {
  const rows = new Uint32Array(items.length);
  const rowEnd: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const s = start[items[i]];
    let r = 0;
    while (r < rowEnd.length && rowEnd[r] > s) r++;
    if (r === rowEnd.length) rowEnd.push(end[items[i]]);
    else rowEnd[r] = end[items[i]];
    rows[i] = r;
  }
  return { rows, count: rowEnd.length };
}

/** A block of rows to place: it starts at `start` and reserves each of its rows until `rowEnds[k]`. */
export interface Block {
  start: number;
  rowEnds: readonly number[];
}

/**
 * Places blocks (a task with its regions below it) in the lowest run of rows free at the
 * block's start; blocks must come sorted by start. Returns the first row of each block and the
 * number of rows used.
 */
export function packBlocks(blocks: readonly Block[]): { first: Uint32Array; count: number } {
  const first = new Uint32Array(blocks.length);
  const rowEnd: number[] = [];
  for (let b = 0; b < blocks.length; b++) {
    const { start, rowEnds } = blocks[b];
    const h = rowEnds.length;
    let r = 0;
    for (;;) {
      let k = 0;
      while (k < h && (rowEnd[r + k] === undefined || rowEnd[r + k] <= start)) k++;
      if (k === h) break;
      r += k + 1;
    }
    for (let k = 0; k < h; k++) rowEnd[r + k] = Math.max(rowEnd[r + k] ?? -Infinity, rowEnds[k]);
    first[b] = r;
  }
  return { first, count: rowEnd.length };
}
