import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentRecording, DirectorySink, Reader, startRecording, trace, validate, type Recording, type SnapshotMeta, type StartRecordingOptions } from '../src/index.js';
import { configFromEnvironment, describeEnvironment } from '../src/integrations/env-config.js';
import { filesToRotate, snapshotFileName } from '../src/integrations/directory-sink.js';
import { SnapshotBudget } from '../src/integrations/snapshot-budget.js';
import { waitFor } from './helpers/wait.js';

/** Only what a test asks for: no process-wide signal or crash hooks, no watchdog, no stderr lines. */
const QUIET: StartRecordingOptions = { signal: false, crash: false, stall: false, slowRequest: false, cluster: false, log: false, level: 'none' };

async function withRecording(options: StartRecordingOptions, body: (recording: Recording, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-recording-'));
  const recording = startRecording({ ...QUIET, dir, ...options });
  try {
    await body(recording, dir);
  } finally {
    await recording.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function snapshots(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.nfrt')).sort();
}

test('the rate limit holds: past maxSnapshots in the window, dumps are skipped and counted', () =>
  withRecording({ maxSnapshots: 2 }, async (recording, dir) => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await recording.dump(`dump ${i}`));
    assert.deepEqual(results.map((r) => r.taken), [true, true, false, false]);
    const skipped = results[2];
    assert.ok(!skipped.taken && skipped.skipped === 'rateLimit');
    assert.match(skipped.message, /rate limit \(2 per 3600 s\)/);
    assert.equal(snapshots(dir).length, 2);
    const status = recording.status();
    assert.equal(status.snapshots, 2);
    assert.equal(status.skipped.rateLimit, 2);
    assert.deepEqual(status.byTrigger.manual, { fired: 4, taken: 2, skipped: 2 });
  }));

test('the shared budget frees a place once its oldest snapshot leaves the window', () => {
  const budget = SnapshotBudget.create(2, 1000);
  assert.equal(budget.tryTake(10_000), true);
  assert.equal(budget.tryTake(10_500), true);
  assert.equal(budget.tryTake(10_900), false);
  assert.equal(budget.remaining(10_900), 0);
  assert.equal(budget.tryTake(11_001), true, 'the first left the window');
  assert.equal(budget.skipped, 1);
  const shared = new SnapshotBudget(budget.state);
  assert.equal(shared.tryTake(11_100), false, 'another view of the same memory sees the same budget');
});

test('two dumps at once: one is written, the other is skipped as busy, writing nothing', () =>
  withRecording({}, async (recording, dir) => {
    const [a, b] = await Promise.all([recording.dump('first'), recording.dump('second')]);
    assert.equal(a.taken, true);
    assert.ok(!b.taken && b.skipped === 'busy');
    assert.equal(snapshots(dir).length, 1);
  }));

test('a slow request fires once per cooldown; what came during the delay joins the same snapshot', () =>
  withRecording({ slowRequest: { threshold: 30, delay: 100, cooldown: 60_000 } }, async (recording, dir) => {
    // The first two requests answer together, so both end within the trigger's delay.
    let arrived = 0;
    let bothArrived: () => void = () => undefined;
    const together = new Promise<void>((resolve) => (bothArrived = resolve));
    const server = http.createServer(async (req, res) => {
      if (++arrived === 2) bothArrived();
      if (arrived <= 2) await together;
      await sleep(40); // the slow downstream call
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      await Promise.all([fetch(`${base}/slow`).then((r) => r.text()), fetch(`${base}/slow`).then((r) => r.text())]);
      await waitFor(() => snapshots(dir).length === 1 && recording.status().snapshots === 1, 'the slow-request snapshot');
      const meta = JSON.parse(readFileSync(join(dir, snapshots(dir)[0].replace('.nfrt', '.json')), 'utf8')) as SnapshotMeta;
      assert.equal((meta.details.requests as unknown[]).length, 2, 'both slow requests, in one snapshot');
      await (await fetch(`${base}/slow`)).text();
      await waitFor(() => recording.status().skipped.cooldown === 1, 'the third slow request held back by the cooldown');
      assert.equal(snapshots(dir).length, 1);
      assert.deepEqual(recording.status().byTrigger.slowRequest, { fired: 2, taken: 1, skipped: 1 });
    } finally {
      server.close();
    }
  }));

test('a callback sink gets the bytes and the metadata; its failure is counted, the directory still gets the file', async () => {
  const got: { bytes: Buffer; meta: SnapshotMeta }[] = [];
  await withRecording({ onSnapshot: (bytes, meta) => void got.push({ bytes, meta }) }, async (recording) => {
    trace.log('test', 'for the callback');
    const result = await recording.dump('upload me', { ticket: 42 });
    assert.ok(result.taken && result.errors.length === 0 && result.path !== undefined);
    assert.equal(got.length, 1);
    assert.deepEqual(validate(got[0].bytes), []);
    assert.ok([...new Reader(got[0].bytes)].some((e) => e.kind === 'log' && e.message === 'for the callback'));
    assert.equal(got[0].meta.reason, 'upload me');
    assert.deepEqual(got[0].meta.details, { ticket: 42 });
    assert.equal(got[0].meta.trigger, 'manual');
    assert.deepEqual(readFileSync(result.path), got[0].bytes);
  });
  await withRecording({ onSnapshot: () => Promise.reject(new Error('upload refused')) }, async (recording) => {
    const result = await recording.dump('failing upload');
    assert.ok(result.taken);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].code, 'ERR_SINK_FAILED');
    assert.match(result.errors[0].message, /onSnapshot threw: upload refused/);
    assert.ok(result.path !== undefined, 'the directory sink still wrote it');
    assert.equal(recording.status().sinkErrors, 1);
  });
});

test('a sink that cannot write reports ERR_SINK_FAILED in the result and the status, never throws', () =>
  withRecording({}, async (recording, dir) => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    await recording.stop();
    const broken = startRecording({ ...QUIET, dir: join(blocker, 'sub') });
    try {
      const result = await broken.dump('no place');
      assert.ok(result.taken);
      assert.equal(result.path, undefined);
      assert.equal(result.errors[0].code, 'ERR_SINK_FAILED');
      assert.match(result.errors[0].message, /the path is not a directory/);
      assert.equal(broken.status().sinkErrors, 1);
      assert.equal(broken.status().snapshots, 0);
    } finally {
      await broken.stop();
    }
  }));

test('rotation keeps the newest snapshots within maxFiles and maxTotalBytes, sidecars with them', () =>
  withRecording({ maxFiles: 3 }, async (recording, dir) => {
    const sink = new DirectorySink({ dir, maxFiles: 3, maxTotalBytes: 1e9 });
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 5; i++) {
      const meta = { reason: `r${i}`, time: new Date(base + i * 1000).toISOString(), pid: 1 } as SnapshotMeta;
      await sink.write(new Uint8Array(10), meta);
    }
    const left = readdirSync(dir).sort();
    assert.deepEqual(left.filter((f) => f.endsWith('.nfrt')).map((f) => f.replace(/.*-1-/, '')), ['r2.nfrt', 'r3.nfrt', 'r4.nfrt']);
    assert.equal(left.filter((f) => f.endsWith('.json')).length, 3);
    assert.ok(recording.status().active);
    assert.deepEqual(
      filesToRotate([{ name: 'nfr-1-a.nfrt', size: 60 }, { name: 'nfr-2-b.nfrt', size: 60 }, { name: 'other.txt', size: 999 }], 'nfr-2-b.nfrt', 10, 100),
      ['nfr-1-a.nfrt'],
      'by bytes too; files not ours are left alone',
    );
    assert.deepEqual(filesToRotate([{ name: 'nfr-2-b.nfrt', size: 500 }], 'nfr-2-b.nfrt', 10, 100), [], 'the newest is always kept');
    assert.equal(snapshotFileName({ time: '2026-11-30T01:02:03.456Z', pid: 7, reason: 'Slow request GET /a?b' }), 'nfr-20261130T010203.456Z-7-slow-request-get-a-b.nfrt');
  }));

test('startRecording: one at a time, wrong options are typed errors naming the option', async () => {
  const recording = startRecording({ ...QUIET, dir: join(tmpdir(), 'nfr-never-written') });
  try {
    assert.equal(currentRecording(), recording);
    assert.throws(() => startRecording(QUIET), { code: 'ERR_RECORDING_ACTIVE' });
  } finally {
    await recording.stop();
  }
  assert.equal(currentRecording(), undefined);
  for (const [options, pattern] of [
    [{ maxSnapshots: 0 }, /"maxSnapshots" must be an integer > 0/],
    [{ signal: 'SIGKILL' }, /"signal" must be a signal other than SIGKILL/],
    [{ signal: 'SIGNOPE' }, /"signal" must be false or a signal name/],
    [{ slowRequest: { threshold: -1 } }, /slowRequest: option "threshold" must be a finite number > 0/],
    [{ slowRequest: { routes: ['/a', 3] } }, /"routes" must be an array/],
    [{ stall: { threshold: 10 } }, /"stall.threshold" must be at least 50 ms/],
    [{ dir: false }, /with dir: false, give onSnapshot/],
    [{ bogus: true }, /unknown option "bogus"/],
  ] as const) {
    assert.throws(() => startRecording(options as StartRecordingOptions), (err: NodeJS.ErrnoException) => err.code === 'ERR_INVALID_OPTION' && pattern.test(err.message));
    assert.equal(currentRecording(), undefined, 'a failed start leaves nothing running');
  }
  await assert.rejects(startRecording({ ...QUIET, dir: false, onSnapshot: () => undefined }).dump(''), { code: 'ERR_INVALID_ARGUMENT' });
  await currentRecording()?.stop();
});

test('environment: every variable parses its units; wrong values warn and are left out', () => {
  const { options, warnings, enabled } = configFromEnvironment({
    NFR_MIN_AGE: '2s',
    NFR_MAX_BYTES: '4MiB',
    NFR_LEVEL: 'cpu',
    NFR_SOURCES: 'console,-http',
    NFR_SLOW_REQUEST_MS: '250',
    NFR_SLOW_REQUEST_ROUTES: '/api/*, /checkout',
    NFR_TRIGGER_DELAY: '1s',
    NFR_STALL_MS: 'off',
    NFR_SIGNAL: 'sigusr1',
    NFR_MAX_SNAPSHOTS: '3',
    NFR_SNAPSHOT_WINDOW: '30m',
    NFR_PERIOD: 'soon',
  });
  assert.equal(enabled, true);
  assert.deepEqual(options, {
    minAge: 2000,
    maxBytes: 4 * 1024 * 1024,
    level: 'cpu',
    sources: { console: true, http: false },
    slowRequest: { threshold: 250, routes: ['/api/*', '/checkout'], delay: 1000 },
    stall: false,
    maxSnapshots: 3,
    snapshotWindow: 1_800_000,
  });
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /NFR_PERIOD="soon" is not a duration/);
  assert.match(warnings[1], /NFR_SIGNAL="sigusr1": option "signal" must be a signal other than SIGUSR1/);
  assert.deepEqual(configFromEnvironment({ NFR_SLOW_REQUEST_MS: 'off', NFR_SLOW_REQUEST_ROUTES: '/x' }).options, { slowRequest: false }, 'a trigger turned off stays off');
});

test('docs/production.md lists every environment variable', () => {
  const doc = readFileSync(new URL('../../docs/production.md', import.meta.url), 'utf8');
  assert.ok(doc.includes(describeEnvironment()), 'docs/production.md is out of date: run `npm run build && node scripts/update-docs.mjs`');
});
