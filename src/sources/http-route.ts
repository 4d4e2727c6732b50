/**
 * The route a web framework matched for a server request ("/users/:id" rather than
 * "/users/42"), which groups requests far better than their paths. Frameworks decide it while
 * handling the request, so the `http` source asks at the end of the exchange. Supported:
 *
 * - Express 4 and 5 (and what runs on them, such as NestJS's default platform), and routers that
 *   follow Express's convention: the matched route is `req.route.path`, under the mount path
 *   `req.baseUrl` of the router it belongs to, on the Node request object itself;
 * - Fastify 5: its `tracing:fastify.request.handler` diagnostics channel names the route
 *   (`route.url`) and the raw Node response (`reply.raw`); see http-server.ts.
 *
 * Frameworks that keep the route only on their own context objects (Koa's `ctx._matchedRoute`,
 * hapi's `request.route`) cannot be reached from the Node request, so their requests have no
 * route; their paths are still recorded.
 */

function routeText(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return String(path);
  if (Array.isArray(path)) return path.map(routeText).join('|');
  return '';
}

/** The route an Express-style router left on `request`, or '' when none did. */
export function expressRoute(request: object): string {
  const route = (request as { route?: unknown }).route;
  if (route === null || typeof route !== 'object') return '';
  const path = routeText((route as { path?: unknown }).path);
  if (path === '') return '';
  const base = (request as { baseUrl?: unknown }).baseUrl;
  if (typeof base !== 'string' || base === '') return path;
  return path === '/' ? base : base + path;
}

/** The route of a `tracing:fastify.request.handler:start` message (Fastify 5), or ''. */
export function fastifyRoute(message: { route?: { url?: unknown }; request?: { routeOptions?: { url?: unknown } } }): string {
  const url = message.route?.url ?? message.request?.routeOptions?.url;
  return typeof url === 'string' ? url : '';
}
