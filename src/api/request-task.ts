import { Task } from './task.js';

/**
 * The task of each HTTP server request, kept on the request and response objects themselves
 * under private symbols, set by the `http` source. Properties rather than a WeakMap: a WeakMap
 * entry per request doubled the young-generation GC time of a busy server (its entries are
 * ephemerons, which every scavenge must revisit), and the properties go with the objects
 * whenever the application drops them.
 */
const TASK_ID = Symbol('node-flight-recorder.taskId');
const TASK = Symbol('node-flight-recorder.task');

interface Marked {
  [TASK_ID]?: number;
  [TASK]?: Task;
  method?: unknown;
  url?: unknown;
  req?: Marked;
}

/** The task id marked on an object (a request or response), or 0. */
export function taskIdOf(marked: object): number {
  return (marked as Marked)[TASK_ID] ?? 0;
}

/** Records that `request` and `response` (one server exchange) are task `id`. */
export function bindRequestTask(request: object, response: object, id: number): void {
  (request as Marked)[TASK_ID] = id;
  (response as Marked)[TASK_ID] = id;
}

/**
 * The task of a server request or response object, or undefined when none was recorded. The
 * same object is returned for the same request; its `end()` does nothing (the task ends with
 * the response).
 */
export function requestTask(requestOrResponse: object): Task | undefined {
  const marked = requestOrResponse as Marked;
  const id = marked[TASK_ID];
  if (id === undefined) return undefined;
  const request = marked.req ?? marked;
  let task = request[TASK];
  if (task === undefined) {
    const method = typeof request.method === 'string' ? request.method : '';
    const url = typeof request.url === 'string' ? request.url : '';
    const query = url.indexOf('?');
    task = Task.adopt(id, `${method} ${query < 0 ? url : url.slice(0, query)}`);
    request[TASK] = task;
  }
  return task;
}
