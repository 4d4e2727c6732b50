import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { requestState } from '../api/request-task.js';
import { expressRoute } from '../sources/http-route.js';
import { pathOf } from '../sources/http-text.js';
import { traceNow } from '../tracer/clock.js';

/** Options of the slow-request trigger. */
export interface SlowRequestTriggerOptions {
  /** A server request slower than this, in ms, from its start to its response's end, fires the trigger. */
  threshold: number;
  /**
   * Only requests whose path (without the query) or framework route matches fire: a string
   * matches exactly, or as a prefix when it ends with `*` (`/api/*`); a RegExp is tested.
   * Empty or absent: every request.
   */
  routes?: readonly (string | RegExp)[];
}

/** What the trigger saw: the request that was too slow. */
export interface SlowRequest {
  method: string;
  path: string;
  route: string;
  status: number;
  durationMs: number;
  thresholdMs: number;
}

const STARTED = Symbol('node-flight-recorder.slow-request-start');

interface Timed {
  [STARTED]?: number;
}

interface ExchangeMessage {
  request: IncomingMessage & Timed;
  response: ServerResponse;
}

/** A route filter as one test of a path and a route. */
export function routeMatcher(routes: readonly (string | RegExp)[] | undefined): (path: string, route: string) => boolean {
  if (routes === undefined || routes.length === 0) return () => true;
  const tests = routes.map((r): ((s: string) => boolean) => {
    if (r instanceof RegExp) return (s) => r.test(s);
    if (r.endsWith('*')) {
      const prefix = r.slice(0, -1);
      return (s) => s.startsWith(prefix);
    }
    return (s) => s === r;
  });
  return (path, route) => tests.some((t) => t(path) || (route !== '' && t(route)));
}

/**
 * How long a request took, in ms, when its response ends: from the `http` source's record of it
 * when there is one, else from the trigger's own start time; undefined when neither timed it.
 */
function durationOf(request: IncomingMessage & Timed): number | undefined {
  const own = request[STARTED];
  if (own !== undefined) return performance.now() - own;
  const state = requestState(request);
  const started = state?.started;
  if (started === undefined || started < 0) return undefined;
  // The source's own end, when its handler ran before this one; else now.
  const ended = state!.ended;
  return ((ended !== undefined && ended >= 0 ? ended : traceNow()) - started) / 1e6;
}

/**
 * Watches every `node:http` server request of the process (through diagnostics_channel, so
 * frameworks on top of it too) and calls `fire` for each one slower than the threshold, when its
 * response ends. Returns the function that stops watching.
 *
 * Where the `http` source records server requests (it subscribes first when the same recorder
 * runs it), the trigger times requests with the trace times of their recorded start and end
 * and reads no clock, and leaves Node's request objects as they are; elsewhere it keeps its own
 * start time on each request, a timestamp per request.
 */
export function watchSlowRequests(options: SlowRequestTriggerOptions, fire: (request: SlowRequest) => void, onError: (err: unknown) => void): () => void {
  const matches = routeMatcher(options.routes);
  const onStart = (message: unknown): void => {
    try {
      const request = (message as ExchangeMessage).request;
      const started = requestState(request)?.started;
      if (started !== undefined && started >= 0) return;
      request[STARTED] = performance.now();
    } catch (err) {
      onError(err);
    }
  };
  const onFinish = (message: unknown): void => {
    try {
      const { request, response } = message as ExchangeMessage;
      const durationMs = durationOf(request);
      if (durationMs === undefined || durationMs < options.threshold) return;
      const path = pathOf(request.url, false);
      const route = expressRoute(request);
      if (!matches(path, route)) return;
      const method = typeof request.method === 'string' ? request.method : '';
      fire({ method, path, route, status: response.statusCode, durationMs: Math.round(durationMs * 1000) / 1000, thresholdMs: options.threshold });
    } catch (err) {
      onError(err);
    }
  };
  diagnosticsChannel.subscribe('http.server.request.start', onStart);
  diagnosticsChannel.subscribe('http.server.response.finish', onFinish);
  return () => {
    diagnosticsChannel.unsubscribe('http.server.request.start', onStart);
    diagnosticsChannel.unsubscribe('http.server.response.finish', onFinish);
  };
}
