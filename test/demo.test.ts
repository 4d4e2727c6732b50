import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validate } from '../src/index.js';
import { runNode } from './helpers/nfr.js';

const demo = fileURLToPath(new URL('../examples/demo.js', import.meta.url));

test('npm run demo: the slow-request trigger saves a snapshot, and the findings name both causes', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'nfr-demo-'));
  try {
    const run = await runNode([demo], { cwd, timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const dir = join(cwd, 'flight-recordings');
    const files = readdirSync(dir).filter((f) => f.endsWith('.nfrt'));
    assert.equal(files.length, 1, 'one snapshot: the trigger cools down after it');
    assert.deepEqual(validate(readFileSync(join(dir, files[0]))), []);
    assert.ok(run.stdout.includes(`snapshot: flight-recordings/${files[0]}`), 'the demo says where the snapshot is');
    assert.match(run.stdout, /\$ nfr stats .*\n(.*\n)*Slowest requests/);
    assert.match(run.stdout, /rule\s+request-waiting-on-outgoing-call/, 'the slow downstream call is found');
    assert.match(run.stdout, /rule\s+request-slowed-by-loop-block/, 'the blocked loop is found');
    assert.match(run.stdout, /Event loop blocked [\d.]+ ms by hashCatalogueSynchronously/, 'with the code that blocked it');
    assert.match(run.stdout, /npx nfr view flight-recordings\//);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
