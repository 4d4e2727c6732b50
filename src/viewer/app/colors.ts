import { SliceKind } from './model.js';

/** Slice colours: fixed ones for what must stand out (blocked loop, GC, failed requests), hashed by name for the rest. */

const PALETTE = [
  '#8fb8de', '#a5d6a7', '#ffcc80', '#ce93d8', '#80cbc4', '#f48fb1', '#b0bec5', '#c5e1a5',
  '#90caf9', '#ffab91', '#b39ddb', '#e6ee9c', '#81d4fa', '#bcaaa4', '#9fa8da', '#fff59d',
];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const byName = new Map<string, string>();

/** A stable pastel colour for a name. */
export function nameColor(name: string): string {
  let c = byName.get(name);
  if (c === undefined) {
    c = PALETTE[hash(name) % PALETTE.length];
    byName.set(name, c);
  }
  return c;
}

export const COLORS = {
  loopBlock: '#e53935',
  gcMinor: '#ffb74d',
  gcMajor: '#ab47bc',
  requestOk: '#4db6ac',
  requestRedirect: '#64b5f6',
  requestClientError: '#ffd54f',
  requestServerError: '#ef5350',
  requestOpen: '#b0bec5',
  client: '#7986cb',
  task: '#9ccc65',
  counter: '#5c6bc0',
  counterFill: 'rgba(92, 107, 192, 0.25)',
  mark: '#546e7a',
  markLog: '#1e88e5',
  markLoss: '#d32f2f',
  selection: '#1a237e',
  flow: '#d81b60',
  text: '#1b1b1b',
  textLight: '#ffffff',
  gutter: '#f5f6f8',
  gridLine: '#e3e6ea',
  laneHeader: '#eceff3',
  rangeShade: 'rgba(57, 73, 171, 0.10)',
} as const;

/** Whether white text reads better than black on this colour. */
export function darkColor(color: string): boolean {
  return color === COLORS.loopBlock || color === COLORS.gcMajor || color === COLORS.requestServerError || color === COLORS.client || color === COLORS.selection;
}

/** The colour of a slice of kind `kind` named `name`, with `status` for requests. */
export function sliceColor(kind: number, name: string, status = 0, error = false, open = false): string {
  switch (kind) {
    case SliceKind.loopBlock:
      return COLORS.loopBlock;
    case SliceKind.gc:
      return name.includes('major') || name.includes('incremental') ? COLORS.gcMajor : COLORS.gcMinor;
    case SliceKind.request:
      if (error || status >= 500) return COLORS.requestServerError;
      if (status >= 400) return COLORS.requestClientError;
      if (status >= 300) return COLORS.requestRedirect;
      if (status >= 100) return COLORS.requestOk;
      return open ? COLORS.requestOpen : COLORS.requestOk;
    case SliceKind.client:
      return error ? COLORS.requestServerError : COLORS.client;
    case SliceKind.task:
      return COLORS.task;
    default:
      return nameColor(name);
  }
}
