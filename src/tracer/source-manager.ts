import { isNfrError } from '../errors/errors.js';
import { SOURCE_NAMES, sourceModule, type Settings, type SourceContext, type SourceDemand, type SourceHandle, type SourceName } from './sources.js';
import type { ThreadTracer } from './thread-tracer.js';

export type SourceState = 'on' | 'off' | 'failed' | 'unsupported';

export interface SourceStatus {
  state: SourceState;
  /** Why a source failed or is unsupported; empty otherwise. */
  detail: string;
  /** Exceptions caught inside the source since the process started. */
  errors: number;
  /** The last of them. */
  lastError: string;
  settings: Settings | undefined;
}

interface Running {
  handle: SourceHandle;
  settings: Settings;
}

function sameSettings(a: Settings, b: Settings): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * Runs the sources the subscribers ask for, isolating each: a source that cannot start is
 * recorded as skipped (in the trace and in `status()`) and the rest go on; an exception inside
 * a source is counted, never thrown into the application.
 */
export class SourceManager {
  private readonly running = new Map<SourceName, Running>();
  private readonly statuses = new Map<SourceName, SourceStatus>();

  constructor(
    private readonly tracer: ThreadTracer,
    private readonly setWorkersEnabled: (enabled: boolean) => void,
  ) {
    for (const name of SOURCE_NAMES) this.statuses.set(name, { state: 'off', detail: '', errors: 0, lastError: '', settings: undefined });
  }

  /** Starts, stops and restarts sources so that exactly `demand` runs. */
  apply(demand: SourceDemand): void {
    for (const [name, running] of this.running) {
      const wanted = demand.get(name);
      if (wanted === undefined || !sameSettings(wanted, running.settings)) this.stopSource(name, running);
    }
    for (const [name, settings] of demand) {
      if (!this.running.has(name)) this.startSource(name, settings);
    }
    // A source that failed or was unsupported, and is no longer asked for, is simply off again.
    for (const [name, status] of this.statuses) {
      if (!demand.has(name) && !this.running.has(name) && status.state !== 'off') {
        status.state = 'off';
        status.detail = '';
      }
    }
  }

  /** Before a generation ends: lets sources write what they hold back. */
  flush(): void {
    for (const [name, running] of this.running) {
      if (running.handle.flush === undefined) continue;
      try {
        running.handle.flush();
      } catch (err) {
        this.countError(name, err);
      }
    }
  }

  /** At a generation's start: says in the trace which sources record and which could not. */
  writeStatuses(): void {
    for (const [name, status] of this.statuses) {
      if (status.state !== 'off') this.tracer.sourceStatus(name, status.state, status.detail);
    }
  }

  status(): Record<SourceName, SourceStatus> {
    return Object.fromEntries([...this.statuses].map(([name, s]) => [name, { ...s }])) as Record<SourceName, SourceStatus>;
  }

  private startSource(name: SourceName, settings: Settings): void {
    const status = this.statuses.get(name)!;
    const module = sourceModule(name);
    status.settings = settings;
    if (module === undefined) {
      this.setState(name, 'unsupported', 'this build has no such source');
      return;
    }
    try {
      const handle = module.start(this.context(name), settings);
      this.running.set(name, { handle, settings });
      this.setState(name, 'on', '');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.setState(name, isNfrError(err, 'ERR_SOURCE_UNSUPPORTED') ? 'unsupported' : 'failed', message);
    }
  }

  private stopSource(name: SourceName, running: Running): void {
    this.running.delete(name);
    try {
      running.handle.stop();
    } catch (err) {
      this.countError(name, err);
    }
    this.setState(name, 'off', '');
  }

  private setState(name: SourceName, state: SourceState, detail: string): void {
    const status = this.statuses.get(name)!;
    if (status.state === state && status.detail === detail) return;
    status.state = state;
    status.detail = detail;
    this.tracer.sourceStatus(name, state, detail);
  }

  private countError(name: SourceName, err: unknown): void {
    const status = this.statuses.get(name)!;
    status.errors++;
    status.lastError = err instanceof Error ? err.message : String(err);
  }

  private context(name: SourceName): SourceContext {
    return {
      tracer: this.tracer,
      // Fixed arity, not rest parameters: the wrapper runs per callback and must not allocate.
      guard: <A extends unknown[]>(fn: (...args: A) => void) =>
        ((a?: unknown, b?: unknown, c?: unknown) => {
          try {
            (fn as unknown as (a?: unknown, b?: unknown, c?: unknown) => void)(a, b, c);
          } catch (err) {
            this.countError(name, err);
          }
        }) as unknown as (...args: A) => void,
      error: (err: unknown) => this.countError(name, err),
      setWorkersEnabled: this.setWorkersEnabled,
    };
  }
}
