import type { Worker } from 'node:worker_threads';
import { registerSource, type SourceContext, type SourceHandle } from '../tracer/sources.js';

/**
 * Threads: lets worker threads that joined the tracer record (each under its own thread id and
 * name, see tracer/runtime.ts), and marks on the creating thread when each worker starts and
 * exits, with its exit code.
 */
function start(ctx: SourceContext): SourceHandle {
  ctx.setWorkersEnabled(true);
  const onWorker = ctx.guard((worker: Worker) => {
    const id = worker.threadId;
    ctx.tracer.instant('thread', 'worker started', `thread ${id}`);
    worker.once(
      'exit',
      ctx.guard((code: number) => ctx.tracer.instant('thread', 'worker exited', `thread ${id} exit code ${code}`)),
    );
  });
  process.on('worker', onWorker);
  return {
    stop() {
      process.off('worker', onWorker);
      ctx.setWorkersEnabled(false);
    },
  };
}

registerSource({ name: 'threads', settings: {}, start });
