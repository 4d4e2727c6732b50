/**
 * `nfr report FILE [-o OUT.html]`: the web viewer and the trace as one self-contained HTML
 * file, to attach to a bug: it opens offline, from a file:// URL, and loads nothing else.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseCommandArgs } from '../args.js';
import { CliError } from '../errors.js';
import type { Command, CommandIO } from '../command.js';
import { readBundle } from '../../viewer/assets.js';
import { writeReport } from '../../viewer/report.js';
import { checkTraceFile } from '../../viewer/trace-input.js';

const usage = `Usage: nfr report FILE [-o OUT.html] [--allow-truncated]

Writes the trace viewer with the trace inside it as one HTML file that opens offline in a
browser (from a file:// URL, loading nothing from any network): attach it to a bug report.
It shows what \`nfr view\` shows: timeline, findings and stats, details, flame graph.

Options:
  -o, --output OUT    where to write; - for standard output (default: FILE with the extension .html)
      --allow-truncated  include a trace that was cut short (its complete generations are shown)
  -h, --help          this help

The file holds the whole trace (as base64, a third larger than the trace), so whoever opens it
sees everything the trace recorded.

Examples:
  nfr report slow-request.nfrt
  nfr report slow-request.nfrt -o /tmp/incident-1234.html`;

function size(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}

async function run(args: string[], io: CommandIO): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout.write(`${usage}\n`);
    return 0;
  }
  const { values, positionals } = parseCommandArgs('report', args, { output: { type: 'string', short: 'o' }, 'allow-truncated': { type: 'boolean' } });
  const file = positionals[0];
  const output = typeof values.output === 'string' && values.output !== '' ? values.output : join(dirname(file), `${basename(file, extname(file))}.html`);
  await checkTraceFile(file, values['allow-truncated'] === true);
  if (output !== '-') {
    const target = await stat(output).catch(() => undefined);
    if (target?.isDirectory()) throw new CliError(`${output}: is a directory; give a file name with -o`, 1);
  }
  const bundle = await readBundle();
  const written = await writeReport({ file, name: basename(file), bundle, output: output === '-' ? io.stdout : output });
  if (output !== '-') io.stdout.write(`Wrote ${output} (${size(written)}): open it in a browser.\n`);
  return 0;
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'write the viewer and a trace as one HTML file that opens offline',
  usage,
  run,
};
