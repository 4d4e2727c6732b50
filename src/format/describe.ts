import { BatchKind, EVENTS, type EventName, type EventSpec } from './events.js';

/**
 * The event table as markdown, for docs/format.md (kept in step by a test) and for tools'
 * help texts: one row per record, with its code, batch, arguments and meaning.
 */
export function describeEventTable(): string {
  const rows = (Object.keys(EVENTS) as EventName[]).map((name) => {
    const spec: EventSpec = EVENTS[name];
    const args = spec.args.map(([arg, type]) => `${arg}:${type}`).join(', ');
    const code = `0x${spec.code.toString(16).padStart(2, '0')}`;
    return `| \`${name}\` | ${code} | ${spec.batch} | ${spec.timed ? 'yes' : 'no'} | ${args} | ${spec.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| record | code | batch | timed | arguments | meaning |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** The batch kinds as markdown. */
export function describeBatchKinds(): string {
  const rows = Object.entries(BatchKind).map(([name, code]) => `| ${code} | ${name} |`);
  return ['| kind | batch |', '| --- | --- |', ...rows].join('\n');
}
