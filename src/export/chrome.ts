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
import { ascii, JsonWriter } from './json-writer.js';
import { tidOf } from './perfetto.js';
import { TimelineBuilder, type Args, type TimelineFacts, type TimelineStats, type TimelineWriter, type Track } from './timeline.js';

export { micros } from './json-writer.js';

/** Output buffered before it is handed out. */
const CHUNK_BYTES = 1 << 20;

// The fixed text, as bytes made once: most of the output is this text, and copying bytes costs a
// fraction of writing a string character by character. Each head carries the separator before it.
const HEAD_X = ascii(',\n{"ph":"X","ts":');
const HEAD_B = ascii(',\n{"ph":"b","ts":');
const HEAD_E = ascii(',\n{"ph":"e","ts":');
const HEAD_THREAD_INSTANT = ascii(',\n{"ph":"i","s":"t","ts":');
const HEAD_PROCESS_INSTANT = ascii(',\n{"ph":"i","s":"p","ts":');
const HEAD_COUNTER = ascii(',\n{"ph":"C","ts":');
const HEAD_FLOW_END = ascii(',\n{"ph":"f","bp":"e","ts":');
const HEAD_FLOW_START = ascii(',\n{"ph":"s","ts":');
const DUR = ascii(',"dur":');
const CAT = ascii(',"cat":');
const ID = ascii(',"id":"0x');
const FLOW = ascii(',"cat":"flow","name":"async","id":"0x');
const ARGS = ascii(',"args":{');
const CATEGORY_FIRST = ascii('"category":');
const CATEGORY_NEXT = ascii(',"category":');
const STACK_FIRST = ascii('"stack":');
const STACK_NEXT = ascii(',"stack":');
const TRUE = ascii('true');
const FALSE = ascii('false');
/** The key of a counter's value. */
const VALUE = 'value';
const CLOSE = 0x7d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const COLON = 0x3a;
/** Entries a cache of made text holds before it starts over (names can be one per request). */
const MAX_CACHED = 4096;
/** Names longer than this are written each time, not kept. */
const MAX_CACHED_NAME = 256;
/** Argument keys checked by identity before the map. */
const RECENT_KEYS = 16;
/** Entries checked by identity before the map, most recent first: names repeat event after event. */
const RECENT = 8;

/**
 * Text made once for a name: `,"pid":..,"tid":..,"name":"<name>"`, then `,"cat":"<category>"`
 * for the events that carry it there, then `,"args":{"<key>":` when the event has arguments:
 * most of an event's text, in one copy.
 */
interface Head {
  readonly name: string;
  /** null when the text has no category. */
  readonly category: string | null;
  /** The first argument's key; null when the text does not open the arguments. */
  readonly key: string | null;
  readonly bytes: Uint8Array;
  /** Another head of the same name (another category or key), or undefined. */
  next: Head | undefined;
}

/** Heads of one thread (tid), by name: a few recent ones compared first, then a map. */
class HeadCache {
  private readonly byName = new Map<string, Head>();
  private readonly recent: (Head | undefined)[] = new Array<Head | undefined>(RECENT).fill(undefined);
  private slot = 0;

  get(name: string, category: string | null, key: string | null): Head | undefined {
    const recent = this.recent;
    for (let i = 0; i < RECENT; i++) {
      const head = recent[i];
      if (head !== undefined && head.name === name && head.category === category && head.key === key) return head;
    }
    for (let head = this.byName.get(name); head !== undefined; head = head.next) {
      if (head.category === category && head.key === key) {
        this.remember(head);
        return head;
      }
    }
    return undefined;
  }

  add(head: Head): void {
    if (this.byName.size >= MAX_CACHED) this.byName.clear();
    const first = this.byName.get(head.name);
    // A name seen with several categories or keys keeps a few of them.
    if (first !== undefined && first.next?.next === undefined) head.next = first;
    this.byName.set(head.name, head);
    this.remember(head);
  }

  private remember(head: Head): void {
    this.recent[this.slot] = head;
    this.slot = (this.slot + 1) % RECENT;
  }
}

/** What is made once per thread (by tid). */
class ThreadText {
  /** `,"pid":..,"tid":..,"name":` */
  readonly prefix: Uint8Array;
  /** `,"pid":..,"tid":..}` (the end of a flow event). */
  readonly end: Uint8Array;
  readonly heads = new HeadCache();

  constructor(
    readonly tid: number,
    pid: number,
  ) {
    this.prefix = ascii(`,"pid":${pid},"tid":${tid},"name":`);
    this.end = ascii(`,"pid":${pid},"tid":${tid}}`);
  }
}

/** `"key":` after `,"args":{`, and `,"key":` after another argument. */
interface KeyText {
  readonly first: Uint8Array;
  readonly next: Uint8Array;
}

/** Converts trace events to Chrome Trace Event JSON (UTF-8 bytes), streaming. */
export class ChromeExporter implements Exporter, TimelineWriter {
  readonly format = 'chrome' as const;
  private readonly builder = new TimelineBuilder(this);
  facts: TimelineFacts = this.builder;
  private readonly w = new JsonWriter(CHUNK_BYTES + (1 << 16));
  private readonly chunks: Uint8Array[] = [];
  private chunksLength = 0;
  private first = true;
  private firstSync: SyncEvent | undefined;
  private readonly threads = new Map<number, ThreadText>();
  private lastThread: ThreadText | undefined;
  private readonly keys = new Map<string, KeyText>();
  /** The first keys met, checked by identity before the map. */
  private readonly keyNames: string[] = [];
  private readonly keyTexts: KeyText[] = [];
  /** `,"cat":"<category>","id":"0x` of lanes, by category. */
  private readonly laneIds = new Map<string, Uint8Array>();

  constructor() {
    this.w.raw('{"traceEvents":[\n');
  }

  get stats(): TimelineStats {
    return this.facts.stats;
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

  recycle(chunk: Uint8Array): void {
    this.w.recycle(chunk);
  }

  // --- TimelineWriter ---

  clock(sync: SyncEvent): void {
    this.firstSync ??= sync;
  }

  declare(track: Track): void {
    const pid = this.facts.pid;
    if (track.kind === 'process') {
      const info = this.facts.process;
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
    const text = this.thread(thread);
    if (track.kind === 'thread') {
      this.head(HEAD_X);
      w.micros(begin);
      w.bytes(DUR);
      w.micros(end - begin);
      this.who(text, name, category, this.firstKey(args));
      this.args(args, undefined, undefined);
      w.byte(CLOSE);
    } else {
      // A lane: nestable async events. The lane's category and the holder's id group a task with its regions.
      const id = this.laneId(track.category);
      this.head(HEAD_B);
      w.micros(begin);
      w.bytes(id);
      w.hex(group);
      w.byte(QUOTE);
      this.who(text, name, null, this.firstKey(args));
      this.args(args, category === track.category ? undefined : category, undefined);
      w.byte(CLOSE);
      this.head(HEAD_E);
      w.micros(end);
      w.bytes(id);
      w.hex(group);
      w.byte(QUOTE);
      this.who(text, name, null, null);
      w.byte(CLOSE);
    }
    if (flowInId >= 0) {
      // The flow ends on the slice that begins here (binding point "enclosing slice").
      this.head(HEAD_FLOW_END);
      w.micros(begin);
      this.flowId(flowInThread, flowInId);
      w.bytes(text.end);
    }
    if (w.pos >= CHUNK_BYTES) this.seal();
  }

  instant(track: Track, thread: number, time: number, name: string, category: string, args: Args, flowOutThread: number, flowOutId: number, stack: readonly StackFrame[] | undefined): void {
    const w = this.w;
    const text = this.thread(thread);
    this.head(track.kind === 'thread' ? HEAD_THREAD_INSTANT : HEAD_PROCESS_INSTANT);
    w.micros(time);
    this.who(text, name, category, this.firstKey(args));
    if (stack !== undefined && stack.length > 0) {
      // Innermost frame first, as the trace has them.
      const frames = stack.map((f) => `${f.functionName || '(anonymous)'}${f.url === '' ? '' : ` (${f.url}:${f.line}:${f.column})`}`);
      this.args(args, undefined, frames);
    } else {
      this.args(args, undefined, undefined);
    }
    w.byte(CLOSE);
    if (flowOutId >= 0) {
      this.head(HEAD_FLOW_START);
      w.micros(time);
      this.flowId(flowOutThread, flowOutId);
      w.bytes(text.end);
    }
    if (w.pos >= CHUNK_BYTES) this.seal();
  }

  counter(track: Track, thread: number, time: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const w = this.w;
    this.head(HEAD_COUNTER);
    w.micros(time);
    this.who(this.thread(thread), track.name, null, VALUE);
    w.number(value);
    w.byte(CLOSE);
    w.byte(CLOSE);
    if (w.pos >= CHUNK_BYTES) this.seal();
  }

  end(): void {
    const sync = this.firstSync;
    const info = this.facts.process;
    const metadata = {
      'source': 'node-flight-recorder',
      'clock-domain': 'node-flight-recorder trace clock (CLOCK_MONOTONIC minus a per-process epoch); ts in microseconds',
      ...(info === undefined ? {} : { 'process': info }),
      ...(sync === undefined ? {} : { 'clock-snapshot': { traceNs: sync.clock.trace, monotonic: { sec: sync.clock.monoSec, nsec: sync.clock.monoNsec }, realtime: { sec: sync.clock.wallSec, nsec: sync.clock.wallNsec } } }),
      'conversion': this.facts.stats,
    };
    this.w.raw('\n],\n"displayTimeUnit":"ms",\n"metadata":');
    this.w.text(JSON.stringify(metadata));
    this.w.raw('}\n');
    this.seal();
  }

  // --- JSON text ---

  /** Starts an event: `head` holds the separator, left out before the first event. */
  private head(head: Uint8Array): void {
    if (this.first) {
      this.first = false;
      this.w.bytes(head.subarray(2));
    } else {
      this.w.bytes(head);
    }
  }

  private thread(thread: number): ThreadText {
    const tid = tidOf(this.facts.pid, thread);
    const last = this.lastThread;
    if (last !== undefined && last.tid === tid) return last;
    let text = this.threads.get(tid);
    if (text === undefined) {
      text = new ThreadText(tid, this.facts.pid);
      this.threads.set(tid, text);
    }
    this.lastThread = text;
    return text;
  }

  /**
   * `,"pid":..,"tid":..,"name":".."`, then `,"cat":".."` unless `category` is null, then
   * `,"args":{"<key>":` unless `key` is null: made once per name and thread.
   */
  private who(text: ThreadText, name: string, category: string | null, key: string | null): void {
    const w = this.w;
    const head = text.heads.get(name, category, key);
    if (head !== undefined) {
      w.bytes(head.bytes);
      return;
    }
    const start = w.pos;
    w.bytes(text.prefix);
    w.string(name);
    if (category !== null) {
      w.bytes(CAT);
      w.string(category);
    }
    if (key !== null) {
      w.bytes(ARGS);
      w.bytes(this.key(key).first);
    }
    if (name.length <= MAX_CACHED_NAME) text.heads.add({ name, category, key, bytes: w.since(start), next: undefined });
  }

  private laneId(category: string): Uint8Array {
    let id = this.laneIds.get(category);
    if (id === undefined) {
      const w = this.w;
      const start = w.pos;
      w.bytes(CAT);
      w.string(category);
      w.bytes(ID);
      id = w.since(start);
      w.pos = start;
      if (this.laneIds.size >= MAX_CACHED) this.laneIds.clear();
      this.laneIds.set(category, id);
    }
    return id;
  }

  /** Async ids are per thread: the thread goes in front, as in the Perfetto output. */
  private flowId(thread: number, id: number): void {
    const w = this.w;
    w.bytes(FLOW);
    w.hex(thread);
    w.byte(COLON);
    w.hex(id);
    w.byte(QUOTE);
  }

  private metadata(name: string, tid: number, key: string, value: string | number): void {
    const w = this.w;
    if (this.first) this.first = false;
    else w.raw(',\n');
    w.raw('{"ph":"M","ts":0,"pid":');
    w.uint(this.facts.pid);
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

  private key(key: string): KeyText {
    // Keys are the builder's literals: a few, found by identity before the map.
    const names = this.keyNames;
    for (let i = 0; i < names.length; i++) if (names[i] === key) return this.keyTexts[i];
    const known = this.keys.get(key);
    if (known !== undefined) return known;
    const w = this.w;
    const start = w.pos;
    w.string(key);
    w.byte(COLON);
    const first = w.since(start);
    w.pos = start;
    const next = new Uint8Array(first.length + 1);
    next[0] = COMMA;
    next.set(first, 1);
    const text = { first, next };
    if (this.keys.size >= MAX_CACHED) this.keys.clear();
    this.keys.set(key, text);
    if (names.length < RECENT_KEYS) {
      names.push(key);
      this.keyTexts.push(text);
    }
    return text;
  }

  /** The first argument's key, which {@link who} writes with the name; null when there is none. */
  private firstKey(args: Args): string | null {
    return args.length > 0 ? args.keys[0] : null;
  }

  /**
   * The rest of `,"args":{...}` after {@link who} (which wrote up to the first key, if any): the
   * values, `category` when it differs from the event's, the stack. Nothing when there is nothing.
   */
  private args(args: Args, category: string | undefined, stack: string[] | undefined): void {
    const n = args.length;
    const w = this.w;
    if (n === 0) {
      if (category === undefined && stack === undefined) return;
      w.bytes(ARGS);
    }
    const keys = args.keys;
    const values = args.values;
    for (let i = 0; i < n; i++) {
      if (i > 0) w.bytes(this.key(keys[i]).next);
      const v = values[i];
      if (typeof v === 'string') w.string(v);
      else if (typeof v === 'number') w.number(v);
      else if (typeof v === 'boolean') w.bytes(v ? TRUE : FALSE);
      else if (v.plainJson) w.quoted(v.bytes, v.start, v.end);
      else w.string(v.toString());
    }
    let sep = n > 0;
    if (category !== undefined) {
      w.bytes(sep ? CATEGORY_NEXT : CATEGORY_FIRST);
      w.string(category);
      sep = true;
    }
    if (stack !== undefined) {
      w.bytes(sep ? STACK_NEXT : STACK_FIRST);
      w.text(JSON.stringify(stack));
    }
    w.byte(CLOSE);
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
