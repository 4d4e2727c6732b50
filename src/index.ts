/**
 * node-flight-recorder: a flight recorder for Node.js.
 *
 * @packageDocumentation
 */
import './sources/index.js';
import { tracerRuntime } from './tracer/runtime.js';

// Made now rather than on first use, so that every worker created from here on joins this tracer.
tracerRuntime();

export { FlightRecorder, type FlightRecorderOptions, type FlightRecorderStatus } from './recorder/flight-recorder.js';
export type { StreamingTraceOptions, StreamingTraceStatus } from './recorder/streaming-tracer.js';
export type { Destination } from './recorder/destination.js';
export { trace } from './api/trace.js';
export { Task } from './api/task.js';
export { Region } from './api/region.js';
export { NfrError, ErrorCodes, isNfrError, type ErrorCode } from './errors/errors.js';
export { Reader, readTrace, forEachEvent } from './reader/reader.js';
export type { ReaderOptions, BatchInfo } from './reader/trace-decoder.js';
export type { TraceEvent, EventOf, EventKind, SyncEvent, TimedEvent, GenerationsLostEvent, ProcessInfo } from './reader/events.js';
export type { StackFrame, ClockSnapshot } from './format/events.js';
export { validate, validateStream, Validator, type Problem, type ValidateOptions } from './reader/validator.js';
export { tracerStatus, type TracerStatus } from './api/tracer-status.js';
export { SOURCE_NAMES, LEVELS, type Level, type SourceName, type RecordingOptions, type SourceOption } from './tracer/sources.js';
export type { SourceStatus, SourceState } from './tracer/source-manager.js';
export { startRecording, currentRecording, Recording, type RecordingStatus, type SnapshotResult, type SkipReason, type TriggerCounts } from './integrations/recording.js';
export type { StartRecordingOptions, SlowRequestOptions, StallOptions } from './integrations/recording-options.js';
export type { SnapshotMeta } from './integrations/snapshot-meta.js';
export { DirectorySink, type DirectorySinkOptions } from './integrations/directory-sink.js';
export { createDebugHandler, isLoopbackAddress, type DebugHandler, type DebugHandlerOptions, type DebugRecorder, type DebugErrorCode } from './integrations/debug-handler.js';
