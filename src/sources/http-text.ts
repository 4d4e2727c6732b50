/**
 * How the `http` source turns URLs and errors into trace strings. Query strings carry user data
 * (tokens, e-mail addresses), so they are cut unless a recorder asked to keep them.
 */

/** `url` (a request target or a client path) without its query string and fragment, unless `keepQuery`. */
export function pathOf(url: unknown, keepQuery: boolean): string {
  if (typeof url !== 'string') return '';
  if (keepQuery) return url;
  const q = url.indexOf('?');
  const h = url.indexOf('#');
  const end = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  return end < 0 ? url : url.slice(0, end);
}

/** `host[:port]` of an origin such as `http://127.0.0.1:8080` (a string or a URL). */
export function hostOfOrigin(origin: unknown): string {
  if (typeof origin === 'string') {
    const scheme = origin.indexOf('://');
    const rest = scheme < 0 ? origin : origin.slice(scheme + 3);
    const slash = rest.indexOf('/');
    return slash < 0 ? rest : rest.slice(0, slash);
  }
  if (origin !== null && typeof origin === 'object' && typeof (origin as { host?: unknown }).host === 'string') return (origin as { host: string }).host;
  return '';
}

/** The text recorded for a failed request: the error's message, led by its code when the message lacks it. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const message = err.message !== '' ? err.message : err.name;
    return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return err === undefined ? 'unknown error' : String(err);
}
