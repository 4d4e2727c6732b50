import { nameColor } from './colors.js';
import { lowerBound } from './flows.js';
import { formatDuration } from './format.js';
import type { SampleTrack, TraceModel } from './model.js';

/** The flame graph (drawn as an icicle: callers on top) of the CPU samples in a time range. */

export interface FlameNode {
  /** Frame index into the model's frames; -1 for the root. */
  frame: number;
  /** Samples in this frame or below it. */
  total: number;
  /** Samples with this frame innermost. */
  self: number;
  children: FlameNode[];
}

export interface Flame {
  root: FlameNode;
  samples: number;
  threads: number[];
}

/** Aggregates the samples of `threads` (all when undefined) in [start, end] into a call tree, heaviest children first. */
export function buildFlame(model: TraceModel, start: number, end: number, threads?: readonly number[]): Flame {
  type Building = { frame: number; total: number; self: number; children: Map<number, Building> };
  const root: Building = { frame: -1, total: 0, self: 0, children: new Map() };
  const used: number[] = [];
  for (const [thread, trackIndex] of model.sampleTracks) {
    if (threads !== undefined && !threads.includes(thread)) continue;
    const track = model.tracks[trackIndex] as SampleTrack;
    const from = lowerBound(track.times, start);
    const to = lowerBound(track.times, end + 1e-9);
    if (to > from) used.push(thread);
    for (let i = from; i < to; i++) {
      const stack = model.stacks[track.stacks[i]];
      let node = root;
      node.total++;
      for (let k = 0; k < stack.length; k++) {
        let child = node.children.get(stack[k]);
        if (child === undefined) node.children.set(stack[k], (child = { frame: stack[k], total: 0, self: 0, children: new Map() }));
        child.total++;
        node = child;
      }
      node.self++;
    }
  }
  const finish = (b: Building): FlameNode => ({
    frame: b.frame,
    total: b.total,
    self: b.self,
    children: [...b.children.values()].sort((x, y) => y.total - x.total || x.frame - y.frame).map(finish),
  });
  return { root: finish(root), samples: root.total, threads: used };
}

const LEVEL_HEIGHT = 18;
const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';

interface Placed {
  node: FlameNode;
  x: number;
  y: number;
  w: number;
  depth: number;
}

/** Draws a {@link Flame} in a scrolling container; click a frame to zoom into it, the root to zoom out. */
export class FlameGraph {
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private flame: Flame | undefined;
  /** The frame zoomed into, as the path of nodes from the root. */
  private focus: FlameNode[] = [];
  private placed: Placed[] = [];
  private charWidth = 6;
  private sampleInterval = 0;

  constructor(
    private readonly model: TraceModel,
    private readonly host: HTMLElement,
    private readonly tooltip: HTMLElement,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'nfr-flame-canvas';
    host.append(this.canvas);
    this.ctx = this.canvas.getContext('2d')!;
    this.canvas.addEventListener('click', (e) => this.click(e));
    this.canvas.addEventListener('mousemove', (e) => this.move(e));
    this.canvas.addEventListener('mouseleave', () => (this.tooltip.style.display = 'none'));
    new ResizeObserver(() => this.render()).observe(host);
  }

  /** Shows the flame graph of a time range; `interval` is the sampling interval, to turn samples into time. */
  show(flame: Flame, interval: number): void {
    this.flame = flame;
    this.sampleInterval = interval;
    this.focus = [flame.root];
    this.render();
  }

  get current(): Flame | undefined {
    return this.flame;
  }

  render(): void {
    const flame = this.flame;
    const width = Math.max(100, this.host.clientWidth);
    const depth = flame === undefined ? 1 : maxDepth(flame.root);
    const height = Math.max(this.host.clientHeight - 4, (depth + 1) * LEVEL_HEIGHT + 4);
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    this.charWidth = ctx.measureText('abcdefghij klmnopqrst ABCDE 01234').width / 33;
    this.placed = [];
    if (flame === undefined || flame.samples === 0) {
      ctx.fillStyle = '#7a8590';
      ctx.fillText(flame === undefined ? 'Select a time range or a slice to see its CPU samples.' : 'No CPU samples in this range (record with level "cpu" to have them).', 10, 14);
      return;
    }
    // The focus path, full width, then the focused node's subtree scaled to the width.
    const focused = this.focus[this.focus.length - 1];
    this.focus.forEach((node, depth) => this.placed.push({ node, x: 0, y: depth * LEVEL_HEIGHT, w: width, depth }));
    const layout = (node: FlameNode, x: number, depth: number, scale: number) => {
      let cx = x;
      for (const child of node.children) {
        const w = child.total * scale;
        if (w < 0.5) break; // children are heaviest first: the rest are smaller still
        this.placed.push({ node: child, x: cx, y: depth * LEVEL_HEIGHT, w, depth });
        layout(child, cx, depth + 1, scale);
        cx += w;
      }
    };
    layout(focused, 0, this.focus.length, width / focused.total);
    for (const p of this.placed) this.drawNode(p, flame);
  }

  private label(node: FlameNode, flame: Flame): string {
    if (node.frame < 0) return `all samples (${flame.samples})`;
    const f = this.model.frames[node.frame];
    return f.functionName || '(anonymous)';
  }

  private drawNode(p: Placed, flame: Flame): void {
    const ctx = this.ctx;
    const name = this.label(p.node, flame);
    ctx.fillStyle = p.node.frame < 0 ? '#cfd8dc' : nameColor(this.model.frames[p.node.frame].url + name);
    ctx.fillRect(p.x, p.y, Math.max(0.5, p.w - 0.5), LEVEL_HEIGHT - 1);
    if (p.w > 30) {
      const chars = Math.floor((p.w - 6) / this.charWidth);
      const text = name.length <= chars ? name : chars > 3 ? `${name.slice(0, chars - 1)}…` : '';
      ctx.fillStyle = '#1b1b1b';
      ctx.fillText(text, p.x + 3, p.y + LEVEL_HEIGHT / 2);
    }
  }

  private at(e: MouseEvent): Placed | undefined {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    for (let i = this.placed.length - 1; i >= 0; i--) {
      const p = this.placed[i];
      if (x >= p.x && x < p.x + p.w && y >= p.y && y < p.y + LEVEL_HEIGHT) return p;
    }
    return undefined;
  }

  private click(e: MouseEvent): void {
    const p = this.at(e);
    if (p === undefined || this.flame === undefined) return;
    // A frame above the focus zooms back out to it; a frame below zooms into it.
    const index = this.focus.indexOf(p.node);
    this.focus = index >= 0 ? this.focus.slice(0, index + 1) : [...this.focus, ...pathTo(this.focus[this.focus.length - 1], p.node)];
    this.render();
  }

  private move(e: MouseEvent): void {
    const p = this.at(e);
    if (p === undefined || this.flame === undefined) {
      this.tooltip.style.display = 'none';
      return;
    }
    const n = p.node;
    const share = ((n.total / this.flame.samples) * 100).toFixed(1);
    const where = n.frame < 0 ? '' : frameWhere(this.model, n.frame);
    const time = this.sampleInterval > 0 ? ` ≈ ${formatDuration(n.total * this.sampleInterval)}` : '';
    this.tooltip.textContent = `${this.label(n, this.flame)}${where === '' ? '' : `\n${where}`}\n${n.total} samples (${share} %)${time}, self ${n.self}`;
    this.tooltip.style.display = 'block';
    this.tooltip.style.left = `${Math.min(window.innerWidth - this.tooltip.offsetWidth - 8, e.clientX + 14)}px`;
    this.tooltip.style.top = `${e.clientY - this.tooltip.offsetHeight - 10}px`;
  }
}

/** "file.js:12:5" for a frame. */
export function frameWhere(model: TraceModel, frame: number): string {
  const f = model.frames[frame];
  if (f.url === '') return '';
  return `${f.url}${f.line > 0 ? `:${f.line}` : ''}${f.column > 0 ? `:${f.column}` : ''}`;
}

function maxDepth(node: FlameNode): number {
  let d = 0;
  for (const c of node.children) d = Math.max(d, maxDepth(c));
  return d + 1;
}

/** The nodes from below `from` down to `to`, or [] when `to` is not under `from`. */
function pathTo(from: FlameNode, to: FlameNode): FlameNode[] {
  for (const c of from.children) {
    if (c === to) return [c];
    const rest = pathTo(c, to);
    if (rest.length > 0) return [c, ...rest];
  }
  return [];
}
