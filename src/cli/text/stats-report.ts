import { bytes, count, iso, ms, offset, percent, threadLabel } from '../../analysis/format.js';
import { frameLabel, frameLocation } from '../../analysis/stacks.js';
import type { Breakdown, TraceStats } from '../../analysis/types.js';
import { msCell, table, type Column } from './table.js';

/**
 * `nfr stats` as text: what the window holds, where requests spent their time, the loop, GC
 * and CPU. Times are offsets from the window's start (`+1.234 s`) with the wall time of the
 * start and end in ISO 8601; durations in milliseconds.
 */
export function renderStats(stats: TraceStats, file: string): string[] {
  const out: string[] = [];
  const names = new Map(stats.threads.map((t) => [t.id, t.name]));
  const thread = (id: number) => threadLabel(id, names.get(id));
  const at = (time: number) => offset(time, stats.start);

  out.push(`Trace ${file}`);
  const eventBytes = Object.values(stats.byKind).reduce((n, k) => n + k.bytes, 0);
  const layout = stats.layout;
  out.push(`  size        ${bytes(stats.totalBytes)}${layout !== undefined ? ` (events ${bytes(eventBytes)}, string and stack tables ${bytes(layout.tables)}, framing ${bytes(layout.framing)})` : ''}`);
  out.push(`  window      ${iso(stats.wallStart)} to ${iso(stats.wallEnd)}`);
  out.push(`  duration    ${ms(stats.duration)} in ${stats.generations} generation${stats.generations === 1 ? '' : 's'}`);
  const p = stats.process;
  if (p !== undefined) out.push(`  process     pid ${p.pid}, node ${p.nodeVersion}, ${p.platform} ${p.arch}, host ${p.hostname}${p.title !== '' ? `, title "${p.title}"` : ''}`);
  const sources = Object.entries(stats.sources ?? {});
  if (sources.length > 0) out.push(`  sources     ${sources.map(([name, s]) => `${name} ${s.state}${s.state !== 'on' && s.detail !== '' ? ` (${s.detail})` : ''}`).join(', ')}`);
  out.push(`  events      ${count(stats.totalEvents)}`);
  const lost = stats.lost.events > 0 || stats.lost.generations > 0 ? `${count(stats.lost.events)} events, ${count(stats.lost.generations)} generations` : 'none';
  out.push(`  lost        ${lost}`);
  if (stats.memory !== undefined) out.push(`  memory      heap used up to ${bytes(stats.memory.heapUsedMax)}, rss up to ${bytes(stats.memory.rssMax)}`);

  out.push('', 'Threads');
  out.push(...table([{ header: 'thread' }, { header: 'events', align: 'right' }], stats.threads.map((t) => [thread(t.id), count(t.events)])));

  out.push('', 'Events by kind');
  const kinds = Object.entries(stats.byKind);
  const total = stats.totalBytes || 1;
  out.push(
    ...table(
      [{ header: 'kind' }, { header: 'count', align: 'right' }, { header: 'bytes', align: 'right' }, { header: 'bytes/event', align: 'right' }, { header: 'share of bytes', align: 'right' }],
      kinds.map(([kind, k]) => [kind, count(k.count), count(k.bytes), k.count > 0 ? (k.bytes / k.count).toFixed(1) : '0', percent(k.bytes / total)]),
    ),
  );

  const breakdownColumns: Column[] = [
    { header: 'regions', align: 'right' },
    { header: 'loop blocked', align: 'right' },
    { header: 'gc', align: 'right' },
    { header: 'outgoing', align: 'right' },
    { header: 'waiting', align: 'right' },
  ];
  const breakdownCells = (b: Breakdown) => [msCell(b.regions), msCell(b.loopBlocked), msCell(b.gc), msCell(b.outgoing), msCell(b.waiting)];

  out.push('', `Slowest requests (${stats.requests.slowest.length} of ${count(stats.requests.count)}; durations in ms)`);
  if (stats.requests.slowest.length === 0) out.push('  none');
  else {
    out.push(
      ...table(
        [{ header: 'start' }, { header: 'duration', align: 'right' }, ...breakdownColumns, { header: 'status', align: 'right' }, { header: 'thread' }, { header: 'request' }],
        stats.requests.slowest.map((r) => [
          at(r.start),
          msCell(r.duration),
          ...breakdownCells(r.breakdown),
          r.unfinished ? 'open' : r.error !== '' ? 'error' : String(r.status),
          thread(r.thread),
          `${r.name}${r.route !== '' && r.route !== r.path ? ` [${r.path}]` : ''} (task ${r.task})${r.error !== '' ? ` ${r.error}` : ''}${r.slowestCall !== undefined && r.slowestCall.duration > 0 ? `; slowest call ${r.slowestCall.method} ${r.slowestCall.host}${r.slowestCall.path} ${msCell(r.slowestCall.duration)}` : ''}`,
        ]),
      ),
    );
  }

  out.push('', `Slowest tasks, HTTP requests aside (${stats.tasks.slowest.length} of ${count(stats.tasks.count)}; durations in ms)`);
  if (stats.tasks.slowest.length === 0) out.push('  none');
  else {
    out.push(
      ...table(
        [{ header: 'start' }, { header: 'duration', align: 'right' }, ...breakdownColumns, { header: 'thread' }, { header: 'task' }],
        stats.tasks.slowest.map((t) => [at(t.start), msCell(t.duration), ...breakdownCells(t.breakdown), thread(t.thread), `${t.name} (task ${t.task})${t.unfinished ? ' still open' : ''}`]),
      ),
    );
  }

  const calls = stats.calls;
  if (calls !== undefined) {
    out.push('', `Slowest outgoing HTTP calls (${calls.slowest.length} of ${count(calls.count)}; durations in ms)`);
    if (calls.slowest.length === 0) out.push('  none');
    else {
      out.push(
        ...table(
          [{ header: 'start' }, { header: 'duration', align: 'right' }, { header: 'status', align: 'right' }, { header: 'from task', align: 'right' }, { header: 'call' }],
          calls.slowest.map((c) => [
            at(c.start),
            msCell(c.duration),
            c.unfinished ? 'open' : c.error !== '' ? 'error' : String(c.status),
            c.task === 0 ? '-' : `${c.task}${c.inferredTask ? '?' : ''}`,
            `${c.method} ${c.host}${c.path}${c.error !== '' ? ` (${c.error})` : ''}`,
          ]),
        ),
      );
      if (calls.slowest.some((c) => c.inferredTask)) out.push('  (a task marked ? was inferred: the call named none, and it was the only task open on the thread)');
    }
  }

  const loop = stats.loop;
  out.push('', 'Event loop');
  out.push(`  blocked turns  ${count(loop.blocks)}, ${ms(loop.blockedTotal)} in all`);
  if ((stats.utilizationSamples ?? 0) > 0) out.push(`  utilization    mean ${percent(loop.utilizationMean)}, max ${percent(loop.utilizationMax)} (${count(stats.utilizationSamples ?? 0)} samples)`);
  if (loop.longestBlocks.length > 0) {
    out.push('  longest blocked turns (ms):');
    out.push(...table([{ header: 'start' }, { header: 'duration', align: 'right' }, { header: 'thread' }], loop.longestBlocks.map((b) => [at(b.start), msCell(b.duration), thread(b.thread)]), '    '));
  }

  const gc = stats.gc;
  out.push('', 'Garbage collection');
  out.push(`  collections    ${count(gc.count)}, ${ms(gc.total)} in all${stats.duration > 0 ? ` (${percent(gc.total / stats.duration)} of the window)` : ''}`);
  const gcKinds = Object.entries(gc.byKind);
  if (gcKinds.length > 0) {
    out.push(...table([{ header: 'kind' }, { header: 'count', align: 'right' }, { header: 'total ms', align: 'right' }, { header: 'mean ms', align: 'right' }], gcKinds.map(([kind, k]) => [kind, count(k.count), msCell(k.total), msCell(k.total / k.count)]), '    '));
  }
  if (gc.longest.length > 0) {
    out.push('  longest pauses (ms):');
    out.push(...table([{ header: 'start' }, { header: 'duration', align: 'right' }, { header: 'kind' }, { header: 'thread' }], gc.longest.map((g) => [at(g.start), msCell(g.duration), g.kind, thread(g.thread)]), '    '));
  }

  const cpu = stats.cpu;
  out.push('', 'CPU samples');
  if (cpu.samples === 0) {
    out.push(`  none${stats.sources?.cpu?.state === 'on' ? '' : " (record at level 'cpu' for them)"}`);
  } else {
    out.push(`  samples        ${count(cpu.samples)}`);
    out.push('  top stacks (innermost frame first):');
    out.push(
      ...table(
        [{ header: 'share', align: 'right' }, { header: 'samples', align: 'right' }, { header: 'stack' }],
        cpu.topStacks.map((s) => [percent(s.share), count(s.samples), s.frames.length === 0 ? '(empty)' : `${s.frames.slice(0, 4).map(frameLabel).join(' < ')}${s.frames.length > 4 ? ' < ...' : ''}`]),
        '    ',
      ),
    );
    if (cpu.topFunctions !== undefined && cpu.topFunctions.length > 0) {
      out.push('  top functions (self: running itself; total: itself and what it called):');
      out.push(
        ...table(
          [{ header: 'self', align: 'right' }, { header: 'total', align: 'right' }, { header: 'function' }],
          cpu.topFunctions.map((f) => [percent(f.self / cpu.samples), percent(f.total / cpu.samples), frameLocation(f.frame)]),
          '    ',
        ),
      );
    }
  }

  const notes = stats.notes ?? [];
  if (notes.length > 0) {
    out.push('', 'Notes');
    for (const note of notes) out.push(`  - ${note}`);
  }
  return out;
}
