import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { trace } from '../src/index.js';
import { SliceKind } from '../src/viewer/app/model.js';
import { recordSnapshot } from './helpers/record.js';
import { waitFor } from './helpers/wait.js';

/**
 * The viewer in a real browser (Debian's chromium, driven by playwright-core), on a real
 * recording of a small service: served by `nfr view` on loopback (a child process), and as the
 * file `nfr report` writes, opened from file://. It must load the trace, show the lanes, zoom
 * with the keyboard, select a request with the mouse and show its details, list the findings and
 * jump to them, draw a flame graph, all without console errors.
 *
 * Set NFR_SCREENSHOTS=docs/images to save the screenshots of the docs from the report.
 */

const NFR = join(process.cwd(), 'dist/src/cli/nfr.js');
const CHROMIUM = '/usr/bin/chromium';
/** Bound on every wait in the browser. */
const WAIT_MS = 30_000;

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the handler blocks the event loop on purpose
  }
}

async function listen(handler: http.RequestListener): Promise<{ server: Server; origin: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * A checkout service with a downstream price service: requests with regions and an outgoing
 * call each, and one /report request that renders synchronously for 250 ms, blocking the loop.
 * Recorded at level cpu (CPU samples) with callbacks (async).
 */
async function recordService(): Promise<Buffer> {
  const downstream = await listen((_req, res) => void setTimeout(() => res.end('{"price":42}'), 8));
  const service = await listen((req, res) => {
    const task = trace.taskOf(req);
    if (req.url === '/report') {
      task?.withRegion('render report', () => busyWait(250));
      res.end('report');
      return;
    }
    void (async () => {
      await task?.withRegion('load cart', () => new Promise((resolve) => setTimeout(resolve, 4)));
      const price = await fetch(`${downstream.origin}/price`);
      await price.text();
      task?.log('checkout', `priced ${req.url}`);
      res.end('ok');
    })();
  });
  try {
    return await recordSnapshot(
      async () => {
        for (let i = 0; i < 24; i++) {
          const response = await fetch(`${service.origin}/${i === 12 ? 'report' : `checkout/${i}`}`);
          await response.text();
        }
      },
      { level: 'cpu', sources: { async: true, loop: { blockThreshold: 50 } } },
    );
  } finally {
    await close(service.server);
    await close(downstream.server);
  }
}

/** Runs nfr as a child process to the end. */
function nfr(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NFR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `nfr view` and reads the address it prints. */
async function startView(args: string[]): Promise<{ child: ChildProcess; url: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [NFR, 'view', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit');
  try {
    await waitFor(() => /http:\/\/\S+\//.test(stdout) || child.exitCode !== null, 'nfr view to print its address', WAIT_MS);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const url = /http:\/\/\S+\//.exec(stdout)?.[0];
  if (url === undefined) assert.fail(`nfr view exited with ${child.exitCode}: ${stderr}`);
  return {
    child,
    url,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
}

/** A fresh headless chromium with its own profile, closed and removed afterwards. */
async function withBrowser<T>(fn: (page: Page, problems: string[]) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'nfr-chromium-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: WAIT_MS,
      viewport: { width: 1600, height: 1000 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    return await fn(page, problems);
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

type Hook = NonNullable<Window['__nfrViewer']>;
type Range = ReturnType<Hook['visibleRange']>;

const screenshots = process.env.NFR_SCREENSHOTS;

async function screenshot(page: Page, name: string): Promise<void> {
  if (screenshots === undefined) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, name) });
}

/** The details panel's facts as label → value. */
async function detailFacts(page: Page): Promise<Record<string, string>> {
  return page.$$eval('.nfr-details .nfr-facts tr', (rows) => Object.fromEntries(rows.map((r) => [r.querySelector('th')?.textContent ?? '', r.querySelector('td')?.textContent ?? ''])));
}

/** What a user does with the viewer, checked step by step. */
async function exercise(page: Page, problems: string[], shots = false): Promise<void> {
  await page.waitForFunction(() => window.__nfrViewer?.ready === true);
  assert.equal(await page.evaluate(() => window.__nfrViewer!.error), undefined);

  // Lanes: the main thread with its tracks, the requests, the outgoing calls, the counters.
  const lanes = await page.evaluate(() => window.__nfrViewer!.lanes());
  const lane = (title: string) => lanes.find((l) => l.title === title);
  const main = lane('main');
  assert.ok(main, `a lane for the main thread among ${lanes.map((l) => l.title).join(', ')}`);
  for (const track of ['Loop blocked', 'Execution', 'CPU samples']) assert.ok(main.tracks.some((t) => t.title === track && t.items > 0), `main has ${track}`);
  const requests = lane('HTTP requests')?.tracks[0];
  assert.ok(requests !== undefined && requests.items >= 24, 'the 24 requests (and their regions) are in the requests lane');
  assert.ok((lane('Outgoing HTTP')?.tracks[0]?.items ?? 0) >= 23 + 24, 'the calls to the price service and the test client are in the outgoing lane');
  assert.ok(lane('Event loop')?.tracks.some((t) => t.title === 'loop.utilization' && t.items > 0));
  assert.ok((await page.evaluate(() => window.__nfrViewer!.frames())) >= 1, 'the timeline was drawn');
  if (shots) await screenshot(page, 'viewer-timeline.png');

  // Keyboard: W zooms in, S zooms out, D pans to later times.
  const span = (r: Range) => r.end - r.start;
  await page.locator('.nfr-timeline').focus();
  const before = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  await page.keyboard.press('w');
  const zoomed = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  assert.ok(span(zoomed) < span(before) * 0.9, `W zooms in: ${span(before)} → ${span(zoomed)} ns`);
  await page.keyboard.down('w');
  await page.waitForFunction((s) => window.__nfrViewer!.visibleRange().end - window.__nfrViewer!.visibleRange().start < s / 2, span(zoomed));
  await page.keyboard.up('w');
  const deeper = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  await page.keyboard.press('d');
  const panned = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  assert.ok(panned.start > deeper.start && Math.abs(span(panned) - span(deeper)) < span(deeper) * 1e-6, 'D pans right at the same zoom');
  await page.keyboard.press('s');
  const out = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  assert.ok(span(out) > span(panned) * 1.1, 'S zooms out');

  // Click the slow request: it is selected, the details show its method, path, status and breakdown.
  const [report] = await page.evaluate((kind) => window.__nfrViewer!.findSlices('GET /report', kind), SliceKind.request);
  assert.notEqual(report, undefined, 'the /report request is a slice');
  const point = await page.evaluate((s) => window.__nfrViewer!.slicePoint(s), report);
  await page.mouse.click(point.x, point.y);
  const selected = await page.evaluate(() => window.__nfrViewer!.selection());
  assert.equal(selected?.name, 'GET /report 200');
  assert.equal(selected?.kind, 'HTTP request (server)');
  const facts = await detailFacts(page);
  assert.equal(facts.Method, 'GET');
  assert.equal(facts.Path, '/report');
  assert.equal(facts.Status, '200');
  assert.match(facts['Response bytes'], /^\d+ B$/);
  assert.match(facts.Duration, /ms|s$/);
  const breakdown = await page.locator('.nfr-section', { hasText: 'Where the time went' }).textContent();
  assert.match(breakdown ?? '', /event loop blocked\d/);
  if (shots) await screenshot(page, 'viewer-request.png');

  // The flame graph of the selected request holds its CPU samples.
  await page.getByRole('button', { name: 'Flame graph' }).click();
  await page.waitForFunction(() => window.__nfrViewer!.flame().samples > 0);
  assert.match((await page.evaluate(() => window.__nfrViewer!.flame())).note, /selected slice/);
  if (shots) await screenshot(page, 'viewer-flame.png');
  await page.getByRole('button', { name: 'Details' }).click();

  // Findings: the loop block is listed; clicking it shows it on the timeline and selects it.
  await page.waitForFunction(() => window.__nfrViewer!.analysisDone);
  const findings = (await page.evaluate(() => window.__nfrViewer!.findings())) ?? [];
  const block = findings.find((f) => /loop-block|loop-blocked/.test(f.rule) && f.duration >= 150e6);
  assert.ok(block, `a loop-block finding among ${findings.map((f) => f.rule).join(', ')}`);
  await page.keyboard.press('Escape');
  await page.keyboard.press('s');
  await page.keyboard.press('s');
  const away = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  await page.locator(`.nfr-finding[data-rule="${block.rule}"]`).first().click();
  const there = await page.evaluate(() => window.__nfrViewer!.visibleRange());
  assert.notDeepEqual(there, away, 'the view moved');
  assert.ok(there.start <= block.time && there.end >= block.time + block.duration, 'the finding is in view');
  assert.ok(span(there) < block.duration * 3, 'and fills much of it');
  const jumped = await page.evaluate(() => window.__nfrViewer!.selection());
  assert.ok(jumped !== undefined && jumped.start < block.time + block.duration && jumped.end > block.time, `the finding's slice is selected: ${jumped?.name}`);

  // Search: typing a name and Enter selects a match.
  await page.locator('.nfr-search input').fill('render report');
  await page.locator('.nfr-search input').press('Enter');
  assert.equal((await page.evaluate(() => window.__nfrViewer!.selection()))?.name, 'render report');

  assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
}

describe('viewer in chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (.ci/install-system-deps.sh installs it)` }, () => {
  let dir: string;
  let tracePath: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nfr-viewer-'));
    tracePath = join(dir, 'checkout.nfrt');
    writeFileSync(tracePath, await recordService());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('nfr report writes one HTML file that opens offline and shows the trace', async () => {
    const out = join(dir, 'checkout.html');
    const result = await nfr(['report', tracePath, '-o', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Wrote .*checkout\.html/);
    const html = readFileSync(out, 'utf8');
    assert.equal(/<script[^>]+src=/.test(html), false, 'no external script');
    assert.ok(html.includes(`default-src 'none'`), 'a policy that forbids loading anything');
    await withBrowser(async (page, problems) => {
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(out).href);
      await exercise(page, problems, true);
      assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), [], 'nothing loaded from a network');
    });
  });

  test('nfr view serves the viewer on loopback until SIGINT', async () => {
    const view = await startView([tracePath]);
    try {
      assert.match(view.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      await withBrowser(async (page, problems) => {
        await page.goto(view.url);
        await exercise(page, problems);
      });
    } finally {
      assert.equal(await view.stop(), 0, 'exits cleanly on SIGINT');
    }
  });

  test('nfr view answers only at its own address, and only what it serves', async () => {
    const view = await startView([tracePath, '--port', '0']);
    try {
      const get = (path: string, host?: string, method = 'GET') =>
        new Promise<{ status: number; type: string; length: number }>((resolve, reject) => {
          const req = http.request(new URL(path, view.url), { method, headers: host === undefined ? {} : { host } }, (res) => {
            let length = 0;
            res.on('data', (c: Buffer) => (length += c.length));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), length }));
          });
          req.on('error', reject);
          req.end();
        });
      const trace = await get('/trace.nfrt');
      assert.equal(trace.status, 200);
      assert.equal(trace.length, readFileSync(tracePath).length);
      assert.match((await get('/')).type, /text\/html/);
      assert.match((await get('/viewer.js')).type, /javascript/);
      assert.equal((await get('/nothing')).status, 404);
      assert.equal((await get('/', 'attacker.example:80')).status, 403, 'another Host (DNS rebinding) is refused');
      assert.equal((await get('/', undefined, 'POST')).status, 405);
    } finally {
      assert.equal(await view.stop(), 0);
    }
  });
});

describe('nfr view and nfr report on bad input', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nfr-viewer-bad-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const oneLine = (stderr: string) => assert.equal(stderr.trim().split('\n').length, 1, `one line on stderr: ${stderr}`);

  test('a missing, non-trace or truncated file fails with one line and exit code 1', async () => {
    const good = await recordSnapshot(() => trace.log('x', 'y'));
    writeFileSync(join(dir, 'cut.nfrt'), good.subarray(0, good.length - 10));
    writeFileSync(join(dir, 'text.nfrt'), 'hello, not a trace\n');
    for (const command of ['view', 'report']) {
      const missing = await nfr([command, join(dir, 'missing.nfrt')]);
      assert.equal(missing.code, 1);
      oneLine(missing.stderr);
      assert.match(missing.stderr, /missing\.nfrt: no such file/);
      const text = await nfr([command, join(dir, 'text.nfrt')]);
      assert.equal(text.code, 1);
      oneLine(text.stderr);
      assert.match(text.stderr, /ERR_NOT_A_TRACE/);
      const cut = await nfr([command, join(dir, 'cut.nfrt')]);
      assert.equal(cut.code, 1);
      oneLine(cut.stderr);
      assert.match(cut.stderr, /ERR_TRACE_TRUNCATED/);
    }
    assert.equal(existsSync(join(dir, 'cut.html')), false, 'no report is left behind');
    const kept = await nfr(['report', join(dir, 'cut.nfrt'), '--allow-truncated', '-o', join(dir, 'cut.html')]);
    assert.equal(kept.code, 0, kept.stderr);
  });

  test('a trace of several MiB (read in several steps) is accepted whole', async () => {
    const big = join(dir, 'big.nfrt');
    const bytes = await recordSnapshot(async () => {
      for (let i = 0; i < 120_000; i++) {
        trace.log('fill', `line ${i} of a trace larger than one read of the file`);
        if (i % 5000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    });
    assert.ok(bytes.length > 3 << 20, `${bytes.length} bytes`);
    writeFileSync(big, bytes);
    const out = join(dir, 'big.html');
    const report = await nfr(['report', big, '-o', out]);
    assert.equal(report.code, 0, report.stderr);
    const html = readFileSync(out, 'utf8');
    const embedded = /<script id="nfr-trace" type="application\/octet-stream">([^<]*)<\/script>/.exec(html)?.[1] ?? '';
    assert.ok(Buffer.from(embedded, 'base64').equals(bytes), 'the report holds the trace byte for byte');
    const view = await startView([big]);
    assert.equal(await view.stop(), 0);
  });

  test('view refuses a non-loopback address and a bad port (exit code 2); report refuses a directory as output', async () => {
    const good = join(dir, 'good.nfrt');
    writeFileSync(good, await recordSnapshot(() => trace.log('x', 'y')));
    const host = await nfr(['view', good, '--host', '0.0.0.0']);
    assert.equal(host.code, 2);
    oneLine(host.stderr);
    assert.match(host.stderr, /loopback|this machine only/);
    const port = await nfr(['view', good, '--port', 'eighty']);
    assert.equal(port.code, 2);
    oneLine(port.stderr);
    const toDir = await nfr(['report', good, '-o', dir]);
    assert.equal(toDir.code, 1);
    oneLine(toDir.stderr);
    const help = await nfr(['report', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: nfr report FILE/);
  });
});
