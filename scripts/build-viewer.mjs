#!/usr/bin/env node
// Bundles the web viewer (src/viewer/app/, entry main.ts) into one script, dist/viewer/viewer.js,
// which `nfr view` serves and `nfr report` inlines into its HTML file. Runs after tsc as part of
// `npm run build`; does nothing until the viewer's entry exists.
import { existsSync, readFileSync } from 'node:fs';

const entry = new URL('../src/viewer/app/main.ts', import.meta.url);
if (!existsSync(entry)) process.exit(0);
const outfile = new URL('../dist/viewer/viewer.js', import.meta.url).pathname;
const { build } = await import('esbuild');
await build({
  entryPoints: [entry.pathname],
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  // Non-ASCII characters as \u escapes: the script is correct whatever charset it is read with.
  charset: 'ascii',
  outfile,
  logLevel: 'warning',
});
// A report inlines the bundle in a <script> element, where these sequences would end or confuse it.
const text = readFileSync(outfile, 'utf8');
for (const bad of ['</script', '<!--']) {
  if (text.toLowerCase().includes(bad)) {
    console.error(`build-viewer: the bundle contains "${bad}", which cannot be inlined in a report`);
    process.exit(1);
  }
}
