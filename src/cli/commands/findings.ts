import { parseCommandArgs } from '../args.js';
import { analyzeFile } from '../analyze-file.js';
import type { Command } from '../command.js';
import { Output } from '../output.js';
import { renderFindings } from '../text/findings-report.js';

/** `nfr findings FILE`: automated diagnosis, most severe first. */
export const findingsCommand: Command = {
  name: 'findings',
  summary: 'diagnose a trace: what went wrong, where, and how sure, most severe first',
  usage: `Usage: nfr findings FILE [--json] [--allow-truncated]

Runs the analysis rules over a trace and prints what they found, most severe first, each with
what was wrong, where (time, thread, request or task, stack) and how sure the rule is:

  request-slowed-by-loop-block      a blocked event-loop turn delayed requests; names the code
                                    that blocked (from CPU samples, else regions or callbacks)
  loop-blocked                      a long blocked turn that delayed no request
  loop-stalled                      a stall watchdog saw the loop stuck; the stuck code's stack,
                                    taken while it was stuck, and the requests it held up
  long-gc-pause                     one garbage collection paused the thread 50 ms or more
  gc-pressure                       GC took 10% or more of the time over seconds
  request-waiting-on-outgoing-call  requests spent most of their time in a slow downstream call
  region-dominates-task             one region took most of a slow task
  loop-saturated                    the event loop had no idle time for a second or more
  events-lost                       the trace misses events, so findings may miss things

Thresholds and why they are what they are: src/analysis/rules.ts.

Options:
  --json              print the findings as JSON (trace times and durations in ns)
  --allow-truncated   read the complete generations of a cut trace instead of failing
  -h, --help          this help

Exit status: 0 done (with or without findings); 1 the file cannot be read or is not a valid
trace; 2 wrong arguments.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('findings', args, {
      json: { type: 'boolean' },
      'allow-truncated': { type: 'boolean' },
    });
    const file = positionals[0];
    const { stats, findings } = await analyzeFile(file, { allowTruncated: values['allow-truncated'] === true });
    const out = new Output(io.stdout);
    if (values.json === true) await out.write(`${JSON.stringify(findings, null, 2)}\n`);
    else for (const line of renderFindings(findings, stats, file)) await out.line(line);
    await out.end();
    return 0;
  },
};
