import type { TraceModel } from './model.js';

/** Vertical layout of the timeline: where each lane and track sits, in CSS pixels below the ruler. */

export const RULER_HEIGHT = 30;
export const LANE_HEADER_HEIGHT = 22;
export const ROW_HEIGHT = 18;
export const COUNTER_HEIGHT = 40;
export const MARK_HEIGHT = 16;
export const SAMPLE_HEIGHT = 16;
export const TRACK_GAP = 4;
export const GUTTER_WIDTH = 210;

export interface LaneBox {
  lane: number;
  y: number;
  height: number;
  collapsed: boolean;
}

export interface TrackBox {
  track: number;
  lane: number;
  y: number;
  height: number;
  /** Height of one row (slice tracks); the whole height otherwise. */
  rowHeight: number;
  /** False when its lane is collapsed. */
  visible: boolean;
}

export interface Layout {
  lanes: LaneBox[];
  /** By track index. */
  tracks: TrackBox[];
  height: number;
}

export function trackHeight(model: TraceModel, track: number): number {
  const t = model.tracks[track];
  switch (t.type) {
    case 'slices':
      return Math.max(1, t.rows.length) * ROW_HEIGHT;
    case 'counter':
      return COUNTER_HEIGHT;
    case 'marks':
      return MARK_HEIGHT;
    case 'samples':
      return SAMPLE_HEIGHT;
  }
}

export function computeLayout(model: TraceModel, collapsed: ReadonlySet<number>): Layout {
  const lanes: LaneBox[] = [];
  const tracks: TrackBox[] = new Array(model.tracks.length);
  let y = 0;
  model.lanes.forEach((lane, index) => {
    const top = y;
    const isCollapsed = collapsed.has(index);
    y += LANE_HEADER_HEIGHT;
    for (const track of lane.tracks) {
      const height = trackHeight(model, track);
      const t = model.tracks[track];
      tracks[track] = { track, lane: index, y: isCollapsed ? top : y + TRACK_GAP / 2, height, rowHeight: t.type === 'slices' ? ROW_HEIGHT : height, visible: !isCollapsed };
      if (!isCollapsed) y += height + TRACK_GAP;
    }
    lanes.push({ lane: index, y: top, height: y - top, collapsed: isCollapsed });
  });
  return { lanes, tracks, height: y };
}
