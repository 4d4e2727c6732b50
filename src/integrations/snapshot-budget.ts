/**
 * The rate limit on snapshots: at most `max` in any `windowMs`, shared by every thread of the
 * process through a SharedArrayBuffer, so the stall watchdog (which writes while the main thread
 * is blocked) and the main thread's triggers draw on one budget. A ring of the times of the last
 * `max` snapshots; a snapshot may be taken when the oldest of them is out of the window.
 */

const LOCK = 0;
const SKIPPED = 1;
/** Float64 slots start at byte 8. */
const SLOTS_BYTE = 8;

export interface SnapshotBudgetState {
  buffer: SharedArrayBuffer;
  max: number;
  windowMs: number;
}

export class SnapshotBudget {
  private readonly words: Int32Array;
  private readonly times: Float64Array;

  constructor(readonly state: SnapshotBudgetState) {
    this.words = new Int32Array(state.buffer, 0, 2);
    this.times = new Float64Array(state.buffer, SLOTS_BYTE, state.max);
  }

  /** A budget of `max` snapshots per `windowMs`, to share with other threads through `state`. */
  static create(max: number, windowMs: number): SnapshotBudget {
    return new SnapshotBudget({ buffer: new SharedArrayBuffer(SLOTS_BYTE + 8 * max), max, windowMs });
  }

  /** Takes one snapshot's worth if the window allows it now; otherwise counts a skip. */
  tryTake(now = Date.now()): boolean {
    this.lock();
    try {
      let oldest = 0;
      for (let i = 1; i < this.times.length; i++) if (this.times[i] < this.times[oldest]) oldest = i;
      if (this.times[oldest] !== 0 && this.times[oldest] > now - this.state.windowMs) {
        Atomics.add(this.words, SKIPPED, 1);
        return false;
      }
      this.times[oldest] = now;
      return true;
    } finally {
      this.unlock();
    }
  }

  /** Snapshots the limit held back, on every thread. */
  get skipped(): number {
    return Atomics.load(this.words, SKIPPED);
  }

  /** Snapshots still allowed in the window now. */
  remaining(now = Date.now()): number {
    this.lock();
    try {
      let left = 0;
      for (const t of this.times) if (t === 0 || t <= now - this.state.windowMs) left++;
      return left;
    } finally {
      this.unlock();
    }
  }

  private lock(): void {
    // Held for a few comparisons: spinning is cheaper than waiting, and the main thread may not
    // wait. Bounded, in case the holder was paused (a debugger): a rare double count beats a hang.
    for (let spins = 0; spins < 1e6 && Atomics.compareExchange(this.words, LOCK, 0, 1) !== 0; spins++);
  }

  private unlock(): void {
    Atomics.store(this.words, LOCK, 0);
  }
}
