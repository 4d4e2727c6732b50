import type { Finding } from '../../analysis/types.js';
import type { TimeRange } from './timeline.js';
import type { Viewer } from './viewer.js';

/**
 * A small read-only window onto the viewer, as `window.__nfrViewer`, for browser tests and the
 * benchmark: they check what the viewer shows through it rather than by reading pixels, and
 * drive it with the real mouse and keyboard.
 */
export interface ViewerHook {
  /** True once the first screen is drawn (or an error is shown). */
  ready: boolean;
  analysisDone: boolean;
  error?: string;
  /**
   * Milliseconds: when the script started (since navigation start); loading, decoding and
   * modelling the trace; building the page and drawing the first frame; the first screen (since
   * navigation start); the analysis after it.
   */
  timings: { bootMs: number; loadMs: number; decodeMs: number; modelMs: number; uiMs: number; firstScreenMs: number; analysisMs: number };
  attach(viewer: Viewer): void;
  lanes(): { title: string; kind: string; tracks: { title: string; type: string; rows: number; items: number }[] }[];
  visibleRange(): TimeRange;
  range(): TimeRange | undefined;
  /** The selection and the details panel's text. */
  selection(): { type: string; name?: string; kind?: string; start: number; end: number; details: string } | undefined;
  /** Slices whose name contains `name` (and of a kind, by its label in the details: "HTTP request (server)", ...). */
  findSlices(name: string, kind?: number): number[];
  /** Where a slice is on screen (client coordinates), after scrolling and zooming to it. */
  slicePoint(slice: number): { x: number; y: number };
  findings(): Pick<Finding, 'rule' | 'severity' | 'title' | 'time' | 'duration' | 'thread' | 'task'>[] | undefined;
  flame(): { samples: number; note: string };
  frames(): number;
  /** How long the last frames took to draw, ms. */
  frameMs(): number[];
  /** The JS heap in use, bytes (Chromium only; NaN elsewhere). */
  heapBytes(): number;
}

declare global {
  interface Window {
    __nfrViewer?: ViewerHook;
  }
}

export function installTestHook(): ViewerHook {
  let viewer: Viewer | undefined;
  const need = (): Viewer => {
    if (viewer === undefined) throw new Error('the viewer is not up yet');
    return viewer;
  };
  const hook: ViewerHook = {
    ready: false,
    analysisDone: false,
    timings: { bootMs: NaN, loadMs: NaN, decodeMs: NaN, modelMs: NaN, uiMs: NaN, firstScreenMs: NaN, analysisMs: NaN },
    attach(v) {
      viewer = v;
    },
    lanes() {
      const { model } = need();
      return model.lanes.map((lane) => ({
        title: lane.title,
        kind: lane.kind,
        tracks: lane.tracks.map((t) => {
          const track = model.tracks[t];
          const items = track.type === 'slices' ? track.rows.reduce((n, r) => n + r.slices.length, 0) : track.type === 'marks' ? track.marks.length : track.times.length;
          return { title: track.title, type: track.type, rows: track.type === 'slices' ? track.rows.length : 1, items };
        }),
      }));
    },
    visibleRange() {
      const vp = need().timeline.viewport;
      return { start: vp.start, end: vp.end };
    },
    range() {
      return need().timeline.range;
    },
    selection() {
      const v = need();
      const sel = v.timeline.selection;
      if (sel === undefined) return undefined;
      const details = document.querySelector('.nfr-details')?.textContent ?? '';
      if (sel.type === 'slice') {
        const s = v.model.slices;
        return { type: 'slice', name: v.model.strings[s.name[sel.slice]], kind: (document.querySelector('.nfr-details') as HTMLElement | null)?.dataset.kind, start: s.start[sel.slice], end: s.end[sel.slice], details };
      }
      const t = sel.type === 'mark' ? v.model.marks.time[sel.mark] : NaN;
      return { type: sel.type, start: t, end: t, details };
    },
    findSlices(name, kind) {
      const { model } = need();
      const s = model.slices;
      const found: number[] = [];
      for (let i = 0; i < s.count; i++) if ((kind === undefined || s.kind[i] === kind) && model.strings[s.name[i]].includes(name)) found.push(i);
      return found;
    },
    slicePoint(slice) {
      return need().timeline.slicePoint(slice);
    },
    findings() {
      return need().analysis?.findings.map((f) => ({ rule: f.rule, severity: f.severity, title: f.title, time: f.time, duration: f.duration, thread: f.thread, task: f.task }));
    },
    flame() {
      const v = need();
      return { samples: v.flame.current?.samples ?? 0, note: document.querySelector('.nfr-tab-note')?.textContent ?? '' };
    },
    frames() {
      return need().timeline.frames;
    },
    frameMs() {
      return [...need().timeline.frameMs];
    },
    heapBytes() {
      return (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? NaN;
    },
  };
  window.__nfrViewer = hook;
  return hook;
}
