#!/usr/bin/env node
// Rewrites the generated sections of docs/format.md from the event table (run after `npm run build`).
// The format test fails when the document and the table disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { describeBatchKinds, describeEventTable } from '../dist/src/format/describe.js';

const path = new URL('../docs/format.md', import.meta.url);
let text = readFileSync(path, 'utf8');
for (const [name, body] of [['batch-kinds', describeBatchKinds()], ['event-table', describeEventTable()]]) {
  const begin = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`docs/format.md lacks the ${begin} ... ${end} markers`);
  text = `${text.slice(0, from + begin.length)}\n${body}\n${text.slice(to)}`;
}
writeFileSync(path, text);
