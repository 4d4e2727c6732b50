import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, UsageError } from '../cli/errors.js';
import { SERVED_CSP, servedPage } from './page.js';

/** Addresses the viewer may listen on: this machine only, since a trace holds the process's private data. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'] as const;

/** Fails (exit code 2) for an address other than loopback. */
export function checkLoopbackHost(host: string): void {
  if (!(LOOPBACK_HOSTS as readonly string[]).includes(host)) {
    throw new UsageError(`refusing to serve on ${host}: the viewer listens on this machine only (${LOOPBACK_HOSTS.join(', ')}), since a trace holds the process's private data`);
  }
}

export interface ViewerServerOptions {
  /** The trace file to serve. */
  file: string;
  /** Its name as shown in the page. */
  name: string;
  /** Its size, for Content-Length. */
  size: number;
  /** The viewer's script. */
  bundle: string;
  /** 0 for any free port. */
  port: number;
  /** One of {@link LOOPBACK_HOSTS}. */
  host: string;
}

export interface ViewerServer {
  /** The page's address, e.g. http://127.0.0.1:43567/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/**
 * Serves the viewer for one trace on loopback: the page at `/`, the script at `/viewer.js`, the
 * trace at `/trace.nfrt` (streamed from the file, never held in memory). Requests whose Host
 * header is not this server's loopback address are refused, so a web page cannot reach the
 * trace by pointing its own domain at 127.0.0.1 (DNS rebinding).
 */
export async function startViewerServer(options: ViewerServerOptions): Promise<ViewerServer> {
  checkLoopbackHost(options.host);
  const page = servedPage(options.name, 'trace.nfrt', 'viewer.js');
  let allowedHosts = new Set<string>();
  const server = createServer((req, res) => handle(req, res));

  function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...COMMON_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      send(res, 403, 'text/plain; charset=utf-8', 'This viewer answers only at its own loopback address.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'Only GET and HEAD.\n', { allow: 'GET, HEAD' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      send(res, 200, 'text/html; charset=utf-8', page, { 'content-security-policy': SERVED_CSP });
    } else if (path === '/viewer.js') {
      send(res, 200, 'text/javascript; charset=utf-8', options.bundle);
    } else if (path === '/trace.nfrt') {
      serveTrace(res, req.method === 'HEAD');
    } else {
      send(res, 404, 'text/plain; charset=utf-8', 'Not found.\n');
    }
  }

  function serveTrace(res: ServerResponse, headOnly: boolean): void {
    const stream = createReadStream(options.file);
    stream.once('open', () => {
      res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/octet-stream', 'content-length': options.size });
      if (headOnly) {
        stream.destroy();
        res.end();
      } else {
        stream.pipe(res);
      }
    });
    stream.once('error', (err) => {
      if (res.headersSent) res.destroy(err);
      else send(res, 500, 'text/plain; charset=utf-8', `Cannot read the trace: ${err.message}\n`);
    });
    res.once('close', () => stream.destroy());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new CliError(`port ${options.port} on ${options.host} is in use: pick another with --port (0 for any free port)`, 1));
      else if (err.code === 'EACCES') reject(new CliError(`not allowed to listen on port ${options.port}: pick a port above 1023 with --port (0 for any free port)`, 1));
      else reject(new CliError(`cannot listen on ${options.host}:${options.port}: ${err.message}`, 1));
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const hostInUrl = address.includes(':') ? `[${address}]` : address;
  allowedHosts = new Set([`${hostInUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]);
  return {
    url: `http://${hostInUrl}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
