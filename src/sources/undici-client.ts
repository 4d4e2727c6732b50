import { currentTaskId } from '../api/current-task.js';
import type { SourceContext } from '../tracer/sources.js';
import { subscribeChannels } from './channel-subscriptions.js';
import { nextClientRequestId } from './http-client.js';
import { errorText, hostOfOrigin, pathOf } from './http-text.js';

/**
 * Outgoing requests of undici, which is what Node's global `fetch` runs on (and the `undici`
 * package, which publishes on the same channels): `httpClientBegin` when undici creates the
 * request, `httpClientEnd` when the whole response has arrived (`undici:request:trailers`, sent
 * after the last body byte even without trailers), or on `undici:request:error` (refused
 * connection, abort, body error). A response whose body is never read never ends; its request
 * is forgotten with it.
 */

export interface UndiciClientOptions {
  /** Keep the query string in recorded paths. */
  readonly keepQuery: boolean;
}

/** What undici's request object offers on its channels (undici 5 to 7). */
interface UndiciRequest {
  method?: unknown;
  origin?: unknown;
  path?: unknown;
}

interface Outgoing {
  readonly id: number;
  status: number;
}

/** Keyed by undici's request object; weak, so nothing outlives a request never completed. */
const outgoing = new WeakMap<object, Outgoing>();

/** Starts recording undici/fetch requests; returns the function that stops it. */
export function startUndiciRecording(ctx: SourceContext, options: UndiciClientOptions): () => void {
  const tracer = ctx.tracer;

  const end = (request: object, o: Outgoing, error: string): void => {
    outgoing.delete(request);
    tracer.httpClientEnd(o.id, o.status, error);
  };

  const onCreate = (message: unknown): void => {
    const request = (message as { request: UndiciRequest }).request;
    const id = nextClientRequestId();
    outgoing.set(request, { id, status: 0 });
    tracer.httpClientBegin(id, currentTaskId(), typeof request.method === 'string' ? request.method : '', hostOfOrigin(request.origin), pathOf(request.path, options.keepQuery));
  };

  const onHeaders = (message: unknown): void => {
    const { request, response } = message as { request: object; response?: { statusCode?: unknown } };
    const o = outgoing.get(request);
    if (o !== undefined && typeof response?.statusCode === 'number') o.status = response.statusCode;
  };

  const onTrailers = (message: unknown): void => {
    const { request } = message as { request: object };
    const o = outgoing.get(request);
    if (o !== undefined) end(request, o, '');
  };

  const onError = (message: unknown): void => {
    const { request, error } = message as { request: object; error: unknown };
    const o = outgoing.get(request);
    if (o !== undefined) end(request, o, errorText(error));
  };

  return subscribeChannels(ctx, [
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    ['undici:request:trailers', onTrailers],
    ['undici:request:error', onError],
  ]);
}
