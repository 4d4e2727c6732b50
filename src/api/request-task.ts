import type { Task } from './task.js';

/**
 * The task of each HTTP server request, by request and by response object, filled by the
 * `http` source. A WeakMap, so a request the recorder saw never outlives the application's
 * own references to it, whether or not it ever finished.
 */
const tasks = new WeakMap<object, Task>();

/** Records that `request` and `response` (one server exchange) are `task`. */
export function bindRequestTask(request: object, response: object, task: Task): void {
  tasks.set(request, task);
  tasks.set(response, task);
}

/** The task of a server request or response object, or undefined when none was recorded. */
export function requestTask(requestOrResponse: object): Task | undefined {
  return tasks.get(requestOrResponse);
}
