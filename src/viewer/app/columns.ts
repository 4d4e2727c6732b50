type TypedArray = Float64Array | Uint32Array | Uint8Array;

/**
 * A growable column of numbers in a typed array: the model builder's storage for hundreds of
 * thousands of slices, marks and creations. Pushing costs a store (and a doubling now and then),
 * and the result is already the typed array the model keeps.
 */
export class Column<T extends TypedArray> {
  /** The storage; valid up to {@link length}. */
  a: T;
  length = 0;

  constructor(private readonly make: (size: number) => T) {
    this.a = make(1024);
  }

  push(value: number): void {
    if (this.length === this.a.length) this.grow();
    this.a[this.length++] = value;
  }

  private grow(): void {
    const bigger = this.make(this.a.length * 2);
    bigger.set(this.a as never);
    this.a = bigger;
  }

  /** A copy of exactly the values pushed. */
  done(): T {
    return this.a.slice(0, this.length) as T;
  }
}

export const f64 = (): Column<Float64Array> => new Column((n) => new Float64Array(n));
export const u32 = (): Column<Uint32Array> => new Column((n) => new Uint32Array(n));
export const u8 = (): Column<Uint8Array> => new Column((n) => new Uint8Array(n));
