/**
 * Runs the load benchmark's processes: a fresh server child per measured run (bench/load/server.ts)
 * and the load generator in a child of its own (bench/load/client.ts). Every wait is bounded, and
 * every process started here is ended here.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './client.js';
import { TRACE_EVENT_CATEGORIES, AUTO_MODULE, type Command, type Reply, type ServerStatus, type Variant } from './protocol.js';

const SERVER = fileURLToPath(new URL('./server.js', import.meta.url));
const CLIENT = fileURLToPath(new URL('./client.js', import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 60_000;

/** Distributes a command without the type's `id`, which `ask` assigns. */
type CommandBody = Command extends infer C ? (C extends Command ? Omit<C, 'id'> : never) : never;

export interface ServerOptions {
  variant: Variant;
  /** Run with --expose-gc, so `status({ gc: true })` measures the live heap. */
  exposeGc?: boolean;
  /** FlightRecorder minAge, in ms. */
  minAge?: number;
  /** Write a V8 CPU profile of the server into this directory (`--cpu-prof`). */
  cpuProfileDir?: string;
}

/** One server child: its port, a way to ask it things, and a way to end it. */
export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private exited: Promise<void>;
  private stopped: Promise<number> | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    /** The child's working directory: a temporary one, where trace_events writes its files. */
    readonly dir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.pending.delete(reply.id);
      if (reply.type === 'error') waiter.reject(new Error(`server: ${reply.message}`));
      else waiter.resolve(reply);
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`server exited (${code ?? signal}) before answering`));
      this.pending.clear();
    });
  }

  /**
   * Starts a server, trying a second time after a failed start: a build running beside the
   * benchmark can leave dist/ briefly inconsistent. A second failure is thrown.
   */
  static async start(options: ServerOptions): Promise<ServerProcess> {
    try {
      return await ServerProcess.startOnce(options);
    } catch (err) {
      progress(`server ${options.variant} failed to start, retrying once: ${err instanceof Error ? err.message : String(err)}`);
      await new Promise((r) => setTimeout(r, 5000));
      return ServerProcess.startOnce(options);
    }
  }

  private static async startOnce(options: ServerOptions): Promise<ServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'nfr-load-'));
    const execArgv: string[] = [];
    if (options.variant === 'trace-events') execArgv.push('--trace-event-categories', TRACE_EVENT_CATEGORIES);
    if (options.variant === 'production') execArgv.push('--import', AUTO_MODULE);
    if (options.exposeGc) execArgv.push('--expose-gc');
    if (options.cpuProfileDir !== undefined) execArgv.push('--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir);
    const env = { ...process.env };
    if (options.minAge !== undefined) env.NFR_LOAD_MIN_AGE = String(options.minAge);
    // The production variant is configured as users configure it: by environment variables.
    Object.assign(env, { NFR_MAX_BYTES: '10MiB', NFR_DIR: join(dir, 'flight-recordings'), NFR_LOG: 'off' });
    const child = fork(SERVER, [options.variant], { cwd: dir, execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server ${options.variant} did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
        child.once('message', (reply: Reply) => {
          clearTimeout(timer);
          if (reply.type === 'ready') resolve(reply.port);
          else reject(new Error(`server ${options.variant} sent ${JSON.stringify(reply)} instead of ready`));
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`server ${options.variant} exited (${code ?? signal}) during start`));
        });
      });
      return new ServerProcess(child, port, dir);
    } catch (err) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Sends a command and waits (bounded) for its reply. */
  ask(body: CommandBody): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`server did not answer ${body.cmd} within ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...body, id } as Command);
    });
  }

  async status(gc = false): Promise<ServerStatus> {
    const reply = await this.ask({ cmd: 'status', gc });
    if (reply.type !== 'status') throw new Error(`expected a status, got ${reply.type}`);
    return reply.status;
  }

  /** Bytes of files trace_events (or anything else) left in the server's directory. */
  filesBytes(): number {
    return readdirSync(this.dir).reduce((sum, name) => sum + statSync(join(this.dir, name)).size, 0);
  }

  /**
   * Asks the server to exit (killing it if it does not within 10 s), then deletes its directory.
   * Resolves to the bytes of the files it left there (trace_events writes its trace on exit).
   */
  stop(): Promise<number> {
    this.stopped ??= this.exitAndClean();
    return this.stopped;
  }

  private async exitAndClean(): Promise<number> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.ask({ cmd: 'exit' }).catch(() => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    try {
      return this.filesBytes();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Runs the load generator against `options.port` and returns what it measured. Aborting
 * `signal` ends the generator early (its promise then rejects).
 */
export function runLoad(options: LoadOptions, signal?: AbortSignal): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLIENT, JSON.stringify(options)], { timeout: (options.duration + 60) * 1000, maxBuffer: 1 << 20, signal }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`load generator failed: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as LoadResult);
      } catch {
        reject(new Error(`load generator printed no result: ${stdout}\n${stderr}`));
      }
    });
  });
}

/** A benchmark setting: a positive number from the environment variable `name`, else `fallback`. */
export function setting(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Progress goes to stderr, so that stdout stays the markdown report. */
export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
