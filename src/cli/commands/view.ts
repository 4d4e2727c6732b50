/**
 * `nfr view FILE [--port N] [--host 127.0.0.1]`: serves the web viewer for a trace on this
 * machine and prints its address. Runs until Ctrl+C (SIGINT) or SIGTERM.
 */
import { basename } from 'node:path';
import { parseCommandArgs } from '../args.js';
import { UsageError } from '../errors.js';
import type { Command, CommandIO } from '../command.js';
import { readBundle } from '../../viewer/assets.js';
import { checkLoopbackHost, LOOPBACK_HOSTS, startViewerServer } from '../../viewer/server.js';
import { checkTraceFile } from '../../viewer/trace-input.js';

const usage = `Usage: nfr view FILE [--port N] [--host 127.0.0.1] [--allow-truncated]

Serves the trace viewer for FILE on this machine and prints its address: open it in a
browser. A timeline of threads, requests, tasks and metrics; the findings and stats beside
it; details of what you click; a flame graph of the CPU samples. Stops on Ctrl+C.

Options:
  -p, --port N        port to listen on (default 0: any free port)
      --host HOST     loopback address to listen on: ${LOOPBACK_HOSTS.join(', ')} (default 127.0.0.1);
                      other addresses are refused, since a trace holds private data
      --allow-truncated  show the complete generations of a trace that was cut short
  -h, --help          this help

Keys in the viewer: W/S zoom, A/D pan, click selects, F zooms to the selection, / searches.
To send a trace to someone, \`nfr report FILE\` makes one HTML file that opens offline.

Examples:
  nfr view slow-request.nfrt
  nfr view slow-request.nfrt --port 8080`;

async function run(args: string[], io: CommandIO): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout.write(`${usage}\n`);
    return 0;
  }
  const { values, positionals } = parseCommandArgs('view', args, { port: { type: 'string', short: 'p' }, host: { type: 'string' }, 'allow-truncated': { type: 'boolean' } });
  const file = positionals[0];
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got "${String(values.port)}"`);
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  checkLoopbackHost(host);
  const size = await checkTraceFile(file, values['allow-truncated'] === true);
  const server = await startViewerServer({ file, name: basename(file), size, bundle: await readBundle(), port, host });
  // Listen for the signals before printing the address: whoever reads it may stop us at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.stdout.write(`Serving ${file} at ${server.url}\nOpen it in a browser; press Ctrl+C to stop.\n`);
  await stopped;
  await server.close();
  return 0;
}

export const viewCommand: Command = {
  name: 'view',
  summary: 'serve the web viewer for a trace on this machine (127.0.0.1)',
  usage,
  run,
};
