/**
 * The visible time range of the timeline and the mapping between trace time and pixels. Zoom
 * and pan keep the range inside the trace (with a small margin) and above a smallest span, so
 * no gesture can lose the trace off screen.
 */
export class Viewport {
  /** Visible range, trace ns. */
  start: number;
  end: number;
  /** Width of the time area in CSS pixels. */
  width = 1;

  /** Smallest visible span, ns. */
  static readonly MIN_SPAN = 100;

  constructor(
    /** The trace's range; the view can reach a little past it on each side. */
    readonly min: number,
    readonly max: number,
  ) {
    this.start = min;
    this.end = max;
    this.set(min - this.margin, max + this.margin);
  }

  private get margin(): number {
    return (this.max - this.min) * 0.02;
  }

  get span(): number {
    return this.end - this.start;
  }

  /** Pixels per ns. */
  get scale(): number {
    return this.width / this.span;
  }

  timeToX(t: number): number {
    return ((t - this.start) / this.span) * this.width;
  }

  xToTime(x: number): number {
    return this.start + (x / this.width) * this.span;
  }

  /** Shows [start, end], clamped to the trace. */
  set(start: number, end: number): void {
    const lo = this.min - this.margin;
    const hi = this.max + this.margin;
    let span = Math.max(Viewport.MIN_SPAN, Math.min(end - start, hi - lo));
    if (!Number.isFinite(span)) span = hi - lo;
    let s = Number.isFinite(start) ? start : lo;
    if (end - start < Viewport.MIN_SPAN) s = (start + end) / 2 - span / 2;
    s = Math.min(Math.max(s, lo), hi - span);
    this.start = s;
    this.end = s + span;
  }

  /** Zooms by `factor` (> 1 zooms in) keeping the time under `anchorX` (px) where it is. */
  zoom(factor: number, anchorX = this.width / 2): void {
    const anchor = this.xToTime(anchorX);
    const span = this.span / factor;
    const fraction = anchorX / this.width;
    this.set(anchor - span * fraction, anchor - span * fraction + span);
  }

  /** Moves the view by `dx` pixels (positive: later times come into view). */
  panPixels(dx: number): void {
    const dt = (dx / this.width) * this.span;
    this.set(this.start + dt, this.end + dt);
  }

  /** Shows `[start, end]` with `pad` of the span on each side. */
  fit(start: number, end: number, pad = 0.1): void {
    const span = Math.max(end - start, Viewport.MIN_SPAN);
    this.set(start - span * pad, end + span * pad);
  }

  /** Centres `t` without changing the zoom. */
  centre(t: number): void {
    const span = this.span;
    this.set(t - span / 2, t + span / 2);
  }
}
