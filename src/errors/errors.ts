/**
 * Every error this library throws or rejects with is an {@link NfrError}: it has a stable
 * `code` (`ERR_...`) to branch on, and a message that says what to do about it.
 */
export class NfrError extends Error {
  /** Stable machine-readable code, for example `ERR_FLIGHT_RECORDER_ACTIVE`. */
  readonly code: ErrorCode;
  /** For errors about trace input: the byte offset in the input where the problem was found. */
  readonly offset?: number;

  constructor(code: ErrorCode, message: string, options?: { offset?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NfrError';
    this.code = code;
    if (options?.offset !== undefined) this.offset = options.offset;
  }
}

/** All error codes, with what each one means. */
export const ErrorCodes = {
  ERR_FLIGHT_RECORDER_ACTIVE: 'start() was called on a flight recorder that is already started',
  ERR_FLIGHT_RECORDER_DISABLED: 'writeTo() was called on a flight recorder that is not started',
  ERR_SNAPSHOT_IN_PROGRESS: 'writeTo() was called while another writeTo() of the same recorder is in flight',
  ERR_TRACE_ACTIVE: 'trace.start() was called while a streaming trace is already running',
  ERR_INVALID_OPTION: 'an option is unknown or has a wrong value',
  ERR_INVALID_ARGUMENT: 'an argument has a wrong type or value',
  ERR_INVALID_DESTINATION: 'a destination is not a writable stream',
  ERR_NOT_A_TRACE: 'the input does not start with the trace header',
  ERR_TRACE_VERSION: 'the trace was written by an unsupported format version',
  ERR_TRACE_TRUNCATED: 'the trace ends in the middle of a batch or generation',
  ERR_TRACE_CORRUPT: 'the trace bytes break a rule of the format',
  ERR_TRACE_LIMIT: 'the trace exceeds a reader limit (batch or generation size)',
  ERR_RECORDER_IN_WORKER: 'a recorder was started on a worker thread that records into the main thread\'s tracer',
  ERR_SOURCE_UNSUPPORTED: 'a recording source needs a facility this Node version does not have',
  ERR_SNAPSHOT_SKIPPED: 'a snapshot was not taken: the rate limit, a trigger cooldown or another snapshot in flight held it back',
  ERR_SINK_FAILED: 'a snapshot sink could not store a snapshot (missing or unwritable directory, full disk, a callback that threw)',
  ERR_UNSAFE_DEBUG_HANDLER: 'a debug handler was asked to serve without a token where it is reachable from outside this machine',
  ERR_STALL_WATCHDOG: 'the stall watchdog thread failed (it could not start, died, or hit an internal error); the application goes on without it',
  ERR_RECORDING_ACTIVE: 'startRecording() was called while a recording it started is still running',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** True when `err` is an {@link NfrError}, optionally with the given code. */
export function isNfrError(err: unknown, code?: ErrorCode): err is NfrError {
  return err instanceof NfrError && (code === undefined || err.code === code);
}
