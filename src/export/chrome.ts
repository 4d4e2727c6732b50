/**
 * Trace events to Chrome Trace Event JSON (the Catapult "Trace Event Format", object form):
 * `{"traceEvents":[...],"displayTimeUnit":"ms","metadata":{...}}`, written event by event so
 * that no step holds more than a chunk of the text. It loads in ui.perfetto.dev, trace
 * processor and Chrome's legacy trace viewer.
 *
 * - Thread slices are complete events (`X`, `dur`); they may come in any order.
 * - Slices of lanes (tasks, requests, client calls, ranges, overlapping thread slices) are nestable
 *   async events (`b`/`e`) whose category and id tie a task to its regions.
 * - Instants are `i` with scope `t` (thread) or `p` (process); counters are `C`.
 * - Flows: `s` where an async resource is created (binding to the slice around it), `f` with
 *   binding point `e` where its first callback begins (binding to that callback's slice).
 * - Metadata events `M` name the process and threads.
 * - Timestamps are microseconds: our nanoseconds / 1000, written exactly (up to 3 decimals).
 */
import type { StackFrame } from '../format/events.js';
import type { SyncEvent, TraceEvent } from '../reader/events.js';
import type { Exporter } from './exporter.js';
import { JsonWriter } from './json-writer.js';
import { tidOf } from './perfetto.js';
import { TimelineBuilder, type Args, type TimelineStats, type TimelineWriter, type Track } from './timeline.js';

export { micros } from './json-writer.js';

/** Output buffered before it is handed out. */
const CHUNK_BYTES = 1 << 20;

/** Converts trace events to Chrome Trace Event JSON (UTF-8 bytes), streaming. */
export class ChromeExporter implements Exporter, TimelineWriter {
  readonly format = 'chrome' as const;
  private readonly builder = new TimelineBuilder(this);
  private readonly w = new JsonWriter(CHUNK_BYTES + (1 << 16));
  private readonly chunks: Uint8Array[] = [];
  private chunksLength = 0;
  private first = true;
  private firstSync: SyncEvent | undefined;
  private readonly heads = new Map<number, string>();

  constructor() {
    this.w.raw('{"traceEvents":[\n');
  }

  get stats(): TimelineStats {
    return this.builder.stats;
  }

  get buffered(): number {
    return this.w.pos + this.chunksLength;
  }

  event(event: TraceEvent): void {
    this.builder.event(event);
  }

  finish(): void {
    this.builder.finish();
  }

  take(): Uint8Array[] {
    if (this.w.pos > 0) this.chunks.push(this.w.take());
    this.chunksLength = 0;
    return this.chunks.splice(0);
  }

  // --- TimelineWriter ---

  clock(sync: SyncEvent): void {
    this.firstSync ??= sync;
  }

  declare(track: Track): void {
    const pid = this.builder.pid;
    if (track.kind === 'process') {
      const info = this.builder.process;
      this.metadata('process_name', pid, 'name', info?.title || 'node');
      if (info !== undefined) this.metadata('process_labels', pid, 'labels', `Node.js ${info.nodeVersion}, ${info.platform} ${info.arch}, ${info.hostname}`);
    } else if (track.kind === 'thread') {
      const tid = tidOf(pid, track.thread);
      this.metadata('thread_name', tid, 'name', track.name);
      this.metadata('thread_sort_index', tid, 'sort_index', track.thread);
    }
    // Lanes and counters need no declaration: async events and counters name themselves.
  }

  slice(track: Track, thread: number, group: number, begin: number, end: number, name: string, category: string, args: Args, flowInThread: number, flowInId: number): void {
    const w = this.w;
    const pid = this.builder.pid;
    const tid = tidOf(pid, thread);
    if (track.kind === 'thread') {
      this.start('{"ph":"X","ts":');
      w.micros(begin);
      w.raw(',"dur":');
      w.micros(end - begin);
      this.who(pid, tid, name);
      w.raw(',"cat":');
      w.string(category);
      this.args(args, undefined);
      w.raw('}');
    } else {
      // A lane: nestable async events. The lane's category and the holder's id group a task with its regions.
      this.start('{"ph":"b","ts":');
      w.micros(begin);
      this.asyncId(track, group);
      this.who(pid, tid, name);
      this.args(args, category === track.category ? undefined : category);
      w.raw('}');
      this.start('{"ph":"e","ts":');
      w.micros(end);
      this.asyncId(track, group);
      this.who(pid, tid, name);
      w.raw('}');
    }
    if (flowInId >= 0) {
      // The flow ends on the slice that begins here (binding point "enclosing slice").
      this.start('{"ph":"f","bp":"e","ts":');
      w.micros(begin);
      this.flowId(flowInThread, flowInId);
      w.raw(`,"pid":${pid},"tid":${tid}}`);
    }
    if (w.pos >= CHUNK_BYTES) this.seal();
  }

  instant(track: Track, thread: number, time: number, name: string, category: string, args: Args, flowOutThread: number, flowOutId: number, stack: readonly StackFrame[] | undefined): void {
    const w = this.w;
    const pid = this.builder.pid;
    const tid = tidOf(pid, thread);
    this.start(track.kind === 'thread' ? '{"ph":"i","s":"t","ts":' : '{"ph":"i","s":"p","ts":');
    w.micros(time);
    this.who(pid, tid, name);
    w.raw(',"cat":');
    w.string(category);
    if (stack !== undefined && stack.length > 0) {
      // Innermost frame first, as the trace has them.
      const frames = stack.map((f) => `${f.functionName || '(anonymous)'}${f.url === '' ? '' : ` (${f.url}:${f.line}:${f.column})`}`);
      this.args(args, undefined, frames);
    } else {
      this.args(args, undefined);
    }
    w.raw('}');
    if (flowOutId >= 0) {
      this.start('{"ph":"s","ts":');
      w.micros(time);
      this.flowId(flowOutThread, flowOutId);
      w.raw(`,"pid":${pid},"tid":${tid}}`);
    }
    if (w.pos >= CHUNK_BYTES) this.seal();
  }

  counter(track: Track, thread: number, time: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const w = this.w;
    const pid = this.builder.pid;
    this.start('{"ph":"C","ts":');
    w.micros(time);
    this.who(pid, tidOf(pid, thread), track.name);
    w.raw(',"args":{"value":');
    w.number(value);
    w.raw('}}');
    if (w.pos >= CHUNK_BYTES) this.seal();
  }

  end(): void {
    const sync = this.firstSync;
    const info = this.builder.process;
    const metadata = {
      'source': 'node-flight-recorder',
      'clock-domain': 'node-flight-recorder trace clock (CLOCK_MONOTONIC minus a per-process epoch); ts in microseconds',
      ...(info === undefined ? {} : { 'process': info }),
      ...(sync === undefined ? {} : { 'clock-snapshot': { traceNs: sync.clock.trace, monotonic: { sec: sync.clock.monoSec, nsec: sync.clock.monoNsec }, realtime: { sec: sync.clock.wallSec, nsec: sync.clock.wallNsec } } }),
      'conversion': this.builder.stats,
    };
    this.w.raw('\n],\n"displayTimeUnit":"ms",\n"metadata":');
    this.w.text(JSON.stringify(metadata));
    this.w.raw('}\n');
    this.seal();
  }

  // --- JSON text ---

  /** Starts an event: the separator, then `head`. */
  private start(head: string): void {
    if (this.first) this.first = false;
    else this.w.raw(',\n');
    this.w.raw(head);
  }

  /** `,"pid":..,"tid":..,"name":".."`, the ids' text made once per thread. */
  private who(pid: number, tid: number, name: string): void {
    let head = this.heads.get(tid);
    if (head === undefined) {
      head = `,"pid":${pid},"tid":${tid},"name":`;
      this.heads.set(tid, head);
    }
    this.w.raw(head);
    this.w.string(name);
  }

  private asyncId(track: Track, group: number): void {
    const w = this.w;
    w.raw(',"cat":');
    w.string(track.category);
    w.raw(',"id":"0x');
    w.raw(group.toString(16));
    w.raw('"');
  }

  /** Async ids are per thread: the thread goes in front, as in the Perfetto output. */
  private flowId(thread: number, id: number): void {
    this.w.raw(`,"cat":"flow","name":"async","id":"0x${thread.toString(16)}:${id.toString(16)}"`);
  }

  private metadata(name: string, tid: number, key: string, value: string | number): void {
    const w = this.w;
    this.start('{"ph":"M","ts":0,"pid":');
    w.uint(this.builder.pid);
    w.raw(',"tid":');
    w.uint(tid);
    w.raw(',"name":"');
    w.raw(name);
    w.raw('","args":{"');
    w.raw(key);
    w.raw('":');
    if (typeof value === 'string') w.string(value);
    else w.number(value);
    w.raw('}}');
  }

  /** `,"args":{...}` unless there is nothing to say; `category` when it differs from the event's. */
  private args(args: Args, category: string | undefined, stack?: string[]): void {
    if (args.length === 0 && category === undefined && stack === undefined) return;
    const w = this.w;
    w.raw(',"args":{');
    for (let i = 0; i < args.length; i++) {
      if (i > 0) w.raw(',');
      w.string(args.keys[i]);
      w.raw(':');
      const v = args.values[i];
      if (typeof v === 'string') w.string(v);
      else if (typeof v === 'number') w.number(v);
      else w.raw(v ? 'true' : 'false');
    }
    let sep = args.length > 0;
    if (category !== undefined) {
      w.raw(sep ? ',"category":' : '"category":');
      w.string(category);
      sep = true;
    }
    if (stack !== undefined) {
      w.raw(sep ? ',"stack":' : '"stack":');
      w.text(JSON.stringify(stack));
    }
    w.raw('}');
  }

  private seal(): void {
    if (this.w.pos === 0) return;
    const chunk = this.w.take();
    this.chunks.push(chunk);
    this.chunksLength += chunk.length;
  }
}

/** Converts a whole trace held in memory; for big traces stream through {@link ChromeExporter}. */
export function toChromeJson(events: Iterable<TraceEvent>): string {
  const exporter = new ChromeExporter();
  for (const e of events) exporter.event(e);
  exporter.finish();
  const decoder = new TextDecoder();
  return exporter.take().map((c) => decoder.decode(c)).join('');
}
