import { Task } from './task.js';

/**
 * The task of each HTTP server request, found through the request object itself: the `http`
 * source keeps its state for the request on it, under a private symbol, and that state names
 * the task. A property rather than a WeakMap: a WeakMap entry per request doubled the
 * young-generation GC time of a busy server (its entries are ephemerons, which every scavenge
 * revisits), and the property goes with the request whenever the application drops it.
 */
export const REQUEST_STATE = Symbol('node-flight-recorder.request');
const TASK = Symbol('node-flight-recorder.task');

/**
 * A server request's task as the implicit current task carries it (see current-task.ts): the
 * task's id, what names it, and the Task object once made, but no reference to the request.
 *
 * The async context that carries it outlives the request: it is captured by what the handler
 * started and, through the connection's own resources, until the next request on the
 * connection. Holding the request there kept each keep-alive connection's last request (about
 * 2.3 KB with its response) alive past its end; under load every scavenge then copied some 45 KB
 * more, V8 doubled the young generation in answer, and each scavenge paused the loop about 60%
 * longer (0.20–0.24 against 0.14–0.15 ms on Node 24, `--trace-gc-nvp`). This object is a few dozen bytes.
 */
export class RequestTaskRef {
  private made: Task | undefined = undefined;

  constructor(
    readonly id: number,
    private readonly method: string,
    private readonly url: string,
  ) {}

  /** The request's Task, the same object every time (and the one `taskOf(req)` returns). */
  task(): Task {
    return (this.made ??= Task.adopt(this.id, requestTaskName(this.method, this.url)));
  }
}

/** A request task's name: method and path, without the query string. */
function requestTaskName(method: string, url: string): string {
  const query = url.indexOf('?');
  return `${method} ${query < 0 ? url : url.slice(0, query)}`;
}

/** What the `http` source keeps on a request: at least the id of the request's task. */
export interface RequestState {
  readonly task: number;
  /** The task as the implicit current task carries it; undefined while the implicit task is off. */
  readonly taskRef: RequestTaskRef | undefined;
  /** Trace time (ns) at which the request's start was recorded; negative when unknown. */
  readonly started?: number;
  /** Trace time (ns) at which its end was recorded; negative until then or when unknown. */
  readonly ended?: number;
}

interface Marked {
  [REQUEST_STATE]?: RequestState;
  [TASK]?: Task;
  method?: unknown;
  url?: unknown;
  /** A ServerResponse's request. */
  req?: Marked;
}

/** The request behind a request or response object. */
function requestOf(requestOrResponse: object): Marked {
  const marked = requestOrResponse as Marked;
  return marked.req ?? marked;
}

/** Keeps the `http` source's state (naming its task) on a server request. */
export function bindRequestTask(request: object, state: RequestState): void {
  (request as Marked)[REQUEST_STATE] = state;
}

/** The state the `http` source keeps on a request (or on a response's request), if any. */
export function requestState(requestOrResponse: object): RequestState | undefined {
  return requestOf(requestOrResponse)[REQUEST_STATE];
}

/** The task id of a server request or response object, or 0. */
export function taskIdOf(requestOrResponse: object): number {
  return requestOf(requestOrResponse)[REQUEST_STATE]?.task ?? 0;
}

/**
 * The task of a server request or response object, or undefined when none was recorded. The
 * same object is returned for the same request; its `end()` does nothing (the task ends with
 * the response).
 */
export function requestTask(requestOrResponse: object): Task | undefined {
  const request = requestOf(requestOrResponse);
  const state = request[REQUEST_STATE];
  if (state === undefined) return undefined;
  if (state.taskRef !== undefined) return state.taskRef.task();
  let task = request[TASK];
  if (task === undefined) {
    const method = typeof request.method === 'string' ? request.method : '';
    const url = typeof request.url === 'string' ? request.url : '';
    task = Task.adopt(state.task, requestTaskName(method, url));
    request[TASK] = task;
  }
  return task;
}
