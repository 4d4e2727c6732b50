/**
 * The calls a {@link TimelineBuilder} makes on its writer, as bytes: so that the builder can run
 * on one thread (with the reader) and the writer on another (with the output). `CommandWriter`
 * is a {@link TimelineWriter} that records the calls into chunks; `CommandReplay` makes the same
 * calls, with the same arguments, on a real writer.
 *
 * A chunk is a sequence of commands, each an operation byte and its arguments: unsigned varints,
 * float64s (times and values, exactly as given), strings and argument lists. Strings that repeat
 * (names, categories, keys) are numbered the first time they are sent and sent as their number
 * after that; others (messages, details) are sent each time. A string is sent as UTF-8 when it is
 * well formed, as UTF-16 code units when not (a lone surrogate must reach the writer as it is).
 *
 * No Node imports: this runs wherever the exporters do.
 */
import type { StackFrame } from '../format/events.js';
import { putVarint } from './protobuf-writer.js';
import { decodeText } from '../format/text.js';
import type { ProcessInfo, SyncEvent } from '../reader/events.js';
import { Args, Utf8Text, type TimelineFacts, type TimelineStats, type TimelineWriter, type Track } from './timeline.js';

const OP_FACTS = 1;
const OP_CLOCK = 2;
const OP_DECLARE = 3;
const OP_SLICE = 4;
const OP_INSTANT = 5;
const OP_COUNTER = 6;
const OP_END = 7;
/** A slice without a flow, an instant without a flow or a stack: most calls, two or three varints shorter. */
const OP_SLICE_PLAIN = 8;
const OP_INSTANT_PLAIN = 9;

// Strings: a varint, then what it says.
/** A string sent whole and not kept. */
const STR_ONCE = 0;
/** A string sent whole, and numbered (the next number) for later. */
const STR_KEEP = 1;
/** From here on: the kept string number n - STR_KEPT. */
const STR_KEPT = 2;

// Argument values.
const VALUE_STRING = 0;
const VALUE_NUMBER = 1;
const VALUE_TRUE = 2;
const VALUE_FALSE = 3;

const TRACK_KINDS: readonly Track['kind'][] = ['process', 'thread', 'lane', 'counter'];

/** Slots of the writer's cache of kept strings (a power of two). */
const CACHE_SLOTS = 64;
/** Kept strings before both sides start over: names can be one per request. */
const MAX_KEPT = 1 << 16;
/** Room a command takes besides its strings and arguments, at most. */
const COMMAND_BYTES = 128;
/** Room left at the end of a chunk for the command that starts there (most are far shorter). */
const SPARE_ROOM = 8192;

const encoder = new TextEncoder();

/** {@link putVarint}, with the one-byte case inline at the call site. */
function vput(b: Uint8Array, p: number, value: number): number {
  if (value < 0x80) {
    b[p] = value;
    return p + 1;
  }
  return putVarint(b, p, value);
}

/**
 * A {@link TimelineWriter} that records the calls. `flush` is called with each full chunk (and
 * the last one on `end`); the chunk is the caller's from then on. `facts` is the builder whose
 * pid and process the writer may ask about: they travel with the calls that need them.
 */
export class CommandWriter implements TimelineWriter {
  facts: TimelineFacts | undefined;
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private readonly kept = new Map<string, number>();
  /** Kept strings met lately, in slots by length and first character, compared before the map. */
  private readonly cachedStrings: (string | undefined)[] = new Array<string | undefined>(CACHE_SLOTS).fill(undefined);
  private readonly cachedIds: number[] = new Array<number>(CACHE_SLOTS).fill(0);
  private sentPid = -1;
  private sentProcess: ProcessInfo | undefined;

  constructor(
    private readonly flush: (chunk: Uint8Array) => void,
    /** A buffer to write the next chunk into. */
    private readonly nextBuffer: () => Uint8Array,
  ) {
    this.buf = nextBuffer();
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  clock(sync: SyncEvent): void {
    this.factsFirst();
    this.text(OP_CLOCK, JSON.stringify(sync));
  }

  declare(track: Track): void {
    this.factsFirst();
    this.start();
    const b = this.buf;
    let p = this.pos;
    b[p++] = OP_DECLARE;
    p = putVarint(b, p, track.uuid);
    b[p++] = TRACK_KINDS.indexOf(track.kind);
    p = putVarint(b, p, track.parent?.uuid ?? 0);
    p = putVarint(b, p, track.thread);
    this.pos = p;
    this.string(track.name, true);
    this.string(track.category, true);
  }

  slice(track: Track, thread: number, group: number, begin: number, end: number, name: string, category: string, args: Args, flowInThread: number, flowInId: number): void {
    this.start();
    const b = this.buf;
    let p = this.pos;
    const plain = flowInId < 0;
    b[p++] = plain ? OP_SLICE_PLAIN : OP_SLICE;
    p = vput(b, p, track.uuid);
    p = vput(b, p, thread);
    p = vput(b, p, group);
    this.view.setFloat64(p, begin, true);
    this.view.setFloat64(p + 8, end, true);
    p += 16;
    if (!plain) {
      p = vput(b, p, flowInThread);
      p = vput(b, p, flowInId + 1);
    }
    this.pos = p;
    this.string(name, true);
    this.string(category, true);
    this.args(args);
  }

  instant(track: Track, thread: number, time: number, name: string, category: string, args: Args, flowOutThread: number, flowOutId: number, stack: readonly StackFrame[] | undefined): void {
    this.start();
    const b = this.buf;
    let p = this.pos;
    const plain = flowOutId < 0 && stack === undefined;
    b[p++] = plain ? OP_INSTANT_PLAIN : OP_INSTANT;
    p = vput(b, p, track.uuid);
    p = vput(b, p, thread);
    this.view.setFloat64(p, time, true);
    p += 8;
    if (!plain) {
      p = vput(b, p, flowOutThread);
      p = vput(b, p, flowOutId + 1);
      // The stack's frame count plus one; 0 for none.
      p = vput(b, p, stack === undefined ? 0 : stack.length + 1);
    }
    this.pos = p;
    this.string(name, true);
    this.string(category, true);
    this.args(args);
    if (stack !== undefined) {
      for (const frame of stack) {
        this.string(frame.functionName, true);
        this.string(frame.url, true);
        this.room(0);
        this.pos = vput(this.buf, vput(this.buf, this.pos, frame.line), frame.column);
      }
    }
  }

  counter(track: Track, thread: number, time: number, value: number): void {
    this.start();
    const b = this.buf;
    let p = this.pos;
    b[p++] = OP_COUNTER;
    p = vput(b, p, track.uuid);
    p = vput(b, p, thread);
    this.view.setFloat64(p, time, true);
    this.view.setFloat64(p + 8, value, true);
    this.pos = p + 16;
  }

  end(): void {
    this.factsFirst();
    this.text(OP_END, JSON.stringify(this.facts?.stats ?? null));
    this.seal();
  }

  /** The pid and process, before a call that may ask for them, when they changed. */
  private factsFirst(): void {
    const facts = this.facts;
    if (facts === undefined || (facts.pid === this.sentPid && facts.process === this.sentProcess)) return;
    this.sentPid = facts.pid;
    this.sentProcess = facts.process;
    this.text(OP_FACTS, JSON.stringify({ pid: facts.pid, process: facts.process ?? null }));
  }

  /** An operation whose argument is one string (JSON, for the rare calls). */
  private text(op: number, text: string): void {
    this.start();
    this.buf[this.pos++] = op;
    this.string(text, false);
  }

  private args(args: Args): void {
    const n = args.length;
    this.room(0);
    this.pos = putVarint(this.buf, this.pos, n);
    for (let i = 0; i < n; i++) {
      this.string(args.keys[i], true);
      const v = args.values[i];
      if (typeof v === 'string' || typeof v === 'object') {
        this.room(0);
        this.buf[this.pos++] = VALUE_STRING;
        this.string(typeof v === 'string' ? v : v.toString(), false);
      } else if (typeof v === 'number') {
        this.room(9);
        this.buf[this.pos] = VALUE_NUMBER;
        this.view.setFloat64(this.pos + 1, v, true);
        this.pos += 9;
      } else {
        this.room(0);
        this.buf[this.pos++] = v ? VALUE_TRUE : VALUE_FALSE;
      }
    }
  }

  /** A string: its number when it was kept before, else whole (and kept, if `keep`). */
  private string(s: string, keep: boolean): void {
    this.room(0);
    if (keep) {
      // A small cache by identity before the map: the same few names come call after call.
      const slot = (s.length * 7 + s.charCodeAt(0)) & (CACHE_SLOTS - 1);
      let id: number | undefined;
      if (this.cachedStrings[slot] === s) id = this.cachedIds[slot];
      else {
        id = this.kept.get(s);
        if (id === undefined) {
          if (this.kept.size >= MAX_KEPT) {
            // Both sides start over: the reader clears its list when it is sent one more.
            this.kept.clear();
            this.cachedStrings.fill(undefined);
          }
          id = this.kept.size;
          this.kept.set(s, id);
          this.cachedStrings[slot] = s;
          this.cachedIds[slot] = id;
          this.buf[this.pos++] = STR_KEEP;
          this.whole(s);
          return;
        }
        this.cachedStrings[slot] = s;
        this.cachedIds[slot] = id;
      }
      const v = id + STR_KEPT;
      if (v < 0x80) this.buf[this.pos++] = v;
      else this.pos = putVarint(this.buf, this.pos, v);
      return;
    }
    this.buf[this.pos++] = STR_ONCE;
    this.whole(s);
  }

  /** Length (times two, plus one for UTF-16) and bytes. */
  private whole(s: string): void {
    const n = s.length;
    this.room(n * 3 + 10);
    const b = this.buf;
    const at = this.pos;
    // ASCII, the common case, in one pass: its length is known before its bytes.
    let p = putVarint(b, at, n * 2);
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    if (i === n) {
      this.pos = p;
      return;
    }
    if (s.isWellFormed()) {
      // UTF-8 after a length of the most room it could take, rewritten once known.
      const start = at + 5;
      const written = encoder.encodeInto(s, b.subarray(start, start + n * 3)).written;
      p = putVarint(b, at, written * 2);
      b.copyWithin(p, start, start + written);
      this.pos = p + written;
      return;
    }
    p = putVarint(b, at, n * 2 + 1);
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      b[p++] = c & 0xff;
      b[p++] = c >>> 8;
    }
    this.pos = p;
  }

  /**
   * Starts a command: a chunk holds whole commands, so the chunk is handed out here, between
   * two commands, once it is nearly full. What is left (SPARE_ROOM) is room for the command's
   * fixed part; its strings and arguments make room for themselves.
   */
  private start(): void {
    if (this.pos > this.buf.length - SPARE_ROOM) this.seal();
  }

  /** Makes room for COMMAND_BYTES plus `extra` more bytes of the command being written. */
  private room(extra: number): void {
    if (this.pos + COMMAND_BYTES + extra > this.buf.length) this.grow(extra);
  }

  /** A command longer than what was left (a long string, a deep stack): a bigger buffer. */
  private grow(extra: number): void {
    const bigger = new Uint8Array(Math.max(this.pos + COMMAND_BYTES + extra, this.buf.length * 2));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  /** Hands out what was written, and starts a new chunk. */
  private seal(): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.flush(chunk);
    this.buf = this.nextBuffer();
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
  }

  /** Hands out what is written so far, for a caller that stops before `end` (a failed read). */
  sealNow(): void {
    this.seal();
  }
}

/** Replays chunks of commands on a writer: what it keeps from one chunk to the next, and the facts it learns. */
export class CommandReplay implements TimelineFacts {
  pid = 1;
  process: ProcessInfo | undefined;
  stats: TimelineStats = { droppedOpen: 0, beganBeforeWindow: 0, unfinished: 0 };
  /** True once the `end` call was replayed. */
  ended = false;
  private readonly strings: string[] = [];
  private readonly tracks: (Track | undefined)[] = [];
  private readonly args = new Args();
  private readonly texts: Utf8Text[] = [];
  private b: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private p = 0;

  /** Makes the recorded calls on `writer`, in order. */
  replay(chunk: Uint8Array, writer: TimelineWriter): void {
    this.b = chunk;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.p = 0;
    const end = chunk.length;
    // The frequent calls here, the others apart: a path taken for the first time in optimized
    // code throws it away, and this loop, with the writer's methods compiled into it, is costly
    // to compile again.
    while (this.p < end) {
      const op = chunk[this.p++];
      if (op === OP_SLICE_PLAIN) {
        const track = this.track();
        const thread = this.varint();
        const group = this.varint();
        const begin = this.view.getFloat64(this.p, true);
        const stop = this.view.getFloat64(this.p + 8, true);
        this.p += 16;
        const name = this.string();
        const category = this.string();
        writer.slice(track, thread, group, begin, stop, name, category, this.readArgs(), 0, -1);
      } else if (op === OP_INSTANT_PLAIN) {
        const track = this.track();
        const thread = this.varint();
        const time = this.view.getFloat64(this.p, true);
        this.p += 8;
        const name = this.string();
        const category = this.string();
        writer.instant(track, thread, time, name, category, this.readArgs(), 0, -1, undefined);
      } else if (op === OP_COUNTER) {
        const track = this.track();
        const thread = this.varint();
        const time = this.view.getFloat64(this.p, true);
        const value = this.view.getFloat64(this.p + 8, true);
        this.p += 16;
        writer.counter(track, thread, time, value);
      } else {
        this.other(op, writer);
      }
    }
  }

  /** The calls other than plain slices, plain instants and counters. */
  private other(op: number, writer: TimelineWriter): void {
    switch (op) {
      case OP_SLICE: {
        const track = this.track();
        const thread = this.varint();
        const group = this.varint();
        const begin = this.view.getFloat64(this.p, true);
        const stop = this.view.getFloat64(this.p + 8, true);
        this.p += 16;
        const flowThread = this.varint();
        const flowId = this.varint() - 1;
        const name = this.string();
        const category = this.string();
        writer.slice(track, thread, group, begin, stop, name, category, this.readArgs(), flowThread, flowId);
        return;
      }
      case OP_INSTANT: {
        const track = this.track();
        const thread = this.varint();
        const time = this.view.getFloat64(this.p, true);
        this.p += 8;
        const flowThread = this.varint();
        const flowId = this.varint() - 1;
        const frames = this.varint();
        const name = this.string();
        const category = this.string();
        const args = this.readArgs();
        let stack: StackFrame[] | undefined;
        if (frames > 0) {
          // A fresh array per sample: a writer may keep the stack no more than a call, but
          // the frames are objects of their own, as the reader's are.
          stack = [];
          for (let i = 1; i < frames; i++) {
            const functionName = this.string();
            const url = this.string();
            const line = this.varint();
            const column = this.varint();
            stack.push({ functionName, url, line, column });
          }
        }
        writer.instant(track, thread, time, name, category, args, flowThread, flowId, stack);
        return;
      }
      case OP_DECLARE: {
        const uuid = this.varint();
        const kind = TRACK_KINDS[this.b[this.p++]];
        const parent = this.tracks[this.varint()];
        const thread = this.varint();
        const name = this.string();
        const category = this.string();
        let track = this.tracks[uuid];
        if (track === undefined) {
          track = { uuid, kind, name, parent, thread, category };
          this.tracks[uuid] = track;
        } else {
          // A thread renamed: the same track, with its new name.
          track.name = name;
        }
        writer.declare(track);
        return;
      }
      case OP_CLOCK:
        writer.clock(JSON.parse(this.string()) as SyncEvent);
        return;
      case OP_FACTS: {
        const facts = JSON.parse(this.string()) as { pid: number; process: ProcessInfo | null };
        this.pid = facts.pid;
        this.process = facts.process ?? undefined;
        return;
      }
      case OP_END: {
        const stats = JSON.parse(this.string()) as TimelineStats | null;
        if (stats !== null) this.stats = stats;
        this.ended = true;
        writer.end();
        return;
      }
      default:
        throw new Error(`timeline commands: unknown operation ${op} at ${this.p - 1}`);
    }
  }

  private track(): Track {
    return this.tracks[this.varint()]!;
  }

  private varint(): number {
    const b = this.b;
    let p = this.p;
    let byte = b[p++];
    if (byte < 0x80) {
      this.p = p;
      return byte;
    }
    let value = byte & 0x7f;
    let scale = 128;
    do {
      byte = b[p++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    this.p = p;
    return value;
  }

  private readArgs(): Args {
    const args = this.args.clear();
    const n = this.varint();
    for (let i = 0; i < n; i++) {
      const key = this.string();
      const type = this.b[this.p++];
      if (type === VALUE_STRING) args.add(key, this.text(i));
      else if (type === VALUE_NUMBER) {
        args.add(key, this.view.getFloat64(this.p, true));
        this.p += 8;
      } else args.add(key, type === VALUE_TRUE);
    }
    return args;
  }

  /**
   * An argument's string: as its UTF-8 bytes when it came so (in the `slot`-th reused
   * {@link Utf8Text}), which spares decoding it here and encoding it again in the writer.
   */
  private text(slot: number): string | Utf8Text {
    const b = this.b;
    const at = this.p;
    if (b[at] !== STR_ONCE || (b[at + 1] & 1) !== 0) return this.string();
    this.p = at + 1;
    const n = this.varint() >>> 1;
    const start = this.p;
    const end = start + n;
    this.p = end;
    let text = this.texts[slot];
    if (text === undefined) this.texts[slot] = text = new Utf8Text();
    text.bytes = b;
    text.start = start;
    text.end = end;
    let plain = true;
    for (let i = start; i < end; i++) {
      const c = b[i];
      if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) {
        plain = false;
        break;
      }
    }
    text.plainJson = plain;
    return text;
  }

  private string(): string {
    const tag = this.varint();
    if (tag >= STR_KEPT) return this.strings[tag - STR_KEPT];
    const s = this.whole();
    if (tag === STR_KEEP) {
      // Number 0 again: the writer started its list over.
      if (this.strings.length > 0 && this.strings.length >= MAX_KEPT) this.strings.length = 0;
      this.strings.push(s);
    }
    return s;
  }

  private whole(): string {
    const header = this.varint();
    const n = header >>> 1;
    const start = this.p;
    if ((header & 1) === 0) {
      this.p = start + n;
      return decodeText(this.b, start, start + n);
    }
    let s = '';
    const b = this.b;
    for (let i = 0; i < n; i++) s += String.fromCharCode(b[start + 2 * i] | (b[start + 2 * i + 1] << 8));
    this.p = start + 2 * n;
    return s;
  }
}
