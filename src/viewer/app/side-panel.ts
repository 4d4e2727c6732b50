import type { Analysis, Finding, TraceStats } from '../../analysis/types.js';
import { facts, h, link } from './dom.js';
import { dateTimeText, formatBytes, formatCount, formatDuration, wallTime, zoneText } from './format.js';
import { SliceKind, type TraceModel } from './model.js';
import type { Selection } from './timeline.js';

/** The panels beside the timeline: the analysis's findings and the trace's stats, each entry a link to its place. */

export interface PanelContext {
  model: TraceModel;
  /** Selects and shows something. */
  jump(selection: Selection): void;
  /** Shows a time range, on a thread's lane when given, and picks it as the range. */
  showRange(start: number, end: number, thread?: number): void;
}

const SEVERITY_ORDER: Record<string, number> = { critical: 0, warning: 1, info: 2 };

/** The slice a finding is about: its task's, else one that starts and ends where the finding does. */
export function sliceOfFinding(model: TraceModel, f: Finding): number | undefined {
  if (f.task !== undefined && f.task !== 0) {
    const task = model.tasks.get(f.task);
    if (task !== undefined) return task.slice;
  }
  const s = model.slices;
  const slop = Math.max(1e3, f.duration * 0.01);
  let best: number | undefined;
  let bestScore = Infinity;
  for (let i = 0; i < s.count; i++) {
    if (f.thread !== undefined && s.thread[i] !== f.thread) continue;
    const score = Math.abs(s.start[i] - f.time) + Math.abs(s.end[i] - (f.time + f.duration));
    // Ties go to what the findings are usually about: blocks and GC before callbacks.
    const bias = s.kind[i] === SliceKind.loopBlock || s.kind[i] === SliceKind.gc ? 0 : 1;
    if (score <= 2 * slop && score + bias < bestScore) {
      best = i;
      bestScore = score + bias;
    }
  }
  return best;
}

export function jumpToFinding(ctx: PanelContext, f: Finding): void {
  ctx.showRange(f.time, f.time + Math.max(f.duration, 1), f.thread);
  const slice = sliceOfFinding(ctx.model, f);
  if (slice !== undefined) ctx.jump({ type: 'slice', slice });
}

export function renderFindings(ctx: PanelContext, findings: Finding[] | undefined, status: string): HTMLElement {
  const root = h('div', { class: 'nfr-findings' });
  if (findings === undefined) {
    root.append(h('div', { class: 'nfr-empty' }, status));
    return root;
  }
  if (findings.length === 0) {
    root.append(h('div', { class: 'nfr-empty' }, 'No findings: the analysis saw nothing wrong in this window.'));
    return root;
  }
  const sorted = [...findings].sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3) || (b.impact ?? b.duration) - (a.impact ?? a.duration));
  for (const f of sorted) {
    const when = wallTime(ctx.model.clocks, f.time);
    const item = h(
      'div',
      { class: `nfr-finding nfr-sev-${f.severity}`, data: { rule: f.rule }, title: 'Show it on the timeline', onclick: () => jumpToFinding(ctx, f) },
      h('div', { class: 'nfr-finding-title' }, h('span', { class: 'nfr-sev' }, f.severity), f.title),
      h('div', { class: 'nfr-finding-detail' }, f.detail),
      h('div', { class: 'nfr-finding-meta' }, `${dateTimeText(when).slice(11)} · ${formatDuration(f.duration)} · confidence ${Math.round(f.confidence * 100)} %`, f.confidenceReason !== undefined ? h('span', { class: 'nfr-dim' }, ` (${f.confidenceReason})`) : undefined),
    );
    root.append(item);
  }
  return root;
}

export function renderStats(ctx: PanelContext, analysis: Analysis | undefined, status: string): HTMLElement {
  const { model } = ctx;
  const root = h('div', { class: 'nfr-stats' });
  const first = wallTime(model.clocks, model.start);
  const p = model.process;
  root.append(
    h('h4', {}, 'Trace'),
    facts([
      ['Window', `${formatDuration(model.end - model.start)}, from ${dateTimeText(first)} (${zoneText(first)})`],
      ['Size', `${formatBytes(model.bytes)}, ${formatCount(model.events)} events, ${model.generations} generations`],
      ['Process', p === undefined ? undefined : `pid ${p.pid}, Node ${p.nodeVersion}, ${p.platform}/${p.arch}, ${p.hostname}`],
      ['Threads', model.threads.map((t) => t.name).join(', ')],
      ['Sources', model.sources.length === 0 ? undefined : model.sources.map((s) => `${s.source} ${s.state}${s.detail !== '' && s.state !== 'on' ? ` (${s.detail})` : ''}`).join(', ')],
    ]),
  );
  const stats = analysis?.stats;
  if (stats === undefined) {
    root.append(h('div', { class: 'nfr-empty' }, status));
    return root;
  }
  appendAnalysisStats(ctx, root, stats);
  return root;
}

function rangeLink(ctx: PanelContext, text: string, start: number, duration: number, thread?: number, task?: number): HTMLElement {
  return link(text, () => {
    const slice = task !== undefined ? ctx.model.tasks.get(task)?.slice : undefined;
    ctx.showRange(start, start + Math.max(duration, 1), thread);
    if (slice !== undefined) ctx.jump({ type: 'slice', slice });
    else {
      const found = sliceOfFinding(ctx.model, { rule: '', severity: 'info', confidence: 1, title: '', detail: '', time: start, duration, thread });
      if (found !== undefined) ctx.jump({ type: 'slice', slice: found });
    }
  });
}

function list(items: HTMLElement[]): HTMLElement {
  const ul = h('ul', { class: 'nfr-list' });
  for (const item of items) ul.append(h('li', {}, item));
  return ul;
}

function appendAnalysisStats(ctx: PanelContext, root: HTMLElement, stats: TraceStats): void {
  root.append(
    h('h4', {}, `Requests (${formatCount(stats.requests.count)})`),
    list(stats.requests.slowest.slice(0, 10).map((r) => h('span', {}, rangeLink(ctx, `${r.method} ${r.route || r.path}`, r.start, r.duration, undefined, r.task), ` ${r.status || r.error || '…'} · ${formatDuration(r.duration)}`))),
  );
  if (stats.tasks.count > 0) {
    root.append(h('h4', {}, `Tasks (${formatCount(stats.tasks.count)})`), list(stats.tasks.slowest.slice(0, 5).map((t) => h('span', {}, rangeLink(ctx, t.name || `task ${t.task}`, t.start, t.duration, undefined, t.task), ` ${formatDuration(t.duration)}`))));
  }
  if (stats.calls !== undefined && stats.calls.count > 0) {
    root.append(h('h4', {}, `Outgoing calls (${formatCount(stats.calls.count)})`), list(stats.calls.slowest.slice(0, 5).map((c) => h('span', {}, rangeLink(ctx, `${c.method} ${c.host}${c.path}`, c.start, c.duration, c.thread), ` ${c.status || c.error || '…'} · ${formatDuration(c.duration)}`))));
  }
  const loop = stats.loop;
  root.append(
    h('h4', {}, 'Event loop'),
    facts([
      ['Blocked', `${loop.blocks} times, ${formatDuration(loop.blockedTotal)} in all`],
      ['Utilization', `mean ${(loop.utilizationMean * 100).toFixed(0)} %, max ${(loop.utilizationMax * 100).toFixed(0)} %`],
    ]),
    list(loop.longestBlocks.slice(0, 5).map((b) => h('span', {}, rangeLink(ctx, `blocked ${formatDuration(b.duration)}`, b.start, b.duration, b.thread), ` at ${dateTimeText(wallTime(ctx.model.clocks, b.start)).slice(11)}`))),
  );
  const gc = stats.gc;
  root.append(
    h('h4', {}, 'Garbage collection'),
    facts([
      ['Total', `${gc.count} collections, ${formatDuration(gc.total)}`],
      ...Object.entries(gc.byKind).map(([kind, v]) => [kind, `${v.count}, ${formatDuration(v.total)}`] as [string, string]),
    ]),
    list(gc.longest.slice(0, 5).map((g) => h('span', {}, rangeLink(ctx, `${g.kind} ${formatDuration(g.duration)}`, g.start, g.duration, g.thread), ` at ${dateTimeText(wallTime(ctx.model.clocks, g.start)).slice(11)}`))),
  );
  if (stats.cpu.samples > 0) {
    const top = stats.cpu.topFunctions ?? [];
    root.append(
      h('h4', {}, `CPU (${formatCount(stats.cpu.samples)} samples)`),
      top.length > 0
        ? list(top.slice(0, 8).map((f) => h('span', {}, h('b', {}, f.frame.functionName || '(anonymous)'), ` self ${((f.self / stats.cpu.samples) * 100).toFixed(1)} %, total ${((f.total / stats.cpu.samples) * 100).toFixed(1)} %`)))
        : list(stats.cpu.topStacks.slice(0, 5).map((s) => h('span', {}, h('b', {}, s.frames[0]?.functionName || '(anonymous)'), ` ${(s.share * 100).toFixed(1)} %`))),
    );
  }
  if (stats.lost.events > 0 || stats.lost.generations > 0) {
    root.append(h('h4', {}, 'Lost'), facts([['Events', formatCount(stats.lost.events)], ['Generations', formatCount(stats.lost.generations)]]));
  }
  if (stats.notes !== undefined && stats.notes.length > 0) root.append(h('h4', {}, 'Notes'), list(stats.notes.map((n) => h('span', {}, n))));
}
