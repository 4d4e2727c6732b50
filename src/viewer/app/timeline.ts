import { COLORS, darkColor, nameColor, sliceColor } from './colors.js';
import { flowsOf, lowerBound, type Flow } from './flows.js';
import { dateTimeText, formatDuration, formatValue, rulerStep, rulerTicks, tickText, wallTime, zoneText } from './format.js';
import { visitRow } from './lod.js';
import { computeLayout, GUTTER_WIDTH, LANE_HEADER_HEIGHT, RULER_HEIGHT, type Layout, type TrackBox } from './layout.js';
import { MarkKind, SliceFlag, SliceKind, type CounterTrack, type MarkTrack, type Row, type SampleTrack, type TraceModel } from './model.js';
import type { Search } from './search.js';
import { Viewport } from './viewport.js';

/** What can be selected on the timeline. */
export type Selection =
  | { type: 'slice'; slice: number }
  | { type: 'mark'; mark: number }
  | { type: 'sample'; track: number; index: number }
  | { type: 'counter'; track: number; index: number };

/** A time range picked on the ruler (or with shift-drag); the flame graph shows its samples. */
export interface TimeRange {
  start: number;
  end: number;
}

export interface TimelineEvents {
  select(selection: Selection | undefined): void;
  range(range: TimeRange | undefined): void;
  /** The visible range changed. */
  view(): void;
}

/** Where a point of the canvas falls. */
type Hit =
  | { area: 'ruler'; time: number }
  | { area: 'lane'; lane: number }
  | { area: 'gutter' }
  | { area: 'none'; time: number }
  | { area: 'track'; track: number; time: number; selection: Selection | undefined };

const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
const BOLD_FONT = 'bold 11px system-ui, -apple-system, "Segoe UI", sans-serif';
/** Pixels a click may miss a thin slice or a mark by. */
const HIT_SLOP = 3;
/** Zoom per second while W or S is held, and share of the view panned per second with A or D. */
const KEY_ZOOM_RATE = 4;
const KEY_PAN_RATE = 1.2;

/**
 * The timeline: lanes of tracks drawn on one canvas with level of detail. Each frame draws only
 * what is visible, and within a row at most about one rectangle per pixel column: runs of slices
 * narrower than a pixel are drawn as one column, found by binary search over the row's end
 * times, so a frame costs about the same at any zoom level and any trace size.
 */
export class Timeline {
  readonly viewport: Viewport;
  layout: Layout;
  selection: Selection | undefined;
  range: TimeRange | undefined;
  /** Milliseconds the last frames took to draw (the last 600), for the benchmark. */
  readonly frameMs: number[] = [];
  frames = 0;

  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly spacer: HTMLDivElement;
  private readonly collapsed = new Set<number>();
  private cssWidth = 1;
  private cssHeight = 1;
  private dpr = 1;
  private pending = 0;
  private charWidth = 6;
  private flows: Flow[] = [];
  private hoverX = -1;
  private readonly colorCache = new Map<number, string>();
  private readonly sampleInterval = new Map<number, number>();
  private readonly held = new Set<string>();
  private lastKeyFrame = 0;
  private drag: { x: number; y: number; scrollTop: number; start: number; end: number; mode: 'pan' | 'range'; moved: boolean } | undefined;

  constructor(
    private readonly model: TraceModel,
    /** The scrolling container the timeline fills. */
    private readonly host: HTMLElement,
    private readonly tooltip: HTMLElement,
    private readonly search: Search,
    private readonly events: TimelineEvents,
  ) {
    this.viewport = new Viewport(model.start, model.end);
    this.layout = computeLayout(model, this.collapsed);
    this.spacer = document.createElement('div');
    this.spacer.className = 'nfr-spacer';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'nfr-canvas';
    this.spacer.append(this.canvas);
    host.append(this.spacer);
    const ctx = this.canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    this.resize();
    new ResizeObserver(() => this.resize()).observe(host);
    host.addEventListener('scroll', () => this.invalidate());
    this.canvas.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.canvas.addEventListener('pointermove', (e) => this.pointerMove(e));
    this.canvas.addEventListener('pointerup', (e) => this.pointerUp(e));
    this.canvas.addEventListener('pointerleave', () => this.hover(undefined));
    this.canvas.addEventListener('dblclick', (e) => this.doubleClick(e));
    host.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
  }

  /** Schedules a redraw on the next animation frame. */
  invalidate(): void {
    if (this.pending === 0) this.pending = requestAnimationFrame(() => this.frame());
  }

  private frame(): void {
    this.pending = 0;
    const now = performance.now();
    if (this.held.size > 0) {
      this.keyMotion(Math.min(0.05, (now - this.lastKeyFrame) / 1000));
      this.lastKeyFrame = now;
      this.invalidate();
    }
    this.render();
    if (this.frameMs.length >= 600) this.frameMs.shift();
    this.frameMs.push(performance.now() - now);
    this.frames++;
  }

  private resize(): void {
    const width = Math.max(200, this.host.clientWidth);
    const height = Math.max(100, this.host.clientHeight);
    this.dpr = window.devicePixelRatio || 1;
    this.cssWidth = width;
    this.cssHeight = height;
    this.canvas.width = Math.round(width * this.dpr);
    this.canvas.height = Math.round(height * this.dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.viewport.width = Math.max(1, width - GUTTER_WIDTH);
    this.relayout();
    this.ctx.font = FONT;
    const sample = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ 0123456789 /:';
    this.charWidth = this.ctx.measureText(sample).width / sample.length;
    this.render();
  }

  private relayout(): void {
    this.layout = computeLayout(this.model, this.collapsed);
    this.spacer.style.height = `${RULER_HEIGHT + this.layout.height + 8}px`;
    this.invalidate();
  }

  toggleLane(lane: number): void {
    if (this.collapsed.has(lane)) this.collapsed.delete(lane);
    else this.collapsed.add(lane);
    this.relayout();
  }

  // ——— drawing ———

  render(): void {
    const ctx = this.ctx;
    const w = this.cssWidth;
    const h = this.cssHeight;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, w, h);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    const vp = this.viewport;
    const step = rulerStep(140 / vp.scale);
    const ticks = rulerTicks(this.model.clocks, vp.start, vp.end, step);
    const scrollTop = this.host.scrollTop;

    ctx.save();
    ctx.beginPath();
    ctx.rect(0, RULER_HEIGHT, w, h - RULER_HEIGHT);
    ctx.clip();
    // Grid lines under everything.
    ctx.fillStyle = COLORS.gridLine;
    for (const t of ticks) ctx.fillRect(Math.round(GUTTER_WIDTH + vp.timeToX(t)), RULER_HEIGHT, 1, h - RULER_HEIGHT);
    for (const lane of this.layout.lanes) {
      const y = RULER_HEIGHT + lane.y - scrollTop;
      if (y > h || y + lane.height < RULER_HEIGHT) continue;
      this.drawLaneHeader(lane.lane, y, w, lane.collapsed);
      if (lane.collapsed) continue;
      for (const track of this.model.lanes[lane.lane].tracks) {
        const box = this.layout.tracks[track];
        const ty = RULER_HEIGHT + box.y - scrollTop;
        if (ty > h || ty + box.height < RULER_HEIGHT) continue;
        this.drawTrack(box, ty);
      }
    }
    // Selection and arrows stay in the time area, off the labels.
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER_WIDTH, RULER_HEIGHT, w - GUTTER_WIDTH, h - RULER_HEIGHT);
    ctx.clip();
    this.drawSelectionOutline(scrollTop);
    this.drawFlows(scrollTop);
    ctx.restore();
    if (this.range !== undefined) {
      const xa = Math.max(GUTTER_WIDTH, GUTTER_WIDTH + vp.timeToX(this.range.start));
      const xb = Math.min(w, GUTTER_WIDTH + vp.timeToX(this.range.end));
      if (xb > xa) {
        ctx.fillStyle = COLORS.rangeShade;
        ctx.fillRect(xa, RULER_HEIGHT, Math.max(1, xb - xa), h - RULER_HEIGHT);
      }
    }
    if (this.hoverX >= GUTTER_WIDTH) {
      ctx.fillStyle = 'rgba(0,0,0,0.35)';
      ctx.fillRect(Math.round(this.hoverX), RULER_HEIGHT, 1, h - RULER_HEIGHT);
    }
    ctx.restore();
    // Gutter border.
    ctx.fillStyle = '#d5d9df';
    ctx.fillRect(GUTTER_WIDTH - 1, 0, 1, h);
    this.drawRuler(ticks, step, w);
  }

  private drawLaneHeader(lane: number, y: number, w: number, collapsed: boolean): void {
    const ctx = this.ctx;
    ctx.fillStyle = COLORS.laneHeader;
    ctx.fillRect(0, y, w, LANE_HEADER_HEIGHT);
    ctx.fillStyle = '#cfd5dc';
    ctx.fillRect(0, y, w, 1);
    ctx.fillStyle = COLORS.text;
    ctx.font = BOLD_FONT;
    const l = this.model.lanes[lane];
    ctx.fillText(`${collapsed ? '▸' : '▾'} ${l.title}`, 8, y + LANE_HEADER_HEIGHT / 2 + 1);
    ctx.font = FONT;
  }

  private drawTrack(box: TrackBox, y: number): void {
    const ctx = this.ctx;
    const track = this.model.tracks[box.track];
    // Label in the gutter.
    ctx.fillStyle = '#3c4650';
    ctx.fillText(this.fit(track.title, GUTTER_WIDTH - 28), 20, y + Math.min(box.height, 18) / 2);
    if (track.type === 'counter') {
      ctx.fillStyle = '#7a8590';
      ctx.fillText(`max ${formatValue(track.max, track.unit)}`, 20, y + 27);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER_WIDTH, y, this.cssWidth - GUTTER_WIDTH, box.height);
    ctx.clip();
    switch (track.type) {
      case 'slices':
        for (let r = 0; r < track.rows.length; r++) {
          const ry = y + r * box.rowHeight;
          if (ry > this.cssHeight || ry + box.rowHeight < RULER_HEIGHT) continue;
          this.drawRow(track.rows[r], ry, box.rowHeight);
        }
        break;
      case 'counter':
        this.drawCounter(track, y, box.height);
        break;
      case 'marks':
        this.drawMarks(track, y, box.height);
        break;
      case 'samples':
        this.drawSamples(box.track, track, y, box.height);
        break;
    }
    ctx.restore();
  }

  private sliceColor(s: number): string {
    const { slices, strings } = this.model;
    const kind = slices.kind[s];
    const name = slices.name[s];
    const key = kind * 0x1000000 + name;
    let c = this.colorCache.get(key);
    if (c === undefined) {
      let status = 0;
      let error = false;
      if (kind === SliceKind.request) {
        const request = this.model.tasks.get(slices.ref[s])?.request;
        status = request?.status ?? 0;
        error = (request?.error ?? '') !== '';
      } else if (kind === SliceKind.client) {
        const call = this.model.clients.get(slices.ref[s]);
        error = (call?.error ?? '') !== '';
      }
      c = sliceColor(kind, strings[name], status, error, (slices.flags[s] & SliceFlag.openEnd) !== 0);
      this.colorCache.set(key, c);
    }
    return c;
  }

  private drawRow(row: Row, y: number, height: number): void {
    const ctx = this.ctx;
    const vp = this.viewport;
    const width = vp.width;
    const { slices, strings } = this.model;
    const match = this.search.matchName;
    visitRow(row, vp.start, vp.end, vp.scale, (i, x0, x1, column) => {
      const s = row.slices[i];
      const color = this.sliceColor(s);
      ctx.globalAlpha = match !== undefined && match[slices.name[s]] !== 1 ? 0.25 : 1;
      ctx.fillStyle = color;
      if (column) {
        // One pixel column stands for every slice in it.
        ctx.fillRect(GUTTER_WIDTH + x0, y + 1, 1, height - 2);
        return;
      }
      const left = Math.max(-2, x0);
      const right = Math.min(width + 2, x1);
      ctx.fillRect(GUTTER_WIDTH + left, y + 1, right - left, height - 2);
      if (right - left > 24) {
        const label = this.fit(strings[slices.name[s]], right - left - 6);
        if (label !== '') {
          ctx.fillStyle = darkColor(color) ? COLORS.textLight : COLORS.text;
          ctx.fillText(label, GUTTER_WIDTH + left + 3, y + height / 2 + 0.5);
        }
      }
    });
    ctx.globalAlpha = 1;
  }

  /** `text` cut to fit `width` pixels, with an ellipsis; '' when not even a few characters fit. */
  private fit(text: string, width: number): string {
    const chars = Math.floor(width / this.charWidth);
    if (text.length <= chars) return text;
    if (chars < 4) return '';
    return `${text.slice(0, chars - 1)}…`;
  }

  private drawCounter(track: CounterTrack, y: number, height: number): void {
    const ctx = this.ctx;
    const vp = this.viewport;
    const { times, values } = track;
    if (times.length === 0) return;
    const lo = track.unit === 'ratio' ? 0 : Math.min(0, track.min);
    const hi = track.unit === 'ratio' ? Math.max(1, track.max) : Math.max(track.max, lo + 1e-9);
    const top = y + 3;
    const bottom = y + height - 2;
    const yOf = (v: number) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    let i = Math.max(0, lowerBound(times, vp.start) - 1);
    const xEnd = GUTTER_WIDTH + vp.width + 2;
    ctx.beginPath();
    let x = Math.max(GUTTER_WIDTH - 2, GUTTER_WIDTH + vp.timeToX(times[i]));
    ctx.moveTo(x, bottom);
    let yPrev = yOf(values[i]);
    ctx.lineTo(x, yPrev);
    let column = Math.floor(x);
    let colMin = yPrev;
    let colMax = yPrev;
    for (i++; i < times.length; i++) {
      const xi = GUTTER_WIDTH + vp.timeToX(times[i]);
      if (xi > xEnd) break;
      const yi = yOf(values[i]);
      if (Math.floor(xi) === column) {
        // Several samples in one pixel column: keep the column's extremes.
        colMin = Math.min(colMin, yi);
        colMax = Math.max(colMax, yi);
        yPrev = yi;
        continue;
      }
      if (colMin !== colMax) {
        ctx.lineTo(column + 0.5, colMin);
        ctx.lineTo(column + 0.5, colMax);
      }
      ctx.lineTo(xi, yPrev);
      ctx.lineTo(xi, yi);
      column = Math.floor(xi);
      colMin = colMax = yPrev = yi;
    }
    const last = Math.min(xEnd, GUTTER_WIDTH + vp.timeToX(this.model.end));
    ctx.lineTo(Math.max(last, column), yPrev);
    ctx.lineTo(Math.max(last, column), bottom);
    ctx.closePath();
    ctx.fillStyle = COLORS.counterFill;
    ctx.fill();
    ctx.strokeStyle = COLORS.counter;
    ctx.lineWidth = 1;
    ctx.stroke();
    if (this.selection?.type === 'counter' && this.model.tracks[this.selection.track] === track) {
      const k = this.selection.index;
      ctx.fillStyle = COLORS.selection;
      ctx.beginPath();
      ctx.arc(GUTTER_WIDTH + vp.timeToX(times[k]), yOf(values[k]), 3.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  private drawMarks(track: MarkTrack, y: number, height: number): void {
    const ctx = this.ctx;
    const vp = this.viewport;
    const { marks: table } = this.model;
    const match = this.search.matchName;
    const { times, marks } = track;
    let i = lowerBound(times, vp.start - 4 / vp.scale);
    const cy = y + height / 2;
    while (i < times.length && times[i] <= vp.end + 4 / vp.scale) {
      const m = marks[i];
      const x = GUTTER_WIDTH + vp.timeToX(times[i]);
      const kind = table.kind[m];
      ctx.fillStyle = kind === MarkKind.log ? COLORS.markLog : kind === MarkKind.instant ? COLORS.mark : COLORS.markLoss;
      ctx.globalAlpha = match !== undefined && match[table.text[m]] !== 1 && match[table.category[m]] !== 1 ? 0.25 : 1;
      ctx.beginPath();
      ctx.moveTo(x, cy - 5);
      ctx.lineTo(x + 4, cy);
      ctx.lineTo(x, cy + 5);
      ctx.lineTo(x - 4, cy);
      ctx.closePath();
      ctx.fill();
      // Marks closer than two pixels are drawn once.
      i = lowerBound(times, vp.xToTime(x - GUTTER_WIDTH + 2), i + 1);
    }
    ctx.globalAlpha = 1;
  }

  /** Typical time between samples of a track (its median gap), so each sample is drawn as the time it stands for. */
  private intervalOf(trackIndex: number, track: SampleTrack): number {
    let v = this.sampleInterval.get(trackIndex);
    if (v === undefined) {
      const gaps: number[] = [];
      for (let i = 1; i < track.times.length && gaps.length < 2000; i++) gaps.push(track.times[i] - track.times[i - 1]);
      gaps.sort((a, b) => a - b);
      v = gaps.length > 0 ? Math.max(1, gaps[gaps.length >> 1]) : 1e6;
      this.sampleInterval.set(trackIndex, v);
    }
    return v;
  }

  private drawSamples(trackIndex: number, track: SampleTrack, y: number, height: number): void {
    const ctx = this.ctx;
    const vp = this.viewport;
    const { times, stacks } = track;
    const interval = this.intervalOf(trackIndex, track);
    const { frames, stacks: stackTable } = this.model;
    let i = lowerBound(times, vp.start - interval);
    while (i < times.length && times[i] <= vp.end) {
      const stack = stackTable[stacks[i]];
      const top = stack.length > 0 ? frames[stack[stack.length - 1]].functionName || '(anonymous)' : '(no stack)';
      const next = i + 1 < times.length ? Math.min(times[i + 1], times[i] + interval) : times[i] + interval;
      const xa = vp.timeToX(times[i]);
      const xb = Math.max(xa + 1, vp.timeToX(next));
      ctx.fillStyle = nameColor(top);
      ctx.fillRect(GUTTER_WIDTH + xa, y + 2, xb - xa, height - 4);
      if (this.selection?.type === 'sample' && this.selection.track === trackIndex && this.selection.index === i) {
        ctx.strokeStyle = COLORS.selection;
        ctx.lineWidth = 2;
        ctx.strokeRect(GUTTER_WIDTH + xa, y + 1, xb - xa, height - 2);
      }
      i = xb - xa < 2 ? lowerBound(times, vp.xToTime(Math.floor(xa) + 1), i + 1) : i + 1;
    }
  }

  /** Top of a slice's row on screen. */
  private sliceY(track: number, row: number, scrollTop: number): number | undefined {
    const box = this.layout.tracks[track];
    if (box === undefined) return undefined;
    if (!box.visible) return RULER_HEIGHT + box.y - scrollTop;
    return RULER_HEIGHT + box.y - scrollTop + row * box.rowHeight;
  }

  private drawSelectionOutline(scrollTop: number): void {
    const sel = this.selection;
    if (sel?.type !== 'slice') return;
    const { slices } = this.model;
    const y = this.sliceY(slices.track[sel.slice], slices.row[sel.slice], scrollTop);
    if (y === undefined) return;
    const vp = this.viewport;
    const xa = Math.max(GUTTER_WIDTH - 2, GUTTER_WIDTH + vp.timeToX(slices.start[sel.slice]));
    const xb = Math.min(this.cssWidth + 2, GUTTER_WIDTH + vp.timeToX(slices.end[sel.slice]));
    const ctx = this.ctx;
    ctx.strokeStyle = COLORS.selection;
    ctx.lineWidth = 2;
    const box = this.layout.tracks[slices.track[sel.slice]];
    ctx.strokeRect(xa, y + 0.5, Math.max(2, xb - xa), box.rowHeight - 1);
  }

  private drawFlows(scrollTop: number): void {
    if (this.flows.length === 0) return;
    const ctx = this.ctx;
    const vp = this.viewport;
    ctx.strokeStyle = COLORS.flow;
    ctx.fillStyle = COLORS.flow;
    ctx.lineWidth = 1.5;
    for (const f of this.flows) {
      const ya = this.sliceY(f.from.track, f.from.row, scrollTop);
      const yb = this.sliceY(f.to.track, f.to.row, scrollTop);
      if (ya === undefined || yb === undefined) continue;
      const boxA = this.layout.tracks[f.from.track];
      const boxB = this.layout.tracks[f.to.track];
      const x0 = GUTTER_WIDTH + vp.timeToX(f.from.time);
      const y0 = ya + boxA.rowHeight / 2;
      const x1 = GUTTER_WIDTH + vp.timeToX(f.to.time);
      const y1 = yb + boxB.rowHeight / 2;
      const bend = Math.max(20, Math.abs(x1 - x0) / 3);
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.bezierCurveTo(x0 + bend, y0, x1 - bend, y1, x1, y1);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x1, y1);
      ctx.lineTo(x1 - 7, y1 - 4);
      ctx.lineTo(x1 - 7, y1 + 4);
      ctx.closePath();
      ctx.fill();
      ctx.beginPath();
      ctx.arc(x0, y0, 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  private drawRuler(ticks: number[], step: number, w: number): void {
    const ctx = this.ctx;
    const vp = this.viewport;
    ctx.fillStyle = '#f7f8fa';
    ctx.fillRect(0, 0, w, RULER_HEIGHT);
    ctx.fillStyle = '#cfd5dc';
    ctx.fillRect(0, RULER_HEIGHT - 1, w, 1);
    const first = wallTime(this.model.clocks, vp.start);
    ctx.fillStyle = '#3c4650';
    ctx.font = FONT;
    ctx.fillText(dateTimeText(first).slice(0, 10), 8, 9);
    ctx.fillStyle = '#7a8590';
    ctx.fillText(`${zoneText(first)} · view ${formatDuration(vp.span)}`, 8, 22);
    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER_WIDTH, 0, w - GUTTER_WIDTH, RULER_HEIGHT);
    ctx.clip();
    if (this.range !== undefined) {
      const xa = GUTTER_WIDTH + vp.timeToX(this.range.start);
      const xb = GUTTER_WIDTH + vp.timeToX(this.range.end);
      ctx.fillStyle = 'rgba(57, 73, 171, 0.25)';
      ctx.fillRect(xa, 0, Math.max(1, xb - xa), RULER_HEIGHT - 1);
      const label = formatDuration(this.range.end - this.range.start);
      ctx.fillStyle = COLORS.selection;
      ctx.fillText(label, Math.max(GUTTER_WIDTH + 2, (xa + xb) / 2 - (label.length * this.charWidth) / 2), 22);
    }
    ctx.fillStyle = '#3c4650';
    for (const t of ticks) {
      const x = Math.round(GUTTER_WIDTH + vp.timeToX(t));
      ctx.fillRect(x, RULER_HEIGHT - 8, 1, 7);
      ctx.fillText(tickText(wallTime(this.model.clocks, t), step), x + 3, 9);
    }
    ctx.restore();
  }

  // ——— hit testing and selection ———

  private hitTest(x: number, y: number): Hit {
    const vp = this.viewport;
    const time = vp.xToTime(x - GUTTER_WIDTH);
    if (y < RULER_HEIGHT) return { area: 'ruler', time };
    const cy = y - RULER_HEIGHT + this.host.scrollTop;
    for (const lane of this.layout.lanes) {
      if (cy < lane.y || cy >= lane.y + lane.height) continue;
      if (cy < lane.y + LANE_HEADER_HEIGHT) return { area: 'lane', lane: lane.lane };
      if (x < GUTTER_WIDTH) return { area: 'gutter' };
      for (const track of this.model.lanes[lane.lane].tracks) {
        const box = this.layout.tracks[track];
        if (cy >= box.y && cy < box.y + box.height) return { area: 'track', track, time, selection: this.pick(track, box, cy - box.y, time) };
      }
    }
    return x < GUTTER_WIDTH ? { area: 'gutter' } : { area: 'none', time };
  }

  private pick(trackIndex: number, box: TrackBox, dy: number, time: number): Selection | undefined {
    const track = this.model.tracks[trackIndex];
    const slop = HIT_SLOP / this.viewport.scale;
    switch (track.type) {
      case 'slices': {
        const row = track.rows[Math.floor(dy / box.rowHeight)];
        if (row === undefined) return undefined;
        let i = lowerBound(row.end, time - slop);
        if (i >= row.start.length || row.start[i] > time + slop) return undefined;
        // Prefer the slice under the pointer over a neighbour within the slop.
        if (row.end[i] < time && i + 1 < row.start.length && row.start[i + 1] <= time + slop && row.start[i + 1] - time < time - row.end[i]) i++;
        return { type: 'slice', slice: row.slices[i] };
      }
      case 'marks': {
        const i = nearest(track.times, time, 5 / this.viewport.scale);
        return i < 0 ? undefined : { type: 'mark', mark: track.marks[i] };
      }
      case 'samples': {
        const interval = this.intervalOf(trackIndex, track);
        let i = lowerBound(track.times, time + slop) - 1;
        if (i < 0 || track.times[i] + Math.max(interval, slop) < time) i = nearest(track.times, time, slop);
        return i < 0 ? undefined : { type: 'sample', track: trackIndex, index: i };
      }
      case 'counter': {
        const i = lowerBound(track.times, time + slop) - 1;
        return i < 0 ? undefined : { type: 'counter', track: trackIndex, index: i };
      }
    }
  }

  /** Selects (and reports) `selection`; with `reveal`, scrolls and zooms so it is on screen. */
  select(selection: Selection | undefined, reveal = false): void {
    this.selection = selection;
    this.flows = selection?.type === 'slice' ? flowsOf(this.model, selection.slice) : [];
    if (selection !== undefined && reveal) this.reveal(selection);
    this.events.select(selection);
    this.invalidate();
  }

  setRange(range: TimeRange | undefined): void {
    this.range = range;
    this.events.range(range);
    this.invalidate();
  }

  /** Time and track of a selection. */
  private placeOf(sel: Selection): { start: number; end: number; track: number; row: number } {
    const m = this.model;
    switch (sel.type) {
      case 'slice':
        return { start: m.slices.start[sel.slice], end: m.slices.end[sel.slice], track: m.slices.track[sel.slice], row: m.slices.row[sel.slice] };
      case 'mark': {
        const t = m.marks.time[sel.mark];
        const track = m.tracks.findIndex((tr) => tr.type === 'marks' && tr.thread === m.marks.thread[sel.mark]);
        return { start: t, end: t, track, row: 0 };
      }
      case 'sample':
      case 'counter': {
        const tr = m.tracks[sel.track] as SampleTrack | CounterTrack;
        return { start: tr.times[sel.index], end: tr.times[sel.index], track: sel.track, row: 0 };
      }
    }
  }

  /** Brings a selection on screen: zooms out or pans to it, expands its lane, scrolls to its row. */
  reveal(sel: Selection): void {
    const place = this.placeOf(sel);
    const vp = this.viewport;
    const span = place.end - place.start;
    if (span > 0 && (span > vp.span * 0.9 || span * vp.scale < 3)) vp.fit(place.start, place.end, span * vp.scale < 3 ? 10 : 0.1);
    else if (place.start < vp.start || place.end > vp.end) vp.centre((place.start + place.end) / 2);
    this.revealTrack(place.track, place.row);
    this.events.view();
    this.invalidate();
  }

  /** Scrolls so that a row of a track is visible, expanding its lane. */
  revealTrack(track: number, row = 0): void {
    const box = this.layout.tracks[track];
    if (box === undefined) return;
    if (!box.visible) {
      this.collapsed.delete(box.lane);
      this.relayout();
    }
    const b = this.layout.tracks[track];
    const y = b.y + row * b.rowHeight;
    const view = this.host.clientHeight - RULER_HEIGHT;
    if (y < this.host.scrollTop || y + b.rowHeight > this.host.scrollTop + view) this.host.scrollTop = Math.max(0, y - view / 3);
  }

  /** Shows a time range, optionally a thread's lane. */
  showRange(start: number, end: number, thread?: number): void {
    this.viewport.fit(start, end, 0.15);
    if (thread !== undefined) {
      const lane = this.model.lanes.findIndex((l) => l.kind === 'thread' && l.thread === thread);
      if (lane >= 0) this.revealTrack(this.model.lanes[lane].tracks[0]);
    }
    this.events.view();
    this.invalidate();
  }

  /** Centre of a slice on screen, in client coordinates, after revealing it; for tests and jumps. */
  slicePoint(slice: number): { x: number; y: number } {
    if (!(Number.isInteger(slice) && slice >= 0 && slice < this.model.slices.count)) throw new Error(`no slice ${slice}`);
    this.reveal({ type: 'slice', slice });
    this.render();
    const { slices } = this.model;
    const y = this.sliceY(slices.track[slice], slices.row[slice], this.host.scrollTop)!;
    const vp = this.viewport;
    const xa = Math.max(0, vp.timeToX(slices.start[slice]));
    const xb = Math.min(vp.width, vp.timeToX(slices.end[slice]));
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + GUTTER_WIDTH + (xa + xb) / 2, y: rect.top + y + this.layout.tracks[slices.track[slice]].rowHeight / 2 };
  }

  /** Zooms so the selection fills most of the view. */
  focusSelection(): void {
    if (this.selection === undefined) {
      if (this.range !== undefined) this.viewport.fit(this.range.start, this.range.end, 0.05);
    } else {
      const place = this.placeOf(this.selection);
      if (place.end > place.start) this.viewport.fit(place.start, place.end, 0.1);
      else this.viewport.set(place.start - 5e5, place.start + 5e5);
    }
    this.events.view();
    this.invalidate();
  }

  // ——— input ———

  private point(e: MouseEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  private pointerDown(e: PointerEvent): void {
    if (e.button !== 0) return;
    const { x, y } = this.point(e);
    this.host.focus({ preventScroll: true });
    const mode = y < RULER_HEIGHT || e.shiftKey ? 'range' : 'pan';
    this.drag = { x, y, scrollTop: this.host.scrollTop, start: this.viewport.start, end: this.viewport.end, mode, moved: false };
    this.canvas.setPointerCapture(e.pointerId);
  }

  private pointerMove(e: PointerEvent): void {
    const { x, y } = this.point(e);
    const drag = this.drag;
    if (drag === undefined) {
      this.hover(this.hitTest(x, y), e.clientX, e.clientY, x);
      return;
    }
    if (!drag.moved && Math.abs(x - drag.x) + Math.abs(y - drag.y) < 4) return;
    drag.moved = true;
    this.hover(undefined);
    if (drag.mode === 'range') {
      const vp = this.viewport;
      const a = vp.xToTime(Math.max(0, drag.x - GUTTER_WIDTH));
      const b = vp.xToTime(Math.max(0, x - GUTTER_WIDTH));
      this.range = { start: Math.min(a, b), end: Math.max(a, b) };
      this.invalidate();
    } else {
      const dt = ((x - drag.x) / this.viewport.width) * (drag.end - drag.start);
      this.viewport.set(drag.start - dt, drag.end - dt);
      this.host.scrollTop = drag.scrollTop - (y - drag.y);
      this.events.view();
      this.invalidate();
    }
  }

  private pointerUp(e: PointerEvent): void {
    const drag = this.drag;
    this.drag = undefined;
    if (drag === undefined) return;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    if (drag.moved) {
      if (drag.mode === 'range') this.setRange(this.range);
      return;
    }
    const { x, y } = this.point(e);
    const hit = this.hitTest(x, y);
    if (hit.area === 'lane') this.toggleLane(hit.lane);
    else if (hit.area === 'ruler') this.setRange(undefined);
    else if (hit.area === 'track') this.select(hit.selection);
    else if (hit.area === 'none') this.select(undefined);
  }

  private doubleClick(e: MouseEvent): void {
    const { x, y } = this.point(e);
    const hit = this.hitTest(x, y);
    if (hit.area === 'track' && hit.selection !== undefined) {
      this.select(hit.selection);
      this.focusSelection();
    }
  }

  private wheel(e: WheelEvent): void {
    const { x } = this.point(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.cssHeight : 1;
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      this.viewport.zoom(Math.exp(-e.deltaY * unit * 0.004), Math.max(0, x - GUTTER_WIDTH));
    } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      this.viewport.panPixels((e.shiftKey ? e.deltaY || e.deltaX : e.deltaX) * unit);
    } else {
      return; // vertical scrolling of the lanes, by the browser
    }
    this.events.view();
    this.invalidate();
  }

  /** W/S zoom, A/D pan: a step at once, then smoothly for as long as the key is held. */
  keyDown(key: string): boolean {
    const k = key.toLowerCase();
    if (!'wasd'.includes(k) || k.length !== 1) return false;
    if (!this.held.has(k)) {
      this.held.add(k);
      this.keyMotion(0.06);
      this.lastKeyFrame = performance.now();
      this.events.view();
      this.invalidate();
    }
    return true;
  }

  keyUp(key: string): void {
    this.held.delete(key.toLowerCase());
  }

  /** Stops key motion (when the window loses focus, keyup never comes). */
  releaseKeys(): void {
    this.held.clear();
  }

  private keyMotion(seconds: number): void {
    const vp = this.viewport;
    const anchor = this.hoverX >= GUTTER_WIDTH ? this.hoverX - GUTTER_WIDTH : vp.width / 2;
    if (this.held.has('w')) vp.zoom(Math.exp(KEY_ZOOM_RATE * seconds), anchor);
    if (this.held.has('s')) vp.zoom(Math.exp(-KEY_ZOOM_RATE * seconds), anchor);
    if (this.held.has('a')) vp.panPixels(-vp.width * KEY_PAN_RATE * seconds);
    if (this.held.has('d')) vp.panPixels(vp.width * KEY_PAN_RATE * seconds);
    if (seconds > 0) this.events.view();
  }

  // ——— hover ———

  private hover(hit: Hit | undefined, clientX = 0, clientY = 0, x = -1): void {
    const previous = this.hoverX;
    this.hoverX = hit === undefined || hit.area === 'gutter' || hit.area === 'lane' ? -1 : x;
    if (previous !== this.hoverX) this.invalidate();
    const text = hit?.area === 'track' && hit.selection !== undefined ? this.describe(hit.selection) : hit?.area === 'ruler' ? tickText(wallTime(this.model.clocks, hit.time), 1e3) : undefined;
    if (text === undefined) {
      this.tooltip.style.display = 'none';
      return;
    }
    this.tooltip.textContent = text;
    this.tooltip.style.display = 'block';
    const width = this.tooltip.offsetWidth;
    this.tooltip.style.left = `${Math.min(window.innerWidth - width - 8, clientX + 14)}px`;
    this.tooltip.style.top = `${clientY + 16}px`;
  }

  /** One or two lines about a selection, for the tooltip. */
  describe(sel: Selection): string {
    const m = this.model;
    switch (sel.type) {
      case 'slice': {
        const s = sel.slice;
        return `${m.strings[m.slices.name[s]]}\n${formatDuration(m.slices.end[s] - m.slices.start[s])}`;
      }
      case 'mark':
        return `${m.strings[m.marks.category[sel.mark]]}: ${m.strings[m.marks.text[sel.mark]]}`;
      case 'sample': {
        const tr = m.tracks[sel.track] as SampleTrack;
        const stack = m.stacks[tr.stacks[sel.index]];
        const lines = [...stack].reverse().slice(0, 6).map((f) => m.frames[f].functionName || '(anonymous)');
        return lines.length > 0 ? lines.join('\n') : '(no stack)';
      }
      case 'counter': {
        const tr = m.tracks[sel.track] as CounterTrack;
        return `${tr.metric}: ${formatValue(tr.values[sel.index], tr.unit)}`;
      }
    }
  }
}

/** Index of the time nearest `t` within `slop`, or -1. */
function nearest(times: Float64Array, t: number, slop: number): number {
  const i = lowerBound(times, t);
  let best = -1;
  let bestGap = slop;
  for (const j of [i - 1, i]) {
    if (j < 0 || j >= times.length) continue;
    const gap = Math.abs(times[j] - t);
    if (gap <= bestGap) {
      best = j;
      bestGap = gap;
    }
  }
  return best;
}
