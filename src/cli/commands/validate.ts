import { validateStream, type Problem } from '../../reader/validator.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';
import { Output } from '../output.js';
import { fileError, openTraceFile } from '../trace-file.js';

/** `nfr validate FILE`: the validator's problems; exit 1 when there are any. */
export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a trace against the format\'s rules; exit 1 when it breaks any',
  usage: `Usage: nfr validate FILE [--json]

Checks a trace: that it reads to the end (header, batches, every generation complete), and the
format's rules beyond reading: clock snapshots non-zero and increasing, timestamps monotonic per
thread and inside their generation, batch sequences, generation numbering, tasks and regions
each begun and ended once, synchronous regions nested. Prints "FILE: valid", or one line per
problem: its code, where (byte offset or trace time) and what.

Options:
  --json       print the problems as a JSON array (empty when valid)
  -h, --help   this help

Exit status: 0 valid; 1 problems found, or the file cannot be read; 2 wrong arguments.`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('validate', args, { json: { type: 'boolean' } });
    const file = await openTraceFile(positionals[0]);
    let problems: Problem[];
    try {
      const stream = file.handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false });
      problems = await validateStream(stream);
    } catch (err) {
      throw fileError(file.path, err);
    } finally {
      await file.handle.close().catch(() => undefined);
    }
    const readFailure = problems.find((p) => p.code === 'ERR_INTERNAL' && /E[A-Z]+:/.test(p.message));
    if (readFailure !== undefined) throw fileError(file.path, { message: readFailure.message });
    const out = new Output(io.stdout);
    if (values.json === true) {
      await out.write(`${JSON.stringify(problems, null, 2)}\n`);
    } else if (problems.length === 0) {
      await out.line(`${file.path}: valid`);
    } else {
      await out.line(`${file.path}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
      for (const p of problems) {
        const where = p.offset !== undefined ? ` at byte ${p.offset}` : p.time !== undefined ? ` at trace time ${p.time}` : '';
        await out.line(`  ${p.code}${where}: ${p.message}`);
      }
    }
    await out.end();
    if (problems.length === 0) return 0;
    // The verdict as one line on stderr too, for scripts and for output sent elsewhere.
    io.stderr.write(`nfr: ${file.path}: invalid, ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems[0].message.replace(/\s*\n\s*/g, ' ')}${problems.length > 1 ? ' ...' : ''}\n`);
    return 1;
  },
};
