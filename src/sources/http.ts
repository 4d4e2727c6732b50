import { asyncContextFrameActive, disableImplicitTask, enableImplicitTask } from '../api/current-task.js';
import { registerSource, type Settings, type SourceContext, type SourceHandle, type SourceModule } from '../tracer/sources.js';
import { startClientRecording } from './http-client.js';
import { startServerRecording } from './http-server.js';
import { startUndiciRecording } from './undici-client.js';

/**
 * The `http` source (level `default`): HTTP server requests as tasks (`httpRequest` /
 * `httpResponse`), and outgoing requests of node:http and fetch/undici (`httpClientBegin` /
 * `httpClientEnd`), all from Node's diagnostics channels, with nothing patched. See
 * http-server.ts, http-client.ts and undici-client.ts, and docs/http.md.
 *
 * Privacy by default: no headers ever, no query strings and no client addresses unless a
 * recorder asks (`sources: { http: { query: true, remoteAddress: true } }`).
 */
export const httpSource: SourceModule = {
  name: 'http',
  settings: {
    query: {
      default: false,
      kind: 'bool',
      merge: 'or',
      doc: 'Keep query strings in recorded paths (server and client). Off by default: query strings often carry tokens and personal data.',
    },
    remoteAddress: {
      default: false,
      kind: 'bool',
      merge: 'or',
      doc: 'Record the address of the client of each server request. Off by default: it is personal data.',
    },
    implicitTask: {
      default: asyncContextFrameActive,
      defaultDoc: 'true where AsyncLocalStorage runs on AsyncContextFrame (Node 24+), else false',
      kind: 'bool',
      merge: 'or',
      doc: 'Make each server request\'s task the implicit current task of its handler (trace.currentTask), so trace.log/withRegion/startRegion and outgoing requests inside it belong to it. On by default where AsyncLocalStorage runs on AsyncContextFrame (Node 24+): there it costs a few ns per annotation. On Node 20/22 it slows every await of the application about 3x, so it is off unless asked for; use trace.taskOf(req) there.',
    },
  },
  start(ctx: SourceContext, settings: Settings): SourceHandle {
    const keepQuery = settings.query === true;
    const implicitTask = settings.implicitTask === true;
    const stops: (() => void)[] = [];
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      for (const s of stops.splice(0).reverse()) s();
      if (implicitTask) disableImplicitTask();
    };
    if (implicitTask) enableImplicitTask();
    try {
      stops.push(startServerRecording(ctx, { keepQuery, remoteAddress: settings.remoteAddress === true }));
      stops.push(startClientRecording(ctx, { keepQuery }));
      stops.push(startUndiciRecording(ctx, { keepQuery }));
    } catch (err) {
      stop();
      throw err;
    }
    return { stop };
  },
};

registerSource(httpSource);
