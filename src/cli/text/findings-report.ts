import { iso, ms, offset, threadLabel, wallTimeOf } from '../../analysis/format.js';
import { frameLocation } from '../../analysis/stacks.js';
import type { Finding, TraceStats } from '../../analysis/types.js';
import type { StackFrame } from '../../format/events.js';

/** Frames of a finding's stack shown in text. */
const STACK_FRAMES = 8;

/**
 * `nfr findings` as text: most severe first, each with what, where (wall time and offset,
 * thread, request or task, stack) and how sure.
 */
export function renderFindings(findings: readonly Finding[], stats: TraceStats, file: string): string[] {
  const out: string[] = [];
  const names = new Map(stats.threads.map((t) => [t.id, t.name]));
  out.push(`${findings.length === 0 ? 'No findings' : `${findings.length} finding${findings.length === 1 ? '' : 's'}`} in ${file} (${iso(stats.wallStart)} to ${iso(stats.wallEnd)}, ${ms(stats.duration)})`);
  if (findings.length === 0) {
    out.push('', 'Nothing in this window crossed a rule\'s threshold; `nfr stats` shows the slowest requests and where their time went.');
    return out;
  }
  findings.forEach((f, i) => {
    out.push('', `${i + 1}. [${f.severity}] ${f.title}`);
    out.push(`   rule        ${f.rule}`);
    out.push(`   confidence  ${f.confidence.toFixed(2)}${f.confidenceReason !== undefined ? ` (${f.confidenceReason})` : ''}`);
    out.push(`   when        ${iso(wallTimeOf(stats, f.time))} (${offset(f.time, stats.start)}), for ${ms(f.duration)}`);
    if (f.thread !== undefined) out.push(`   thread      ${threadLabel(f.thread, names.get(f.thread))}`);
    if (f.request !== undefined) out.push(`   request     ${f.request}${f.task !== undefined ? ` (task ${f.task})` : ''}`);
    else if (f.task !== undefined) out.push(`   task        ${f.task}`);
    out.push(...wrap(f.detail, 96).map((line, n) => (n === 0 ? `   detail      ${line}` : `               ${line}`)));
    if (f.stack !== undefined && f.stack.length > 0) {
      // From the blamed frame's callee, if any, so the frame to look at is in view; it is marked.
      const blamed = f.frame === undefined ? -1 : f.stack.findIndex((frame) => sameFrame(frame, f.frame!));
      const first = Math.max(0, blamed - 1);
      const shown = f.stack.slice(first, first + STACK_FRAMES);
      if (first > 0) out.push(`   stack       ... ${first} inner frame${first === 1 ? '' : 's'}`);
      shown.forEach((frame, n) => out.push(`${n === 0 && first === 0 ? '   stack     ' : '             '}${first + n === blamed ? '> ' : '  '}${frameLocation(frame)}`));
      const rest = f.stack.length - first - shown.length;
      if (rest > 0) out.push(`               ... ${rest} more frame${rest === 1 ? '' : 's'}`);
    }
  });
  return out;
}

function sameFrame(a: StackFrame, b: StackFrame): boolean {
  return a.functionName === b.functionName && a.url === b.url && a.line === b.line && a.column === b.column;
}

/** Splits text at spaces into lines of at most `width` characters (longer words stay whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
