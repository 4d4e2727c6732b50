import type { Breakdown, RequestSummary } from '../../analysis/types.js';
import { breakdownOf } from './breakdown.js';
import { facts, h, link } from './dom.js';
import { frameWhere } from './flame.js';
import { lowerBound, rowAt } from './flows.js';
import { dateTimeText, formatBytes, formatDuration, formatValue, wallTime } from './format.js';
import { SliceFlag, SliceKind, type CounterTrack, type SampleTrack, type TraceModel } from './model.js';
import type { Selection } from './timeline.js';

/** The details panel: everything known about the selected slice, mark, sample or counter value. */

export interface DetailsContext {
  model: TraceModel;
  /** Selects something else (and shows it). */
  jump(selection: Selection): void;
  /** The analysis's summary of a request, when it has one (it lists the slowest). */
  requestSummary(task: number): RequestSummary | undefined;
}

const KIND_NAMES: Record<number, string> = {
  [SliceKind.callback]: 'callback',
  [SliceKind.region]: 'region',
  [SliceKind.loopBlock]: 'event loop blocked',
  [SliceKind.gc]: 'garbage collection',
  [SliceKind.range]: 'range',
  [SliceKind.asyncRange]: 'async range',
  [SliceKind.request]: 'HTTP request (server)',
  [SliceKind.task]: 'task',
  [SliceKind.client]: 'HTTP call (outgoing)',
};

/** "2026-11-30 14:02:08.123 456" at µs precision. */
export function whenText(model: TraceModel, t: number): string {
  const w = wallTime(model.clocks, t);
  return `${dateTimeText(w)} ${String(Math.floor(w.nsec / 1e3) % 1000).padStart(3, '0')}`;
}

function threadName(model: TraceModel, thread: number): string {
  const t = model.threads.find((x) => x.id === thread);
  return t === undefined ? `thread ${thread}` : thread === 0 ? t.name : `${t.name} (thread ${thread})`;
}

export function renderDetails(ctx: DetailsContext, selection: Selection | undefined): HTMLElement {
  if (selection === undefined) {
    return h('div', { class: 'nfr-empty' }, 'Click a slice, a mark, a sample or a counter to see its details. Drag on the time ruler (or shift-drag) to pick a range for the flame graph.');
  }
  switch (selection.type) {
    case 'slice':
      return sliceDetails(ctx, selection.slice);
    case 'mark':
      return markDetails(ctx, selection.mark);
    case 'sample':
      return sampleDetails(ctx, selection.track, selection.index);
    case 'counter':
      return counterDetails(ctx, selection.track, selection.index);
  }
}

function sliceDetails(ctx: DetailsContext, slice: number): HTMLElement {
  const { model } = ctx;
  const s = model.slices;
  const kind = s.kind[slice];
  const start = s.start[slice];
  const end = s.end[slice];
  const flags = s.flags[slice];
  const name = model.strings[s.name[slice]];
  const root = h('div', { class: 'nfr-details', data: { kind: KIND_NAMES[kind] } }, h('h3', {}, name, h('span', { class: 'nfr-badge' }, KIND_NAMES[kind])));
  const open = [flags & SliceFlag.openStart ? 'began before the window' : '', flags & SliceFlag.openEnd ? 'had not ended when the window ended' : ''].filter((x) => x !== '').join('; ');
  const common: [string, Parameters<typeof facts>[0][number][1]][] = [
    ['Start', whenText(model, start)],
    ['Duration', `${formatDuration(end - start)}${open !== '' ? ` (${open})` : ''}`],
    ['Thread', threadName(model, s.thread[slice])],
  ];
  const extra = h('div');
  switch (kind) {
    case SliceKind.request:
    case SliceKind.task: {
      const task = s.ref[slice];
      const info = model.tasks.get(task);
      const r = info?.request;
      const rows: Parameters<typeof facts>[0] = [];
      if (r !== undefined) {
        rows.push(['Method', r.method], ['Path', r.path], ['Route', r.route !== '' ? r.route : undefined], ['Status', r.answered ? String(r.status) : 'no response in the window']);
        rows.push(['Request bytes', r.answered ? formatBytes(r.requestBytes) : undefined], ['Response bytes', r.answered ? formatBytes(r.responseBytes) : undefined], ['Error', r.error !== '' ? r.error : undefined], ['Client', r.remote !== '' ? r.remote : undefined]);
      }
      rows.push(['Task', String(task)]);
      const parent = info !== undefined && info.parent !== 0 ? model.tasks.get(info.parent) : undefined;
      if (parent !== undefined) rows.push(['Parent task', link(parent.name || `task ${parent.task}`, () => ctx.jump({ type: 'slice', slice: parent.slice }))]);
      root.append(facts([...common, ...rows]));
      const summary = r !== undefined ? ctx.requestSummary(task) : undefined;
      const breakdown = summary?.breakdown ?? breakdownOf(model, task);
      if (breakdown !== undefined) extra.append(breakdownView(breakdown, end - start));
      extra.append(taskContents(ctx, task));
      break;
    }
    case SliceKind.callback: {
      const id = s.ref[slice];
      const c = model.creations;
      const created = model.creationOf.get(id);
      const rows: Parameters<typeof facts>[0] = [['Async id', String(id)]];
      if (created >= 0) {
        rows.push(['Resource type', model.strings[c.type[created]]]);
        rows.push(['Created', [`${formatDuration(start - c.time[created])} before, `, creatorLink(ctx, created)]]);
      } else {
        rows.push(['Created', 'before the window']);
      }
      const calls = model.callbacksOf(id);
      if (calls.length > 1) rows.push(['Callbacks of this resource', `${calls.length} in the window (this is #${calls.indexOf(slice) + 1})`]);
      let made = 0;
      for (let i = lowerBound(c.time, start); i < c.count && c.time[i] <= end; i++) if (c.trigger[i] === id && c.thread[i] === s.thread[slice]) made++;
      rows.push(['Resources it created', made > 0 ? `${made} (arrows show where their callbacks ran)` : 'none']);
      root.append(facts([...common, ...rows]));
      break;
    }
    case SliceKind.region: {
      const task = model.tasks.get(s.ref[slice]);
      root.append(facts([...common, ['Task', task === undefined ? (s.ref[slice] === 0 ? 'none' : String(s.ref[slice])) : link(task.name || `task ${task.task}`, () => ctx.jump({ type: 'slice', slice: task.slice }))]]));
      break;
    }
    case SliceKind.client: {
      const call = model.clients.get(s.ref[slice]);
      const task = call === undefined ? undefined : model.tasks.get(call.task);
      root.append(
        facts([
          ...common,
          ['Method', call?.method],
          ['Host', call?.host],
          ['Path', call?.path],
          ['Status', call === undefined ? undefined : call.status > 0 ? String(call.status) : flags & SliceFlag.openEnd ? 'no response in the window' : 'none'],
          ['Error', call !== undefined && call.error !== '' ? call.error : undefined],
          ['Made by', task === undefined ? 'no task' : [link(task.name || `task ${task.task}`, () => ctx.jump({ type: 'slice', slice: task.slice })), call?.inferredTask ? ' (the only task open on its thread)' : '']],
        ]),
      );
      break;
    }
    default: {
      const info = model.rangeInfo[s.ref[slice]];
      root.append(facts([...common, ['Category', info?.category], ['Name', info?.name], ['Detail', info?.detail !== '' ? info?.detail : undefined], ['Range id', info?.id !== undefined ? String(info.id) : undefined], ['End detail', info?.endDetail ? info.endDetail : undefined]]));
    }
  }
  // Facts on the left, what the slice holds (breakdown, regions, calls, logs) on the right.
  const facts_ = root.querySelector('.nfr-facts');
  if (facts_ !== null && extra.childElementCount > 0) root.append(h('div', { class: 'nfr-columns' }, h('div', {}, facts_), extra));
  return root;
}

/** Who created resource `created`: the callback running at that time on that thread. */
function creatorLink(ctx: DetailsContext, created: number): HTMLElement | string {
  const { model } = ctx;
  const c = model.creations;
  const track = model.executionTracks.get(c.thread[created]);
  const trigger = c.trigger[created];
  if (track === undefined) return `by resource ${trigger}`;
  const t = c.time[created];
  const tr = model.tracks[track];
  if (tr.type !== 'slices') return `by resource ${trigger}`;
  const row = tr.rows[rowAt(model, track, t)];
  const i = lowerBound(row.end, t);
  if (i < row.start.length && row.start[i] <= t) {
    const slice = row.slices[i];
    return link(`in ${model.strings[model.slices.name[slice]]} (resource ${trigger})`, () => ctx.jump({ type: 'slice', slice }));
  }
  return `by resource ${trigger}`;
}

const BREAKDOWN_PARTS: [keyof Breakdown, string, string][] = [
  ['regions', 'in its regions', '#81c784'],
  ['loopBlocked', 'event loop blocked', '#e53935'],
  ['gc', 'garbage collection', '#ffb74d'],
  ['outgoing', 'outgoing HTTP calls', '#7986cb'],
  ['waiting', 'waiting (none of these)', '#cfd8dc'],
];

/** One bar per part: the parts may overlap (a GC inside a region), so they are not stacked. */
function breakdownView(b: Breakdown, duration: number): HTMLElement {
  const table = h('table', { class: 'nfr-facts nfr-breakdown' });
  for (const [key, label, color] of BREAKDOWN_PARTS) {
    const v = b[key];
    const share = duration > 0 ? Math.min(1, v / duration) : 0;
    const fill = h('div', { class: 'nfr-bar-fill' });
    fill.style.width = `${(share * 100).toFixed(1)}%`;
    fill.style.background = color;
    table.append(h('tr', {}, h('th', {}, label), h('td', {}, h('div', { class: 'nfr-bar-track' }, fill)), h('td', { class: 'nfr-num' }, `${formatDuration(v)} (${(share * 100).toFixed(0)} %)`)));
  }
  return h('div', { class: 'nfr-section' }, h('h4', {}, 'Where the time went'), table);
}

/** A task's regions, outgoing calls and logs, each a link to it. */
function taskContents(ctx: DetailsContext, task: number): HTMLElement {
  const { model } = ctx;
  const s = model.slices;
  const box = h('div', { class: 'nfr-section' });
  const regions: number[] = [];
  for (let i = 0; i < s.count; i++) if (s.kind[i] === SliceKind.region && s.ref[i] === task) regions.push(i);
  const calls = [...model.clients.values()].filter((c) => c.task === task);
  const logs: number[] = [];
  for (let m = 0; m < model.marks.count; m++) if (model.marks.task[m] === task) logs.push(m);
  const list = (title: string, items: HTMLElement[]) => {
    if (items.length === 0) return;
    const ul = h('ul', { class: 'nfr-list' });
    for (const item of items.slice(0, 50)) ul.append(h('li', {}, item));
    if (items.length > 50) ul.append(h('li', {}, `… ${items.length - 50} more`));
    box.append(h('h4', {}, `${title} (${items.length})`), ul);
  };
  list('Regions', regions.map((r) => h('span', {}, link(model.strings[s.name[r]], () => ctx.jump({ type: 'slice', slice: r })), ` ${formatDuration(s.end[r] - s.start[r])}`)));
  list('Outgoing calls', calls.map((c) => h('span', {}, link(model.strings[s.name[c.slice]], () => ctx.jump({ type: 'slice', slice: c.slice })), ` ${c.status > 0 ? c.status : c.error || '…'} ${formatDuration(s.end[c.slice] - s.start[c.slice])}`)));
  list('Logs', logs.map((m) => h('span', {}, link(`${model.strings[model.marks.category[m]]}: ${model.strings[model.marks.text[m]]}`, () => ctx.jump({ type: 'mark', mark: m })))));
  return box;
}

function markDetails(ctx: DetailsContext, mark: number): HTMLElement {
  const { model } = ctx;
  const m = model.marks;
  const kind = ['log', 'instant', 'events lost', 'generations lost'][m.kind[mark]] ?? 'mark';
  const task = model.tasks.get(m.task[mark]);
  return h(
    'div',
    { class: 'nfr-details' },
    h('h3', {}, model.strings[m.text[mark]], h('span', { class: 'nfr-badge' }, kind)),
    facts([
      ['Time', whenText(model, m.time[mark])],
      ['Category', model.strings[m.category[mark]] || undefined],
      ['Detail', model.strings[m.detail[mark]] || undefined],
      ['Thread', threadName(model, m.thread[mark])],
      ['Task', task === undefined ? (m.task[mark] !== 0 ? String(m.task[mark]) : undefined) : link(task.name || `task ${task.task}`, () => ctx.jump({ type: 'slice', slice: task.slice }))],
    ]),
  );
}

function sampleDetails(ctx: DetailsContext, trackIndex: number, index: number): HTMLElement {
  const { model } = ctx;
  const track = model.tracks[trackIndex] as SampleTrack;
  const stack = model.stacks[track.stacks[index]];
  const ol = h('ol', { class: 'nfr-stack' });
  for (let k = stack.length - 1; k >= 0; k--) {
    const f = model.frames[stack[k]];
    ol.append(h('li', {}, h('b', {}, f.functionName || '(anonymous)'), ' ', h('span', { class: 'nfr-dim' }, frameWhere(model, stack[k]))));
  }
  return h('div', { class: 'nfr-details' }, h('h3', {}, 'CPU sample', h('span', { class: 'nfr-badge' }, `${stack.length} frames`)), facts([['Time', whenText(model, track.times[index])], ['Thread', threadName(model, track.thread)]]), h('h4', {}, 'Stack (innermost first)'), ol);
}

function counterDetails(ctx: DetailsContext, trackIndex: number, index: number): HTMLElement {
  const { model } = ctx;
  const track = model.tracks[trackIndex] as CounterTrack;
  return h(
    'div',
    { class: 'nfr-details' },
    h('h3', {}, track.metric, h('span', { class: 'nfr-badge' }, 'metric')),
    facts([
      ['Value', formatValue(track.values[index], track.unit)],
      ['Time', whenText(model, track.times[index])],
      ['Thread', threadName(model, track.thread)],
      ['In the window', `min ${formatValue(track.min, track.unit)}, max ${formatValue(track.max, track.unit)}, ${track.times.length} samples`],
    ]),
  );
}
