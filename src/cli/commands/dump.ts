import { describeDumpFields, formatEvent } from '../../export/text.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { Output } from '../output.js';
import { openTraceFile, readTraceFile } from '../trace-file.js';

/** `nfr dump FILE`: every event as a line of text, in time order. */
export const dumpCommand: Command = {
  name: 'dump',
  summary: 'print every event as one line of text, in time order',
  usage: `Usage: nfr dump FILE [--allow-truncated]

Prints every event of a trace as one line, in time order across threads:

  +0.082313456 t0 httpRequest     task=2 method=GET path=/block route="" remote=""

time in seconds since the trace's first sync (to the ns), thread, kind, then the event's
arguments as name=value (numbers in ns where they are times or durations; strings bare when one
plain word, else JSON-quoted; stacks innermost frame first). Sync lines carry the generation,
the wall clock (ISO 8601) and the process. The output streams: it starts at once and memory
stays flat on traces of any size; it stops quietly when the reader goes away (| head).

Events and their arguments:
${describeDumpFields()}

Options:
  --allow-truncated   print the complete generations of a cut trace instead of failing
  -h, --help          this help

Exit status: 0 done; 1 the file cannot be read or is not a valid trace (the events of the
complete generations before the problem are printed first); 2 wrong arguments.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('dump', args, { 'allow-truncated': { type: 'boolean' } });
    const file = await openTraceFile(positionals[0]);
    const out = new Output(io.stdout);
    let origin: number | undefined;
    try {
      await readTraceFile(file, { allowTruncated: values['allow-truncated'] === true }, (event) => {
        origin ??= event.time;
        return out.write(`${formatEvent(event, origin)}\n`);
      });
    } finally {
      // What was printed before a problem reaches the reader before the error line does.
      await out.end().catch(() => undefined);
    }
    await out.end();
    return 0;
  },
};
