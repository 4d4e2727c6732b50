/**
 * A map from async ids to small non-negative numbers, fast for the hundreds of thousands of
 * resources a detailed trace holds. Async ids count up in the process, so the ids of one window
 * are nearly contiguous: they go in a dense array from the first id seen, and the rare others
 * (resources older than the window, or far-off ids) in a Map.
 */
export class IdIndex {
  private base = -1;
  private dense = new Int32Array(0);
  private readonly sparse = new Map<number, number>();

  /** Most entries the dense array may grow to (16 Mi: 64 MiB). */
  static readonly MAX_DENSE = 1 << 24;

  get(id: number): number {
    const k = id - this.base;
    if (this.base >= 0 && k >= 0 && k < this.dense.length) {
      const v = this.dense[k];
      if (v >= 0) return v;
    }
    return this.sparse.get(id) ?? -1;
  }

  set(id: number, value: number): void {
    if (this.base < 0) {
      this.base = id;
      this.dense = new Int32Array(1024).fill(-1);
    }
    const k = id - this.base;
    if (k >= 0 && k < IdIndex.MAX_DENSE && Number.isInteger(k)) {
      if (k >= this.dense.length) {
        let size = this.dense.length * 2;
        while (size <= k) size *= 2;
        const grown = new Int32Array(Math.min(size, IdIndex.MAX_DENSE)).fill(-1);
        grown.set(this.dense);
        this.dense = grown;
      }
      this.dense[k] = value;
      this.sparse.delete(id);
    } else {
      this.sparse.set(id, value);
    }
  }
}
