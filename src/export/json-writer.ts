/**
 * Writes JSON text straight into UTF-8 bytes: numbers, strings (escaped) and fixed fragments,
 * with no intermediate JS strings on the common paths. Building a string per event and joining
 * them cost the Chrome export most of its time; writing bytes costs a fraction.
 *
 * No Node imports: the viewer runs this in a browser.
 */

const encoder = new TextEncoder();

/** "00".."99" as ASCII pairs, to write two digits per division. */
const PAIRS = (() => {
  const pairs = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    pairs[2 * i] = 48 + Math.floor(i / 10);
    pairs[2 * i + 1] = 48 + (i % 10);
  }
  return pairs;
})();

/** Number of decimal digits of `v`, an integer in [0, 2^31). */
function digitCount(v: number): number {
  return v < 100000 ? (v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10000 ? 4 : 5) : v < 10000000 ? (v < 1000000 ? 6 : 7) : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
}

/** Writes exactly `n` digits of `v` (an integer in [0, 2^31)) ending at p + n, zero-padded. */
function putDigits(b: Uint8Array, p: number, v: number, n: number): void {
  let end = p + n;
  while (end - p >= 2) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) << 1;
    b[--end] = PAIRS[r + 1];
    b[--end] = PAIRS[r];
    v = q;
  }
  if (end > p) b[--end] = 48 + (v % 10);
}

/** Writes `v` (an integer in [0, 2^31)) at `p`; returns the position after it. */
function putSmall(b: Uint8Array, p: number, v: number): number {
  const n = digitCount(v);
  putDigits(b, p, v, n);
  return p + n;
}

/** Writes `v` (a safe non-negative integer) at `p`, which has room for 16 digits; returns the position after it. */
function putUint(b: Uint8Array, p: number, v: number): number {
  if (v < 0x80000000) return putSmall(b, p, v | 0);
  // Past 2^31: the high part, then the low nine digits zero-padded.
  const high = Math.floor(v / 1e9);
  p = putSmall(b, p, high);
  putDigits(b, p, (v - high * 1e9) | 0, 9);
  return p + 9;
}

/**
 * For each fraction 1..999 of a microsecond: its three digits, then how many bytes to keep of
 * the point and the digits (trailing zeros left out): 1.5, 1.05, 1.005.
 */
const FRACTIONS = (() => {
  const table = new Uint8Array(4000);
  for (let f = 1; f < 1000; f++) {
    table[4 * f] = 48 + Math.floor(f / 100);
    table[4 * f + 1] = 48 + (Math.floor(f / 10) % 10);
    table[4 * f + 2] = 48 + (f % 10);
    table[4 * f + 3] = f % 100 === 0 ? 2 : f % 10 === 0 ? 3 : 4;
  }
  return table;
})();

/** ASCII codes of the hexadecimal digits. */
const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

/** The bytes of an ASCII fragment, to write with {@link JsonWriter.bytes}. */
export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Buffers given back to a writer that it keeps for reuse. */
const SPARE_BUFFERS = 8;

export class JsonWriter {
  private buf: Uint8Array;
  /** Bytes written so far. */
  pos = 0;

  /** Buffers given back, to write into next. */
  private readonly spare: Uint8Array[] = [];

  constructor(private readonly initialBytes = 1 << 16) {
    this.buf = new Uint8Array(initialBytes);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Bytes made once (see {@link ascii}, {@link since}): one copy, whatever their length. */
  bytes(fragment: Uint8Array): void {
    this.ensure(fragment.length);
    this.buf.set(fragment, this.pos);
    this.pos += fragment.length;
  }

  /** `bytes[start..end)` in quotes: a JSON string whose text needs no escape. */
  quoted(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = QUOTE;
    // Short texts byte by byte: a copy through `set` costs a view object first.
    if (n > 48) b.set(bytes.subarray(start, end), p);
    else for (let i = 0; i < n; i++) b[p + i] = bytes[start + i];
    p += n;
    b[p++] = QUOTE;
    this.pos = p;
  }

  /** One ASCII byte. */
  byte(code: number): void {
    this.ensure(1);
    this.buf[this.pos++] = code;
  }

  /** A copy of what was written from `start` on, to write again with {@link bytes}. */
  since(start: number): Uint8Array {
    return this.buf.slice(start, this.pos);
  }

  /** `value` (an integer in [0, 2^53)) in lowercase hexadecimal, as `value.toString(16)`. */
  hex(value: number): void {
    if (value >= 0x100000000) {
      this.raw(value.toString(16));
      return;
    }
    let n = 1;
    for (let v = value >>> 4; v !== 0; v >>>= 4) n++;
    this.ensure(n);
    const b = this.buf;
    let v = value >>> 0;
    for (let p = this.pos + n - 1; p >= this.pos; p--) {
      b[p] = HEX[v & 15];
      v >>>= 4;
    }
    this.pos += n;
  }

  /** A fixed fragment of JSON syntax; it must be ASCII. */
  raw(ascii: string): void {
    const n = ascii.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = ascii.charCodeAt(i);
    this.pos = p;
  }

  /** A non-negative safe integer, in decimal. */
  uint(value: number): void {
    this.ensure(20);
    this.pos = putUint(this.buf, this.pos, value);
  }

  /** Any number, as JSON; NaN and infinities (not JSON) as null. */
  number(value: number): void {
    if (value >= 0 && value <= Number.MAX_SAFE_INTEGER && Math.floor(value) === value) this.uint(value);
    else this.raw(Number.isFinite(value) ? String(value) : 'null');
  }

  /** Nanoseconds as microseconds, exactly: the integer part, then up to three decimals. */
  micros(ns: number): void {
    if (!(ns >= 0 && ns <= Number.MAX_SAFE_INTEGER && Math.floor(ns) === ns)) {
      this.raw(micros(ns));
      return;
    }
    this.ensure(24);
    const whole = Math.floor(ns / 1000);
    const frac = ns - whole * 1000;
    const b = this.buf;
    let p = putUint(b, this.pos, whole);
    if (frac !== 0) {
      // The point and three digits, of which the trailing zeros are then left out.
      const f = frac << 2;
      b[p] = 0x2e;
      b[p + 1] = FRACTIONS[f];
      b[p + 2] = FRACTIONS[f + 1];
      b[p + 3] = FRACTIONS[f + 2];
      p += FRACTIONS[f + 3];
    }
    this.pos = p;
  }

  /** A JSON string: quoted and escaped, UTF-8. */
  string(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c >= 0x7f || c === QUOTE || c === BACKSLASH) {
        // Escapes or non-ASCII: let JSON.stringify escape, and encode the result.
        this.pos = p - i - 1;
        this.utf8(JSON.stringify(s));
        return;
      }
      b[p++] = c;
    }
    b[p++] = QUOTE;
    this.pos = p;
  }

  /** Text as it is (already JSON), UTF-8 encoded. */
  text(text: string): void {
    this.utf8(text);
  }

  private utf8(text: string): void {
    this.ensure(text.length * 3);
    this.pos += encoder.encodeInto(text, this.buf.subarray(this.pos)).written;
  }

  /**
   * Hands out the bytes written so far (the caller owns them) and starts over in a spare buffer
   * given back through {@link recycle}, or a new one.
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    const next = this.spare.pop() ?? new Uint8Array(this.initialBytes);
    this.buf = next;
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

/** `ns` as a JSON number of microseconds, exactly (up to three decimals, no trailing zeros). */
export function micros(ns: number): string {
  if (!Number.isSafeInteger(ns)) return String(ns / 1000);
  const negative = ns < 0;
  const abs = negative ? -ns : ns;
  const whole = Math.floor(abs / 1000);
  const frac = abs - whole * 1000;
  const sign = negative ? '-' : '';
  if (frac === 0) return `${sign}${whole}`;
  const digits = frac % 100 === 0 ? `${frac / 100}` : frac % 10 === 0 ? `${frac < 100 ? '0' : ''}${frac / 10}` : `${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
  return `${sign}${whole}.${digits}`;
}
