import { MAX_VARINT_BYTES } from './limits.js';

/**
 * Unsigned LEB128 varints up to 2^53 - 1. The encoder is on the hot path: numbers below 2^28
 * (almost all deltas and ids) take the shift-only path.
 */

/** Writes `value` at `pos` and returns the position after it. `value` must be a safe non-negative integer. */
export function putUvarint(buf: Uint8Array, pos: number, value: number): number {
  if (value < 0x80) {
    buf[pos] = value;
    return pos + 1;
  }
  if (value < 0x10000000) {
    while (value >= 0x80) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos] = value;
    return pos + 1;
  }
  while (value >= 0x80) {
    buf[pos++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[pos] = value;
  return pos + 1;
}

/** Bytes `putUvarint` takes for `value`. */
export function uvarintSize(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

/**
 * Result slot of {@link readUvarint}: the decoded value. Returning the position and leaving the
 * value here keeps the decoder free of allocation.
 */
export const varintResult = { value: 0 };

/**
 * Reads a varint at `pos`, not past `end`. Returns the position after it, -1 when the input ends
 * inside the varint, or -2 when it is longer than {@link MAX_VARINT_BYTES} or exceeds 2^53 - 1.
 */
export function readUvarint(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  let b = buf[pos++];
  if (b < 0x80) {
    varintResult.value = b;
    return pos;
  }
  let value = b & 0x7f;
  let shift = 7;
  for (let i = 1; i < MAX_VARINT_BYTES; i++) {
    if (pos >= end) return -1;
    b = buf[pos++];
    if (shift < 28) value |= (b & 0x7f) << shift;
    else value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER || (shift === 49 && b > 0x0f)) return -2;
      varintResult.value = value;
      return pos;
    }
    shift += 7;
  }
  return -2;
}
