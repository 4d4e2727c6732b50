import { MAX_STRING_BYTES } from './limits.js';

/** UTF-8 for the format's `text` arguments. Works in Node and in browsers. */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Encodes `value` into `buf` at `pos`, at most `maxBytes` bytes, cut at a character boundary.
 * Returns the number of bytes written.
 */
export function encodeTextInto(value: string, buf: Uint8Array, pos: number, maxBytes = MAX_STRING_BYTES): number {
  return encoder.encodeInto(value, buf.subarray(pos, pos + maxBytes)).written ?? 0;
}

/** Most UTF-8 bytes a string of this length can take. */
export function maxTextBytes(value: string): number {
  return Math.min(value.length * 3, MAX_STRING_BYTES);
}

/**
 * Node's own UTF-8 slice when running in Node (a third faster than TextDecoder on short strings);
 * this module also runs in browsers, where TextDecoder is used.
 */
const utf8Slice = (globalThis as { Buffer?: { prototype: { utf8Slice?: (this: Uint8Array, start: number, end: number) => string } } }).Buffer?.prototype.utf8Slice;

/** Decodes UTF-8 bytes; invalid sequences become U+FFFD. */
export function decodeText(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 8) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i];
      if (c >= 0x80) return slowDecode(buf, start, end);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return slowDecode(buf, start, end);
}

function slowDecode(buf: Uint8Array, start: number, end: number): string {
  return utf8Slice !== undefined ? utf8Slice.call(buf, start, end) : decoder.decode(buf.subarray(start, end));
}

/**
 * Writes a `text` argument: its length as a two-byte varint (every allowed length fits, since
 * MAX_STRING_BYTES < 2^14), then the UTF-8 bytes, cut at MAX_STRING_BYTES. Returns the position
 * after it. The caller reserved 2 + min(3 * length, MAX_STRING_BYTES) bytes.
 */
export function putText(buf: Uint8Array, pos: number, value: string): number {
  const length = encodeTextInto(value, buf, pos + 2, MAX_STRING_BYTES);
  buf[pos] = (length & 0x7f) | 0x80;
  buf[pos + 1] = length >>> 7;
  return pos + 2 + length;
}

/**
 * `putText` for the hot path: strings of ASCII characters (most paths and names) are copied
 * char by char, which for short strings is several times faster than TextEncoder; anything else
 * goes through `putText`. Same encoding, same cut at MAX_STRING_BYTES.
 */
export function putTextFast(buf: Uint8Array, pos: number, value: string): number {
  const length = value.length;
  if (length > 64) return putText(buf, pos, value);
  const start = pos + 2;
  for (let i = 0; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) return putText(buf, pos, value);
    buf[start + i] = c;
  }
  buf[pos] = (length & 0x7f) | 0x80;
  buf[pos + 1] = length >>> 7;
  return start + length;
}
