import { createHook, executionAsyncResource, type AsyncHook } from 'node:async_hooks';
import { registerSource, type Settings, type SourceContext, type SourceHandle, type SourceModule } from '../tracer/sources.js';

/**
 * The `async` source (level `detailed`): every callback the event loop runs on this thread, as
 * a `callbackBegin`/`callbackEnd` pair with its asyncId, and every async resource's creation
 * (`asyncCreate`: id, the id of the resource whose callback created it, type), so a viewer can
 * follow causality from a timer to the file read it started to the promise that read resolved.
 *
 * Why `async_hooks` with its own promise tracking, not `v8.promiseHooks`
 * (bench/async-hooks-cost.ts measures both): a flow through a promise is only visible when
 * something tracks which promise callback is running. `v8.promiseHooks` with an id stored on each
 * promise costs about 45-60 ns per await against 80-95 ns for `async_hooks`' promise tracking,
 * but the four events an await writes cost more (about 220 ns; the source adds about 300 ns of
 * CPU per await in all), so the saving would be about a tenth of the source's cost, and it would
 * buy trouble: those hooks give promise objects, not asyncIds, so the source would need ids of
 * its own kept apart from the asyncIds, and would have to rewrite the trigger of every resource
 * created inside a promise callback (with promise tracking off, Node reports a timer set in a
 * `then` as triggered by 0). On Node 20 it would add cost, since the `async_hooks` hook still
 * needed for timers and I/O turns Node's own promise tracking on there anyway. So: one
 * `createHook({ init, before, after })`; ids are the thread's asyncIds (what `executionAsyncId()`
 * returns); no `destroy` or `promiseResolve` hook, which would cost a weak reference or an extra
 * call per promise.
 */

/** Whether this Node's `createHook` has the `trackPromises` option (nodejs/node#61415; Node 24.21 and 26 have it, 20 not), detected once. */
let trackPromisesOption: boolean | undefined;

function hasTrackPromisesOption(): boolean {
  if (trackPromisesOption === undefined) {
    // Node versions that know the option validate it; older ones ignore unknown keys.
    try {
      createHook({ trackPromises: 'probe' } as Parameters<typeof createHook>[0]);
      trackPromisesOption = false;
    } catch {
      trackPromisesOption = true;
    }
  }
  return trackPromisesOption;
}

/**
 * Callback nesting on the thread. `before`/`after` nest strictly on a thread, so a stack is
 * enough to know which `after` closes a callback this source saw begin: an `after` with an
 * empty stack belongs to a callback that was running when the source started, and is dropped
 * so that the trace has no end without a begin. A 0 on the stack is a callback seen but not
 * recorded (a promise callback when promises are left out but Node tracks them anyway).
 */
class CallbackStack {
  private readonly ids: number[] = [];
  depth = 0;

  push(id: number): void {
    this.ids[this.depth++] = id;
  }

  /** The id pushed last, or -1 when the stack is empty. */
  pop(): number {
    if (this.depth === 0) return -1;
    return this.ids[--this.depth];
  }
}

function start(ctx: SourceContext, settings: Settings): SourceHandle {
  const tracer = ctx.tracer;
  const skipPromises = settings.promises === false;
  // Where Node can leave promises out of this hook, it does, and the promise hooks cost nothing.
  // Promises are filtered here too (creation by type, callbacks by resource): on Node 20 this
  // hook's init turns Node's promise tracking on, and on any version another hook may.
  const trackPromises = !skipPromises || !hasTrackPromisesOption();
  const stack = new CallbackStack();
  let stopped = false;

  // Each hook catches everything: an exception thrown from an async hook ends the process.
  // They are written out rather than wrapped by ctx.guard, whose rest parameters would
  // allocate an array on every call of the hottest code in the library.
  const hook: AsyncHook = createHook({
    init(asyncId: number, type: string, triggerAsyncId: number): void {
      try {
        if (skipPromises && type === 'PROMISE') return;
        // An AsyncResource may say -1 (no trigger); the format's ids are unsigned, 0 is none.
        tracer.asyncCreate(asyncId, triggerAsyncId > 0 ? triggerAsyncId : 0, type);
      } catch (err) {
        ctx.error(err);
      }
    },
    before(asyncId: number): void {
      try {
        if (!(asyncId > 0) || (skipPromises && executionAsyncResource() instanceof Promise)) {
          stack.push(0);
          return;
        }
        stack.push(asyncId);
        tracer.callbackBegin(asyncId);
      } catch (err) {
        ctx.error(err);
      }
    },
    after(): void {
      try {
        // Node's afters mirror its befores; ending the id begun keeps the trace's pairs exact even if not.
        const begun = stack.pop();
        if (begun > 0) tracer.callbackEnd(begun);
      } catch (err) {
        ctx.error(err);
      }
    },
    ...(trackPromises ? {} : { trackPromises: false }),
  } as Parameters<typeof createHook>[0]);
  hook.enable();

  return {
    stop(): void {
      if (stopped) return;
      stopped = true;
      hook.disable();
      // Callbacks still running (stop() called from inside one) end here for the trace, so
      // every begin it holds has its end; the tracer may go on recording with other settings.
      for (let id = stack.pop(); id !== -1; id = stack.pop()) {
        if (id > 0) tracer.callbackEnd(id);
      }
    },
  };
}

export const asyncSource: SourceModule = {
  name: 'async',
  settings: {
    promises: {
      default: true,
      kind: 'bool',
      merge: 'or',
      doc: 'Record promises: their creation and the callbacks they run (then/catch/finally, and every continuation after an await), so causality flows through them. They are most of the cost: about 0.3 µs of CPU per await. Off leaves them out; where createHook has the trackPromises option (Node 24.21, 26) awaits then cost nothing, on Node 20 still about 0.1 µs. Resources created inside a promise callback then have no known trigger.',
    },
  },
  start,
};

registerSource(asyncSource);
