import { NfrError } from '../errors/errors.js';
import { existingThreadTracer, nextTaskId } from '../tracer/runtime.js';
import { startRegion, withRegion, type Region } from './region.js';

/**
 * A task: a unit of work (a request, a job) that logs and regions belong to. Tasks nest through
 * `parent`. Ids are unique in the process, across worker threads.
 */
export class Task {
  /** Task id, unique in the process. */
  readonly id: number;
  /** Id of the parent task, 0 for none. */
  readonly parent: number;
  private ended = false;

  /** @internal Use `trace.newTask`. */
  constructor(
    readonly name: string,
    parent?: Task,
  ) {
    if (typeof name !== 'string') throw new NfrError('ERR_INVALID_ARGUMENT', `a task name must be a string, got ${typeof name}`);
    if (parent !== undefined && !(parent instanceof Task)) throw new NfrError('ERR_INVALID_ARGUMENT', 'a task parent must be a Task made by trace.newTask');
    this.parent = parent?.id ?? 0;
    this.id = nextTaskId();
    existingThreadTracer()?.taskBegin(this.id, this.parent, name);
  }

  /** Logs a message in this task. */
  log(category: string, message: string): void {
    existingThreadTracer()?.log(this.id, category, typeof message === 'string' ? message : String(message));
  }

  /** Runs `fn` in a region of this task; see `trace.withRegion`. */
  withRegion<T>(name: string, fn: () => T): T {
    return withRegion(this.id, name, fn);
  }

  /** Opens a region of this task; call `end()` on the result. */
  startRegion(name: string): Region {
    return startRegion(this.id, name);
  }

  /**
   * A Task object for a task the library began itself (an HTTP server request), so the user can
   * log and open regions in it. Its `end()` does nothing: the task ends with the request.
   * @internal
   */
  static adopt(id: number, name: string): Task {
    const task = Object.create(Task.prototype) as { -readonly [K in keyof Task]: Task[K] } & { ended: boolean };
    task.id = id;
    task.parent = 0;
    task.ended = true;
    (task as { name: string }).name = name;
    return task as unknown as Task;
  }

  /** Ends the task. Ending twice is harmless. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    existingThreadTracer()?.taskEnd(this.id);
  }
}
