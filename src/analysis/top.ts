/**
 * The `size` items with the highest scores seen so far, in bounded memory. `accepts(score)` lets
 * a caller skip building an item that would not be kept.
 */
export class TopN<T> {
  private readonly items: { score: number; item: T }[] = [];

  constructor(readonly size: number) {}

  /** Whether an item with this score would be kept now. */
  accepts(score: number): boolean {
    return this.size > 0 && (this.items.length < this.size || score > this.items[this.items.length - 1].score);
  }

  /** Offers an item; returns whether it was kept (it may be pushed out later). */
  offer(score: number, item: T): boolean {
    if (!this.accepts(score)) return false;
    const items = this.items;
    let at = items.length;
    while (at > 0 && items[at - 1].score < score) at--;
    items.splice(at, 0, { score, item });
    if (items.length > this.size) items.pop();
    return true;
  }

  /** The kept items, highest score first. */
  values(): T[] {
    return this.items.map((e) => e.item);
  }

  get length(): number {
    return this.items.length;
  }
}
