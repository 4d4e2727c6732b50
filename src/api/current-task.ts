import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestTaskRef } from './request-task.js';
import type { Task } from './task.js';

/**
 * The implicit current task: the task that code runs for, found without passing it around, so
 * that `trace.log`, `trace.withRegion` and `trace.startRegion` inside an HTTP handler (and
 * everything it awaits) land in the request's task.
 *
 * It rests on `AsyncLocalStorage`, whose cost depends on how Node implements it:
 *
 * - on AsyncContextFrame (the default from Node 24, and Node 22 with
 *   `--experimental-async-context-frame`) the context travels with V8's continuation data:
 *   `getStore()` costs a few ns and an `await` costs the same as without it (measured, see
 *   docs/http.md);
 * - on the async_hooks implementation (Node 20 and 22, or Node 24+ with
 *   `--no-async-context-frame`) a store in use turns on a promise hook, and every `await` in
 *   the whole application costs about 3x (about 95 ns against 34 ns on Node 20).
 *
 * So the storage exists only while something turns it on (the `http` source's `implicitTask`
 * setting, on by default only where it is cheap), and while it does not, finding the current
 * task costs one comparison.
 */

/**
 * Whether `AsyncLocalStorage` runs on AsyncContextFrame in this process. Node chooses one of
 * two implementations at startup (from `--[no-]async-context-frame`, which may also come from
 * NODE_OPTIONS or a config file, so flags are not a reliable witness). The async_hooks one has
 * the `_propagate` method it installs as its init hook, which is precisely the per-resource
 * cost; the AsyncContextFrame one has no such method. AsyncContextFrame does not exist before
 * Node 22, so older versions are answered by their version alone.
 */
export const asyncContextFrameActive: boolean = (() => {
  const major = Number.parseInt(process.versions.node, 10);
  if (!(major >= 22)) return false;
  return typeof (AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate !== 'function';
})();

/**
 * Holds the current request's task reference: not the request itself, which the context would
 * keep alive past its end (see RequestTaskRef). `currentTask()` is the very object `taskOf(req)` is.
 */
let storage: AsyncLocalStorage<RequestTaskRef> | undefined;
let users = 0;

/**
 * Turns the implicit current task on for one more user; `disableImplicitTask` undoes it. While
 * nobody uses it, the storage does not exist (so Node's promise hook is off on Node 20).
 */
export function enableImplicitTask(): void {
  if (users++ === 0) storage = new AsyncLocalStorage<RequestTaskRef>();
}

/** Undoes one `enableImplicitTask`; the last one disables the storage. */
export function disableImplicitTask(): void {
  if (users === 0) return;
  if (--users > 0) return;
  const s = storage;
  storage = undefined;
  // Frees the stores entered so far and, on the async_hooks implementation, removes the hook.
  s?.disable();
}

/** True while the implicit current task is on. */
export function implicitTaskEnabled(): boolean {
  return storage !== undefined;
}

/**
 * Makes `task` the current task for the rest of the running callback and everything it starts
 * (promises, timers, I/O). Used where no `run(fn)` can wrap the code, such as a
 * diagnostics_channel message published just before Node calls the request handler.
 */
export function enterTask(task: RequestTaskRef): void {
  storage?.enterWith(task);
}

/** The current task, or undefined when none is known or the implicit task is off. */
export function currentTask(): Task | undefined {
  return storage?.getStore()?.task();
}

/** The current task's id, or 0 (no task). Costs one comparison while the implicit task is off. */
export function currentTaskId(): number {
  if (storage === undefined) return 0;
  return storage.getStore()?.id ?? 0;
}
