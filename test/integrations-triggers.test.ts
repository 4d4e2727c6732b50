import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Reader, validate, type TraceEvent } from '../src/index.js';
import { runNode, type Run } from './helpers/nfr.js';

// Every trigger end to end: a real process started with `--import node-flight-recorder/auto`,
// configured by environment variables only, real servers and requests on loopback, real files.

const autoUrl = new URL('../src/integrations/auto.js', import.meta.url).href;
const indexUrl = new URL('../src/index.js', import.meta.url).href;

/** Polls the snapshot directory until `count` snapshots are there (or 20 s passed); in the child. */
const WAIT_FOR_SNAPSHOTS = `
import { readdirSync as __readdir, existsSync as __exists } from 'node:fs';
import { setTimeout as __sleep } from 'node:timers/promises';
async function waitForSnapshots(count, dir = process.env.NFR_DIR) {
  const deadline = Date.now() + 20000;
  const n = () => (__exists(dir) ? __readdir(dir).filter((f) => f.endsWith('.nfrt')).length : 0);
  while (n() < count && Date.now() < deadline) await __sleep(10);
  return n();
}
`;

function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'nfr-triggers-'));
  return body(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function runApp(script: string, env: NodeJS.ProcessEnv, auto = true): Promise<Run> {
  const args = [...(auto ? ['--import', autoUrl] : []), '--input-type=module', '-e', WAIT_FOR_SNAPSHOTS + script];
  return runNode(args, { env: { NFR_STALL_MS: 'off', ...env }, timeoutMs: 60_000 });
}

/** The same with the script in a file: what node:cluster needs to fork it. */
function runAppFile(dir: string, script: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const file = join(dir, 'app.mjs');
  writeFileSync(file, WAIT_FOR_SNAPSHOTS + script);
  return runNode(['--import', autoUrl, file], { env: { NFR_STALL_MS: 'off', ...env }, timeoutMs: 60_000 });
}

interface Saved {
  name: string;
  bytes: Buffer;
  events: TraceEvent[];
  meta: Record<string, any>;
  mode: number;
}

function snapshotsIn(dir: string): Saved[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.nfrt'))
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name));
      assert.deepEqual(validate(bytes), [], `${name} validates`);
      const meta = JSON.parse(readFileSync(join(dir, name.replace(/\.nfrt$/, '.json')), 'utf8'));
      return { name, bytes, events: [...new Reader(bytes)], meta, mode: statSync(join(dir, name)).mode & 0o777 };
    });
}

function ok(run: Run): void {
  assert.equal(run.code, 0, `the app exited with ${run.code} (${run.signal}); stderr:\n${run.stderr}`);
}

test('a slow request on a watched route saves one snapshot that holds it; other slow routes do not fire', () =>
  withDir(async (dir) => {
    const run = await runApp(
      `
      import http from 'node:http';
      import { setTimeout as sleep } from 'node:timers/promises';
      const server = http.createServer(async (req, res) => {
        if (req.url.includes('slow')) await sleep(150); // the slow downstream call
        res.end('ok');
      });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const base = 'http://127.0.0.1:' + server.address().port;
      await (await fetch(base + '/other/slow')).text();
      await (await fetch(base + '/api/fast')).text();
      await (await fetch(base + '/api/slow?token=secret')).text();
      console.log('snapshots', await waitForSnapshots(1));
      server.close();
      `,
      { NFR_DIR: dir, NFR_SLOW_REQUEST_MS: '100', NFR_SLOW_REQUEST_ROUTES: '/api/*', NFR_TRIGGER_DELAY: '50ms' },
    );
    ok(run);
    const [saved, ...more] = snapshotsIn(dir);
    assert.equal(more.length, 0, 'one snapshot: /other/slow is not a watched route');
    assert.equal(saved.mode, 0o600);
    assert.match(saved.name, /^nfr-\d{8}T\d{6}\.\d{3}Z-\d+-slow-request-get-api-slow-\d+ms\.nfrt$/);
    assert.equal(saved.meta.trigger, 'slowRequest');
    assert.equal(saved.meta.details.requests[0].path, '/api/slow', 'the query string is never recorded');
    assert.ok(saved.meta.details.requests[0].durationMs >= 100);
    assert.equal(saved.meta.bytes, saved.bytes.length);
    assert.equal(typeof saved.meta.pid, 'number');
    const requests = saved.events.filter((e) => e.kind === 'httpRequest');
    const slow = requests.find((e) => e.kind === 'httpRequest' && e.path === '/api/slow');
    assert.ok(slow, 'the snapshot holds the slow request');
    assert.ok(saved.events.some((e) => e.kind === 'httpResponse' && slow !== undefined && e.task === (slow as { task: number }).task && e.status === 200), 'and its response');
    assert.ok(saved.events.some((e) => e.kind === 'log' && e.message.startsWith('trigger: slow request GET /api/slow')), 'and the moment the trigger fired');
    assert.match(run.stderr, /snapshot \(slow request GET \/api\/slow \d+ms\) written to /);
  }));

test('a stalled loop is saved by the watchdog thread while the main thread is still stuck, with its stack', () =>
  withDir(async (dir) => {
    const run = await runApp(
      `
      import crypto from 'node:crypto';
      import http from 'node:http';
      import { existsSync, readdirSync } from 'node:fs';
      import { currentRecording } from ${JSON.stringify(indexUrl)};
      import { setTimeout as sleep } from 'node:timers/promises';
      const written = () => existsSync(process.env.NFR_DIR) && readdirSync(process.env.NFR_DIR).some((f) => f.endsWith('.nfrt'));
      // Blocks the loop until the snapshot exists: only another thread can write it meanwhile.
      function renderInvoicesSynchronously(deadline) {
        let i = 0;
        while (Date.now() < deadline) {
          crypto.createHash('sha256').update('invoice ' + i++).digest();
          if (i % 64 === 0 && written()) return true;
        }
        return false;
      }
      const recording = currentRecording();
      const deadline = Date.now() + 20000;
      while (recording.status().stallWatchdog.state === 'starting' && Date.now() < deadline) await sleep(5);
      const server = http.createServer((req, res) => res.end(String(renderInvoicesSynchronously(Date.now() + 20000))));
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const sawIt = await (await fetch('http://127.0.0.1:' + server.address().port + '/invoices')).text();
      while (recording.status().snapshots === 0 && Date.now() < deadline) await sleep(5);
      server.close();
      console.log(JSON.stringify({ sawIt, status: recording.status() }));
      `,
      { NFR_DIR: dir, NFR_STALL_MS: '200', NFR_SLOW_REQUEST_MS: 'off' },
    );
    ok(run);
    const { sawIt, status } = JSON.parse(run.stdout);
    assert.equal(sawIt, 'true', 'the handler saw the snapshot appear while it blocked the loop');
    assert.equal(status.stallWatchdog.state, 'on');
    assert.deepEqual(status.byTrigger.stall, { fired: 1, taken: 1, skipped: 0 });
    const [saved] = snapshotsIn(dir);
    assert.equal(saved.meta.trigger, 'stall');
    const stall = saved.events.find((e) => e.kind === 'stall');
    assert.ok(stall !== undefined && stall.kind === 'stall');
    assert.ok(stall.stack.some((f) => f.functionName === 'renderInvoicesSynchronously'), 'the stuck code, by name');
    assert.ok(saved.events.some((e) => e.kind === 'httpRequest' && e.path === '/invoices'), 'the request it held up');
  }));

test('SIGUSR2 saves a snapshot and the process goes on instead of dying of the signal', () =>
  withDir(async (dir) => {
    const run = await runApp(
      `
      import { trace } from ${JSON.stringify(indexUrl)};
      trace.log('app', 'before the signal');
      process.kill(process.pid, 'SIGUSR2');
      console.log('snapshots', await waitForSnapshots(1));
      `,
      { NFR_DIR: dir },
    );
    ok(run);
    assert.match(run.stdout, /snapshots 1/);
    const [saved] = snapshotsIn(dir);
    assert.equal(saved.meta.trigger, 'signal');
    assert.equal(saved.meta.details.signal, 'SIGUSR2');
    assert.ok(saved.events.some((e) => e.kind === 'log' && e.message === 'before the signal'));
  }));

test('the rate limit holds across triggers: a third signal within the window is skipped and counted', () =>
  withDir(async (dir) => {
    const run = await runApp(
      `
      import { currentRecording } from ${JSON.stringify(indexUrl)};
      import { setTimeout as sleep } from 'node:timers/promises';
      const recording = currentRecording();
      for (let i = 1; i <= 3; i++) {
        process.kill(process.pid, 'SIGUSR2');
        const deadline = Date.now() + 20000;
        const done = () => { const s = recording.status(); return s.snapshots + s.skipped.rateLimit >= i; };
        while (!done() && Date.now() < deadline) await sleep(5);
      }
      console.log(JSON.stringify(recording.status()));
      `,
      { NFR_DIR: dir, NFR_MAX_SNAPSHOTS: '2', NFR_SNAPSHOT_WINDOW: '1h' },
    );
    ok(run);
    const status = JSON.parse(run.stdout);
    assert.equal(status.snapshots, 2);
    assert.equal(status.skipped.rateLimit, 1);
    assert.deepEqual(status.byTrigger.signal, { fired: 3, taken: 2, skipped: 1 });
    assert.equal(snapshotsIn(dir).length, 2);
  }));

for (const [what, throwIt, origin] of [
  ['an uncaught exception', "setTimeout(() => { throw new Error('boom in a timer'); }, 5);", 'uncaughtException'],
  ['an unhandled rejection', "Promise.reject(new Error('boom in a promise'));", 'unhandledRejection'],
] as const) {
  test(`${what} saves a snapshot synchronously, then the process ends as it would have without us`, () =>
    withDir(async (dir) => {
      const script = `
        import { trace } from ${JSON.stringify(indexUrl)};
        trace.log('app', 'just before the failure');
        ${throwIt}
        `;
      const [withUs, without] = await Promise.all([runApp(script, { NFR_DIR: dir }), runApp(script, { NFR_DIR: join(dir, 'unused') }, false)]);
      assert.equal(withUs.code, without.code, 'same exit code as without the recorder');
      assert.equal(withUs.code, 1);
      assert.match(withUs.stderr, /boom in a/, 'Node still prints the error');
      const [saved, ...more] = snapshotsIn(dir);
      assert.equal(more.length, 0);
      assert.equal(saved.meta.trigger, 'crash');
      assert.equal(saved.meta.details.origin, origin);
      assert.match(saved.meta.details.error.message, /^boom in a/);
      assert.match(saved.meta.details.error.stack, /boom in a/);
      assert.ok(saved.events.some((e) => e.kind === 'log' && e.message === 'just before the failure'));
    }));
}

test('a directory that cannot be made is reported and counted; the app goes on serving', () =>
  withDir(async (dir) => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const run = await runApp(
      `
      import http from 'node:http';
      import { currentRecording } from ${JSON.stringify(indexUrl)};
      import { setTimeout as sleep } from 'node:timers/promises';
      process.kill(process.pid, 'SIGUSR2');
      const deadline = Date.now() + 20000;
      while (currentRecording().status().sinkErrors === 0 && Date.now() < deadline) await sleep(10);
      const server = http.createServer((req, res) => res.end('still serving'));
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const body = await (await fetch('http://127.0.0.1:' + server.address().port + '/')).text();
      server.close();
      console.log(JSON.stringify({ body, status: currentRecording().status() }));
      `,
      { NFR_DIR: join(file, 'traces') },
    );
    ok(run);
    const { body, status } = JSON.parse(run.stdout);
    assert.equal(body, 'still serving');
    assert.equal(status.sinkErrors, 1);
    assert.equal(status.snapshots, 0, 'nothing was stored');
    assert.match(run.stderr, /snapshot \(signal SIGUSR2\) failed: could not write a snapshot in .*a-file\/traces: the path is not a directory/);
  }));

test('wrong settings are warnings that name the variable, and each falls back to its default', async () => {
  const run = await runApp(
    `
    import { currentRecording } from ${JSON.stringify(indexUrl)};
    const s = currentRecording().status();
    console.log(JSON.stringify({ maxBytes: s.recorder.maxBytes, minAge: s.recorder.minAge, triggers: s.triggers, sources: s.recorder.sources }));
    `,
    { NFR_MAX_BYTES: 'lots', NFR_LEVEL: 'verbose', NFR_SLOW_REQUEST_MS: '-5', NFR_SIGNAL: 'SIGKILL', NFR_MIN_AGE: '3s', NFR_CONFIG: '/nonexistent/nfr.json', NFR_LOG: 'maybe' },
  );
  ok(run);
  for (const name of ['NFR_MAX_BYTES="lots"', 'NFR_LEVEL="verbose"', 'NFR_SLOW_REQUEST_MS="-5"', 'NFR_SIGNAL="SIGKILL"', 'NFR_CONFIG=/nonexistent/nfr.json', 'NFR_LOG="maybe"']) {
    assert.ok(run.stderr.includes(name), `a warning names ${name}:\n${run.stderr}`);
  }
  const state = JSON.parse(run.stdout);
  assert.equal(state.maxBytes, 10 * 1024 * 1024, 'the default maxBytes');
  assert.equal(state.minAge, 3000, 'the right values still apply');
  assert.deepEqual(state.triggers.filter((t: string) => t !== 'cluster'), ['slowRequest', 'signal', 'crash']);
  assert.equal(state.sources.http.state, 'on', 'the default level');
});

test('a JSON config file sets options; variables win over it', () =>
  withDir(async (dir) => {
    const config = join(dir, 'nfr.json');
    writeFileSync(config, JSON.stringify({ maxBytes: 2 * 1024 * 1024, minAge: 4000, slowRequest: { threshold: 750 }, signal: false, nonsense: 1 }));
    const run = await runApp(
      `
      import { currentRecording } from ${JSON.stringify(indexUrl)};
      const s = currentRecording().status();
      console.log(JSON.stringify({ maxBytes: s.recorder.maxBytes, minAge: s.recorder.minAge, triggers: s.triggers }));
      `,
      { NFR_CONFIG: config, NFR_MIN_AGE: '5s', NFR_DIR: dir },
    );
    ok(run);
    assert.match(run.stderr, /nfr\.json: unknown option "nonsense"/);
    const state = JSON.parse(run.stdout);
    assert.equal(state.maxBytes, 2 * 1024 * 1024);
    assert.equal(state.minAge, 5000);
    assert.ok(!state.triggers.includes('signal'));
  }));

test('NODE_OPTIONS="--import node-flight-recorder/auto" attaches by the package name, every trigger armed', async () => {
  const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
  const script = `
    import { currentRecording } from 'node-flight-recorder';
    import { setTimeout as sleep } from 'node:timers/promises';
    const recording = currentRecording();
    const deadline = Date.now() + 20000;
    while (recording.status().stallWatchdog.state === 'starting' && Date.now() < deadline) await sleep(5);
    const s = recording.status();
    console.log(JSON.stringify({ triggers: s.triggers, watchdog: s.stallWatchdog.state, enabled: s.recorder.enabled }));
    `;
  const run = await runNode(['--input-type=module', '-e', script], { cwd: packageRoot, env: { NODE_OPTIONS: '--import node-flight-recorder/auto' } });
  ok(run);
  assert.deepEqual(JSON.parse(run.stdout), { triggers: ['slowRequest', 'stall', 'signal', 'crash', 'cluster'], watchdog: 'on', enabled: true });
});

test('NFR_ENABLED=off loads without recording', async () => {
  const run = await runApp(`import { currentRecording } from ${JSON.stringify(indexUrl)}; console.log(currentRecording() === undefined);`, { NFR_ENABLED: 'off' });
  ok(run);
  assert.equal(run.stdout.trim(), 'true');
});

test('cluster: a signal to the primary, or a trigger in one worker, collects one valid snapshot per process, named by pid', () =>
  withDir(async (dir) => {
    const run = await runAppFile(
      dir,
      `
      import cluster from 'node:cluster';
      import http from 'node:http';
      import { once } from 'node:events';
      if (cluster.isPrimary) {
        const workers = [cluster.fork(), cluster.fork()];
        await Promise.all(workers.map((w) => once(w, 'listening')));
        const pids = workers.map((w) => w.process.pid);
        process.kill(process.pid, 'SIGUSR2');
        const afterPrimary = await waitForSnapshots(3);
        process.kill(pids[0], 'SIGUSR2');
        const afterWorker = await waitForSnapshots(5);
        console.log(JSON.stringify({ primary: process.pid, pids, afterPrimary, afterWorker }));
        for (const w of workers) w.kill();
      } else {
        http.createServer((req, res) => res.end('worker')).listen(0, '127.0.0.1');
      }
      `,
      { NFR_DIR: dir },
    );
    ok(run);
    const { primary, pids, afterPrimary, afterWorker } = JSON.parse(run.stdout);
    assert.equal(afterPrimary, 3, 'the primary and both workers');
    assert.equal(afterWorker, 5, 'the signalled worker and the other one');
    const saved = snapshotsIn(dir);
    const byPid = (pid: number) => saved.filter((s) => s.meta.pid === pid && s.name.includes(`-${pid}-`));
    assert.equal(byPid(primary).length, 1);
    assert.equal(byPid(pids[0]).length, 2);
    assert.equal(byPid(pids[1]).length, 2);
    assert.deepEqual(byPid(pids[1]).map((s) => s.meta.trigger), ['cluster', 'cluster']);
    for (const s of [...byPid(pids[0]), ...byPid(pids[1])]) {
      assert.ok(s.events.some((e) => e.kind === 'sync'), 'each worker snapshot is a trace of its own');
    }
  }));
