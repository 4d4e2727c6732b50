/**
 * Limits of the format. The writer enforces them (cutting what is too long, never rejecting it)
 * and the reader checks them, so a reader's memory is bounded by them whatever the input.
 */

/** Bytes in the file header. */
export const HEADER_BYTES = 16;

/** Bytes in a batch header. */
export const BATCH_HEADER_BYTES = 32;

/**
 * Largest batch, header included. Writers place batches in chunks of this size, so a batch
 * never crosses a chunk.
 */
export const MAX_BATCH_BYTES = 64 * 1024;

/** Largest batch payload. */
export const MAX_BATCH_PAYLOAD = MAX_BATCH_BYTES - BATCH_HEADER_BYTES;

/** Longest string in a string table, in UTF-8 bytes. Longer strings are cut at a character boundary. */
export const MAX_STRING_BYTES = 4096;

/** Most frames in one stack. Deeper stacks keep their innermost frames. */
export const MAX_STACK_FRAMES = 128;

/** Most arguments of one event (the widest entry of the event table has fewer). */
export const MAX_EVENT_ARGS = 8;

/** Largest number a varint may carry: the largest integer a JavaScript number holds exactly. */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;

/** Longest varint, in bytes (eight 7-bit groups cover 2^53). */
export const MAX_VARINT_BYTES = 8;

/**
 * Largest generation a reader accepts by default, so that a corrupt or hostile file cannot make
 * it buffer without bound. Writers end a generation long before this.
 */
export const DEFAULT_MAX_GENERATION_BYTES = 512 * 1024 * 1024;
