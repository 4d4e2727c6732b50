#!/usr/bin/env node
// Rewrites the generated sections of docs/format.md (from the event table) and docs/sources.md
// (from the registered sources' settings); run after `npm run build`. Tests fail when the
// documents and the code disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { describeBatchKinds, describeEventTable } from '../dist/src/format/describe.js';
import '../dist/src/index.js';
import { describeSources } from '../dist/src/tracer/sources.js';
import { describeEnvironment } from '../dist/src/integrations/env-config.js';

const sections = {
  'format.md': [['batch-kinds', describeBatchKinds()], ['event-table', describeEventTable()]],
  'sources.md': [['sources', describeSources()]],
  'production.md': [['environment', describeEnvironment()]],
};
for (const [file, parts] of Object.entries(sections)) {
  const path = new URL(`../docs/${file}`, import.meta.url);
  let text = readFileSync(path, 'utf8');
  for (const [name, body] of parts) {
    const begin = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = text.indexOf(begin);
    const to = text.indexOf(end);
    if (from < 0 || to < 0) throw new Error(`docs/${file} lacks the ${begin} ... ${end} markers`);
    text = `${text.slice(0, from + begin.length)}\n${body}\n${text.slice(to)}`;
  }
  writeFileSync(path, text);
}
