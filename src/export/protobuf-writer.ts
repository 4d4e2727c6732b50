/**
 * A small writer of the protobuf wire format, enough for Perfetto traces: varints, 64-bit
 * integers past 2^53 (as BigInt), doubles, fixed64, strings and nested messages. Messages are
 * written in place into one growable buffer: `begin(field)` reserves a one-byte length and
 * `end()` widens it only when the message turned out longer than 127 bytes, so nested messages
 * cost no second pass and no copy in the common case. `take()` hands out what was written, so
 * a caller can stream a long sequence of messages in bounded memory.
 *
 * No Node imports: the viewer runs this in a browser.
 */

/** Wire types of the protobuf encoding. */
export const WireType = { varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5 } as const;

const TWO_32 = 4294967296;

/**
 * Writes `value` (an integer in [0, 2^53)) as a varint into `b` at `p`; returns the position
 * after it. For callers that write whole messages by hand on a hot path; `b` must have room.
 */
export function putVarint(b: Uint8Array, p: number, value: number): number {
  if (value < 0x80000000) {
    let v = value | 0;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    return p;
  }
  let v = value;
  while (v > 0x7f) {
    b[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[p++] = v;
  return p;
}

/** Buffers given back to a writer that it keeps for reuse. */
const SPARE_BUFFERS = 8;

export class ProtoWriter {
  /**
   * The buffer, for hand-written fast paths: call `ensure(n)` first, write at `pos`, then advance
   * `pos`. It is replaced when it grows.
   */
  buf: Uint8Array;
  view: DataView;
  /** Bytes written so far. */
  pos = 0;

  /** Buffers given back, to write into next. */
  private readonly spare: Uint8Array[] = [];

  constructor(private readonly initialBytes = 1 << 16) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** An unsigned varint; `value` is an integer in [0, 2^53). */
  varint(value: number): void {
    this.ensure(10);
    this.pos = putVarint(this.buf, this.pos, value);
  }

  /** A field key: field number and wire type. */
  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An unsigned integer field (uint32, uint64, enum, bool as 0/1). */
  uint(field: number, value: number): void {
    this.ensure(20);
    this.pos = putVarint(this.buf, putVarint(this.buf, this.pos, field * 8), value);
  }

  /** A signed int64/int32 field (not zigzag): negative values take ten bytes, two's complement. */
  int(field: number, value: number): void {
    if (value >= 0) {
      this.uint(field, value);
      return;
    }
    this.tag(field, WireType.varint);
    // Two's complement of a negative integer of magnitude below 2^53, as two 32-bit halves.
    const magnitude = -value;
    let lo = magnitude % TWO_32;
    let hi = Math.floor(magnitude / TWO_32);
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    this.varint64(lo, hi);
  }

  /** A uint64 field given as a BigInt, for values past 2^53 (absolute clock readings). */
  bigUint(field: number, value: bigint): void {
    this.tag(field, WireType.varint);
    const v = BigInt.asUintN(64, value);
    this.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
  }

  /** A 64-bit varint from its low and high 32-bit halves (unsigned). */
  private varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (hi > 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  bool(field: number, value: boolean): void {
    this.uint(field, value ? 1 : 0);
  }

  /** A double field (wire type fixed64, little-endian IEEE 754). */
  double(field: number, value: number): void {
    this.tag(field, WireType.fixed64);
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A fixed64 field from its low and high 32-bit halves. */
  fixed64(field: number, lo: number, hi: number): void {
    this.tag(field, WireType.fixed64);
    this.ensure(8);
    this.view.setUint32(this.pos, lo >>> 0, true);
    this.view.setUint32(this.pos + 4, hi >>> 0, true);
    this.pos += 8;
  }

  /** A string field, UTF-8 encoded. */
  string(field: number, value: string): void {
    const mark = this.begin(field);
    this.utf8(value);
    this.end(mark);
  }

  /** A bytes field. */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WireType.lengthDelimited);
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /**
   * Starts a length-delimited field (a nested message); returns a mark for `end`. Fields
   * written until `end(mark)` make up its content.
   */
  begin(field: number): number {
    this.tag(field, WireType.lengthDelimited);
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the length-delimited field started at `mark`, writing its length. */
  end(mark: number): void {
    const start = mark + 1;
    const length = this.pos - start;
    if (length < 0x80) {
      this.buf[mark] = length;
      return;
    }
    // The length needs more than the one byte reserved: move the content right.
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    const b = this.buf;
    b.copyWithin(start + extra, start, this.pos);
    this.pos += extra;
    let v = length;
    let p = mark;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
  }

  /** Writes the UTF-8 bytes of `s` (no length). ASCII takes a fast path. */
  private utf8(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    this.pos = p;
    if (i < n) this.utf8Slow(s, i);
  }

  private utf8Slow(s: string, from: number): void {
    const rest = s.length - from;
    // At most three bytes per UTF-16 unit (a surrogate pair is two units for four bytes).
    this.ensure(rest * 3);
    const { written } = encoder.encodeInto(from === 0 ? s : s.slice(from), this.buf.subarray(this.pos));
    this.pos += written;
  }

  /**
   * Hands out the bytes written so far (the caller owns them) and starts over in a spare buffer
   * given back through {@link recycle}, or a new one.
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    const next = this.spare.pop() ?? new Uint8Array(this.initialBytes);
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.pos = 0;
    return out;
  }

  /** Takes back a chunk of {@link take} that is no longer used, to write into again. */
  recycle(chunk: Uint8Array): void {
    const buffer = chunk.buffer;
    if (chunk.byteOffset === 0 && buffer.byteLength === this.initialBytes && this.spare.length < SPARE_BUFFERS && buffer !== this.buf.buffer && !this.spare.some((b) => b.buffer === buffer)) {
      this.spare.push(new Uint8Array(buffer));
    }
  }
}

const encoder = new TextEncoder();
