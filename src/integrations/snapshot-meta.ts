import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';

/** What a snapshot is about: written beside it as a JSON sidecar and given to callback sinks. */
export interface SnapshotMeta {
  /** Why it was taken, in a few words: `slow request`, `loop stall`, `signal SIGUSR2`, or a `dump(reason)`'s reason. */
  reason: string;
  /** The trigger that took it: `slowRequest`, `stall`, `signal`, `uncaughtException`, `manual`, `cluster`, `debugHandler`. */
  trigger: string;
  /** What the trigger saw: the request and its duration, the stalled time and stack, the error. */
  details: Record<string, unknown>;
  /** When it was taken (ISO 8601, UTC). */
  time: string;
  pid: number;
  ppid: number;
  hostname: string;
  /** Thread that wrote it: 0 for the main thread, a watchdog's thread id otherwise. */
  thread: number;
  node: string;
  platform: string;
  argv: string[];
  /** Size of the trace in bytes. */
  bytes: number;
}

/** The metadata of a snapshot taken now. */
export function snapshotMeta(trigger: string, reason: string, details: Record<string, unknown>, bytes: number, now = new Date()): SnapshotMeta {
  return {
    reason,
    trigger,
    details,
    time: now.toISOString(),
    pid: process.pid,
    ppid: process.ppid,
    hostname: hostname(),
    thread: threadId,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    argv: process.argv.slice(1),
    bytes,
  };
}
