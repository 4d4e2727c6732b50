/**
 * `npm run demo`: the flight recorder in a small service, the way it runs in production.
 *
 * An orders service answers `GET /api/orders/:id` by asking an inventory service (a downstream
 * on loopback) and rendering a report. Now and then a request is slow, for two reasons a user
 * could meet: the inventory service answers late once, and once a request hashes the whole
 * catalogue synchronously, blocking the event loop for everyone. A load generator (this same
 * script, in a child process) sends requests; the slow-request trigger fires, keeps recording a
 * moment, and writes the snapshot. The demo then prints where it is, `nfr stats` and
 * `nfr findings` for it, and how to open the viewer. It ends by itself in about 10 s.
 */
import { fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRecording, trace } from '../src/index.js';

const here = fileURLToPath(import.meta.url);
const nfr = fileURLToPath(new URL('../src/cli/nfr.js', import.meta.url));
const LOAD_SECONDS = 5;

if (process.argv[2] === 'peer') await runPeer();
else await runService();

/**
 * The other side, in a child process of its own so that the trace holds only the service: the
 * inventory service the orders service calls, and the clients that load the orders service.
 */
async function runPeer(): Promise<void> {
  const inventory = await startInventory(1500);
  process.send?.({ inventory });
  const [message] = (await once(process, 'message')) as [{ base: string }];
  await generateLoad(message.base);
  process.disconnect();
}

/** The load generator: a few clients in a loop, for LOAD_SECONDS. */
async function generateLoad(base: string): Promise<void> {
  const end = Date.now() + LOAD_SECONDS * 1000;
  let id = 0;
  const client = async () => {
    while (Date.now() < end) {
      const response = await fetch(`${base}/api/orders/${++id}?session=s3cr3t`);
      await response.arrayBuffer();
    }
  };
  await Promise.all([client(), client(), client(), client()]);
}

/** The inventory service: answers in a few ms, except once, when it takes 600 ms. */
function startInventory(slowAfterMs: number): Promise<string> {
  const slowAt = Date.now() + slowAfterMs;
  let slowServed = false;
  const server = createServer((req, res) => {
    const slow = !slowServed && Date.now() >= slowAt;
    if (slow) slowServed = true;
    setTimeout(() => res.end(JSON.stringify({ item: req.url, stock: 7 })), slow ? 600 : 3);
  });
  server.unref();
  return listen(server);
}

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Hashes the catalogue in small synchronous steps: about 300 ms of blocked event loop. */
function hashCatalogueSynchronously(): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024, 7);
  const end = performance.now() + 300;
  while (performance.now() < end) hash.update(chunk);
  return hash.digest('hex');
}

async function runService(): Promise<void> {
  const dir = resolve('flight-recordings');
  const recording = startRecording({
    level: 'cpu', // CPU samples too, so the findings can name the code that blocked the loop
    // Outgoing calls belong to the request that made them (on by default from Node 24; on Node 20
    // and 22 it costs every await a little, so it is opt-in there).
    sources: { http: { implicitTask: true } },
    minAge: 10_000,
    dir,
    slowRequest: { threshold: 250, routes: ['/api/*'], delay: 1500 },
    stall: false,
    signal: false,
  });
  const peer = fork(here, ['peer'], { stdio: 'inherit', execArgv: [] });
  const [{ inventory }] = (await once(peer, 'message')) as [{ inventory: string }];
  const blockAt = Date.now() + 2500;
  let blocked = false;

  const service = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const task = trace.taskOf(req); // the request's task: its regions and logs show inside it
      const stock = await (task?.withRegion('fetch inventory', () => fetch(`${inventory}/stock${req.url}`).then((r) => r.json())) ?? Promise.resolve({}));
      let report = '';
      const render = () => {
        if (!blocked && Date.now() >= blockAt) {
          blocked = true;
          task?.log('report', 'catalogue digest missing: rebuilding it');
          report = hashCatalogueSynchronously();
        }
        report += JSON.stringify({ order: req.url, stock });
      };
      if (task !== undefined) task.withRegion('render report', render);
      else render();
      res.setHeader('content-type', 'application/json');
      res.end(report);
    })().catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  const base = await listen(service);
  console.log(`orders service on ${base}, inventory on ${inventory}; recording, with a slow-request trigger at 250 ms`);
  console.log(`load: 4 clients for ${LOAD_SECONDS} s; one inventory call will be slow, and one request will block the loop\n`);

  peer.send({ base });
  const deadline = Date.now() + 30_000;
  while (recording.status().snapshots === 0 && Date.now() < deadline) await sleep(50);
  await once(peer, 'exit');
  service.close();
  const status = recording.status();
  await recording.stop();
  const file = status.lastSnapshot?.path;
  if (file === undefined) {
    console.error('no snapshot was written; status:', JSON.stringify(status, null, 2));
    process.exitCode = 1;
    return;
  }
  const shown = relative(process.cwd(), file);
  console.log(`\nsnapshot: ${shown} (${status.lastSnapshot?.reason}); its sidecar ${shown.replace(/\.nfrt$/, '.json')} says why\n`);
  for (const command of ['stats', 'findings']) {
    console.log(`$ nfr ${command} ${shown}`);
    const run = spawnSync(process.execPath, [nfr, command, file], { encoding: 'utf8' });
    process.stdout.write(run.stdout + run.stderr + '\n');
  }
  console.log('To see it: npx nfr view ' + shown + '   (or: npx nfr report ' + shown + ' -o report.html)');
}
