import { parseCommandArgs, integerOption } from '../args.js';
import { analyzeFile } from '../analyze-file.js';
import type { Command } from '../command.js';
import { Output } from '../output.js';
import { renderStats } from '../text/stats-report.js';

/** `nfr stats FILE`: what a trace holds and where its requests spent their time. */
export const statsCommand: Command = {
  name: 'stats',
  summary: 'summarise a trace: window, events, slowest requests and tasks with their breakdown, loop, GC, CPU',
  usage: `Usage: nfr stats FILE [--json] [--top N] [--allow-truncated]

Summarises a trace: its window (wall-clock start and end), process, threads, events and bytes
by kind; the slowest HTTP requests and tasks with where their time went (their own regions,
loop blocks and GC that overlapped them, outgoing calls, and the rest: waiting); the slowest
outgoing calls; blocked loop turns, loop utilization; GC; the top CPU stacks when the trace has
samples; lost events.

Options:
  --json              print the statistics as JSON (trace times and durations in ns, wall times
                      in ms since the epoch)
  --top N             how many slowest requests, tasks, calls, pauses and stacks (default 10)
  --allow-truncated   read the complete generations of a cut trace instead of failing
  -h, --help          this help

Exit status: 0 done; 1 the file cannot be read or is not a valid trace; 2 wrong arguments.

Example:
  nfr stats flight-recordings/slow-1712345678.nfrt
  nfr stats trace.nfrt --json | jq '.requests.slowest[0]'`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('stats', args, {
      json: { type: 'boolean' },
      top: { type: 'string' },
      'allow-truncated': { type: 'boolean' },
    });
    const top = integerOption('stats', 'top', values.top, 10);
    const file = positionals[0];
    const { stats } = await analyzeFile(file, { top, allowTruncated: values['allow-truncated'] === true });
    const out = new Output(io.stdout);
    if (values.json === true) await out.write(`${JSON.stringify(stats, null, 2)}\n`);
    else for (const line of renderStats(stats, file)) await out.line(line);
    await out.end();
    return 0;
  },
};
