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
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonWriter {
  private buf: Uint8Array;
  /** Bytes written so far. */
  pos = 0;

  constructor(initialBytes = 1 << 16) {
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
    this.ensure(16);
    if (value < 0x80000000) {
      this.pos = putSmall(this.buf, this.pos, value | 0);
      return;
    }
    // Past 2^31: the high part, then the low nine digits zero-padded.
    const high = Math.floor(value / 1e9);
    const p = putSmall(this.buf, this.pos, high);
    putDigits(this.buf, p, (value - high * 1e9) | 0, 9);
    this.pos = p + 9;
  }

  /** Any number, as JSON; NaN and infinities (not JSON) as null. */
  number(value: number): void {
    if (Number.isSafeInteger(value) && value >= 0) this.uint(value);
    else this.raw(Number.isFinite(value) ? String(value) : 'null');
  }

  /** Nanoseconds as microseconds, exactly: the integer part, then up to three decimals. */
  micros(ns: number): void {
    if (!Number.isSafeInteger(ns) || ns < 0) {
      this.raw(micros(ns));
      return;
    }
    const whole = Math.floor(ns / 1000);
    let frac = ns - whole * 1000;
    this.uint(whole);
    if (frac === 0) return;
    this.ensure(4);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0x2e;
    // Three digits, without trailing zeros.
    const d0 = Math.floor(frac / 100);
    frac -= d0 * 100;
    const d1 = Math.floor(frac / 10);
    const d2 = frac - d1 * 10;
    b[p++] = 48 + d0;
    if (d1 !== 0 || d2 !== 0) b[p++] = 48 + d1;
    if (d2 !== 0) b[p++] = 48 + d2;
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

  /** Hands out the bytes written so far (a copy) and starts over. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
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
