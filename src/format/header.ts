import { BATCH_HEADER_BYTES, HEADER_BYTES } from './limits.js';

/**
 * The file header and the batch header. Both are fixed-size and little-endian, so a batch can be
 * written in place in shared memory with its header reserved in front, and copied to a file
 * unchanged.
 */

/** The eight bytes every trace starts with. */
export const MAGIC = 'NFRTRACE';

/** Format version this code writes and reads. */
export const FORMAT_VERSION = 1;

/** File header: `NFRTRACE`, format version (u32), flags (u32, zero). */
export function encodeHeader(): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES);
  for (let i = 0; i < MAGIC.length; i++) header[i] = MAGIC.charCodeAt(i);
  new DataView(header.buffer).setUint32(8, FORMAT_VERSION, true);
  return header;
}

/** Checks the magic of a header; the caller reports where. */
export function hasMagic(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[offset + i] !== MAGIC.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Batch header layout, as byte offsets from the start of the batch. All fields are u32 except
 * kind and flags; the base time is a u64 split in two halves.
 */
export const BatchField = {
  kind: 0,
  flags: 1,
  /** Two reserved bytes, zero. */
  reserved0: 2,
  thread: 4,
  generation: 8,
  /** Bytes of payload after the header. While a batch is being written it is the committed length. */
  payloadSize: 12,
  baseTimeLow: 16,
  baseTimeHigh: 20,
  /** Sequence of the batch among its thread's batches of the same kind in the generation. */
  sequence: 24,
  /** Reserved, zero. */
  reserved1: 28,
} as const;

/** Batch flag: the writer finished the batch. A batch without it was taken while still open. */
export const BATCH_FLAG_SEALED = 1;

export interface BatchHeader {
  kind: number;
  flags: number;
  thread: number;
  generation: number;
  payloadSize: number;
  baseTime: number;
  sequence: number;
}

const TWO_32 = 2 ** 32;

/** Writes a batch header at `offset` of `view`. */
export function writeBatchHeader(view: DataView, offset: number, h: BatchHeader): void {
  view.setUint8(offset + BatchField.kind, h.kind);
  view.setUint8(offset + BatchField.flags, h.flags);
  view.setUint16(offset + BatchField.reserved0, 0, true);
  view.setUint32(offset + BatchField.thread, h.thread, true);
  view.setUint32(offset + BatchField.generation, h.generation, true);
  view.setUint32(offset + BatchField.payloadSize, h.payloadSize, true);
  view.setUint32(offset + BatchField.baseTimeLow, h.baseTime % TWO_32, true);
  view.setUint32(offset + BatchField.baseTimeHigh, Math.floor(h.baseTime / TWO_32), true);
  view.setUint32(offset + BatchField.sequence, h.sequence, true);
  view.setUint32(offset + BatchField.reserved1, 0, true);
}

/** Reads a batch header at `offset`; the caller checks there are {@link BATCH_HEADER_BYTES} bytes. */
export function readBatchHeader(view: DataView, offset: number): BatchHeader & { reservedNonZero: boolean } {
  return {
    kind: view.getUint8(offset + BatchField.kind),
    flags: view.getUint8(offset + BatchField.flags),
    thread: view.getUint32(offset + BatchField.thread, true),
    generation: view.getUint32(offset + BatchField.generation, true),
    payloadSize: view.getUint32(offset + BatchField.payloadSize, true),
    baseTime: view.getUint32(offset + BatchField.baseTimeLow, true) + view.getUint32(offset + BatchField.baseTimeHigh, true) * TWO_32,
    sequence: view.getUint32(offset + BatchField.sequence, true),
    reservedNonZero: view.getUint16(offset + BatchField.reserved0, true) !== 0 || view.getUint32(offset + BatchField.reserved1, true) !== 0,
  };
}

export { BATCH_HEADER_BYTES, HEADER_BYTES };
