import { NfrError } from '../errors/errors.js';
import type { ThreadTracer } from './thread-tracer.js';

/**
 * What a recording source is, as the tracer sees it: a name, its settings, and start/stop.
 * The sources themselves live in src/sources/ and register here when the library loads; the
 * tracer starts the union of what its subscribers ask for.
 */

/** Every source, by name. */
export const SOURCE_NAMES = ['threads', 'loop', 'gc', 'memory', 'http', 'async', 'cpu', 'console'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/**
 * Levels: `default` records the process cheaply enough to leave on; `detailed` adds every
 * callback and its causality (async_hooks: measured, costly); `cpu` adds the sampling
 * profiler; `none` records only the user's own annotations, like Go's tracer without the runtime.
 */
export const LEVELS = {
  none: [],
  default: ['threads', 'loop', 'gc', 'memory', 'http'],
  detailed: ['threads', 'loop', 'gc', 'memory', 'http', 'async'],
  cpu: ['threads', 'loop', 'gc', 'memory', 'http', 'cpu'],
} as const satisfies Record<string, readonly SourceName[]>;
export type Level = keyof typeof LEVELS;

/** A source's setting: its default, its kind, and how two subscribers' values combine. */
export interface SettingSpec {
  readonly default: number | boolean;
  /** `ms` and `count` are positive numbers; `bool` a boolean. */
  readonly kind: 'ms' | 'count' | 'bool';
  /** The tracer serves the most demanding subscriber: the smaller interval, the lower threshold, either flag. */
  readonly merge: 'min' | 'max' | 'or';
  readonly doc: string;
  /** How to describe the default when it depends on the Node version or the machine. */
  readonly defaultDoc?: string;
}

export type Settings = Readonly<Record<string, number | boolean>>;

/** Per-source option: on, off, or on with settings. */
export type SourceOption = boolean | Record<string, number | boolean>;

/** The recording options shared by `FlightRecorder` and `trace.start`. */
export interface RecordingOptions {
  /** What to record about the process (default `'default'`). */
  level?: Level;
  /** Sources switched on or off by name, or given settings: `{ cpu: { interval: 5 }, http: false }`. */
  sources?: Partial<Record<SourceName, SourceOption>>;
}

export interface SourceContext {
  /** The writer of the thread the tracer runs on. */
  readonly tracer: ThreadTracer;
  /**
   * Wraps a callback (of at most three arguments) so that an exception inside it is counted,
   * never thrown into the application. The wrapper allocates nothing per call.
   */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  /** Counts an error the source caught itself. */
  error(err: unknown): void;
  /** Lets worker threads that joined the tracer record (the threads source), or stops them. */
  setWorkersEnabled(enabled: boolean): void;
}

export interface SourceHandle {
  stop(): void;
  /** Called just before each generation ends, to write what the source holds back (CPU samples). */
  flush?(): void;
}

export interface SourceModule {
  readonly name: SourceName;
  readonly settings: Readonly<Record<string, SettingSpec>>;
  /**
   * Starts recording. Throws when the facility is missing (an `NfrError` with code
   * `ERR_SOURCE_UNSUPPORTED`) or fails; the tracer then records the source as skipped and goes on.
   */
  start(ctx: SourceContext, settings: Settings): SourceHandle;
}

const registry = new Map<SourceName, SourceModule>();

/** Makes a source available; src/sources/ calls this for each source when the library loads. */
export function registerSource(module: SourceModule): void {
  registry.set(module.name, module);
}

export function sourceModule(name: SourceName): SourceModule | undefined {
  return registry.get(name);
}

/** Resolved demand: the sources a subscriber wants, each with its full settings. */
export type SourceDemand = ReadonlyMap<SourceName, Settings>;

function isSourceName(name: string): name is SourceName {
  return (SOURCE_NAMES as readonly string[]).includes(name);
}

function checkSetting(what: string, source: string, name: string, spec: SettingSpec, value: unknown): number | boolean {
  const ok = spec.kind === 'bool' ? typeof value === 'boolean' : typeof value === 'number' && Number.isFinite(value) && value > 0;
  if (!ok) {
    throw new NfrError('ERR_INVALID_OPTION', `${what}: option "sources.${source}.${name}" must be ${spec.kind === 'bool' ? 'a boolean' : 'a finite number > 0'}, got ${JSON.stringify(value) ?? typeof value}`);
  }
  return value as number | boolean;
}

/**
 * Turns `level` and `sources` into the sources to run with their settings. Unknown levels,
 * sources and settings, and wrong values, are `ERR_INVALID_OPTION` errors naming the option.
 */
export function resolveSources(what: string, options: RecordingOptions): SourceDemand {
  const level = options.level ?? 'default';
  if (typeof level !== 'string' || !(level in LEVELS)) {
    throw new NfrError('ERR_INVALID_OPTION', `${what}: option "level" must be one of ${Object.keys(LEVELS).join(', ')}, got ${JSON.stringify(level)}`);
  }
  const wanted = new Map<SourceName, Record<string, number | boolean>>();
  for (const name of LEVELS[level]) wanted.set(name, {});
  const sources = options.sources ?? {};
  if (sources === null || typeof sources !== 'object' || Array.isArray(sources)) {
    throw new NfrError('ERR_INVALID_OPTION', `${what}: option "sources" must be an object such as { cpu: true }`);
  }
  for (const [name, value] of Object.entries(sources)) {
    if (!isSourceName(name)) {
      throw new NfrError('ERR_INVALID_OPTION', `${what}: unknown source "sources.${name}"; known sources: ${SOURCE_NAMES.join(', ')}`);
    }
    if (value === undefined) continue;
    if (value === false) wanted.delete(name);
    else if (value === true) wanted.set(name, wanted.get(name) ?? {});
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) wanted.set(name, { ...value });
    else throw new NfrError('ERR_INVALID_OPTION', `${what}: option "sources.${name}" must be true, false or an object of settings`);
  }
  const resolved = new Map<SourceName, Settings>();
  for (const [name, given] of wanted) {
    const module = registry.get(name);
    const specs = module?.settings ?? {};
    const settings: Record<string, number | boolean> = {};
    for (const [setting, value] of Object.entries(given)) {
      const spec = specs[setting];
      if (spec === undefined) {
        const known = Object.keys(specs);
        throw new NfrError('ERR_INVALID_OPTION', `${what}: unknown setting "sources.${name}.${setting}"; ${known.length > 0 ? `known settings: ${known.join(', ')}` : 'this source has no settings'}`);
      }
      settings[setting] = checkSetting(what, name, setting, spec, value);
    }
    for (const [setting, spec] of Object.entries(specs)) settings[setting] ??= spec.default;
    resolved.set(name, settings);
  }
  return resolved;
}

/** The union of several subscribers' demands: every source any of them wants, with the most demanding settings. */
export function mergeDemands(demands: readonly SourceDemand[]): SourceDemand {
  const merged = new Map<SourceName, Record<string, number | boolean>>();
  for (const demand of demands) {
    for (const [name, settings] of demand) {
      const current = merged.get(name);
      if (current === undefined) {
        merged.set(name, { ...settings });
        continue;
      }
      const specs = registry.get(name)?.settings ?? {};
      for (const [setting, value] of Object.entries(settings)) {
        const merge = specs[setting]?.merge ?? 'min';
        const had = current[setting];
        if (had === undefined) current[setting] = value;
        else if (merge === 'or') current[setting] = Boolean(had) || Boolean(value);
        else if (merge === 'max') current[setting] = Math.max(had as number, value as number);
        else current[setting] = Math.min(had as number, value as number);
      }
    }
  }
  return merged;
}

/** The levels and every registered source's settings, as markdown (for docs/sources.md, checked by a test). */
export function describeSources(): string {
  const levels = (Object.keys(LEVELS) as Level[]).map((level) => `| \`${level}\` | ${LEVELS[level].length > 0 ? LEVELS[level].map((s) => `\`${s}\``).join(', ') : '(annotations only)'} |`);
  const settings: string[] = [];
  for (const name of SOURCE_NAMES) {
    const module = registry.get(name);
    const specs = Object.entries(module?.settings ?? {});
    if (specs.length === 0) settings.push(`| \`${name}\` | | | |`);
    for (const [setting, spec] of specs) {
      const shown = spec.defaultDoc ?? `${JSON.stringify(spec.default)}${spec.kind === 'ms' ? ' ms' : ''}`;
      settings.push(`| \`${name}\` | \`${setting}\` | ${shown} | ${spec.doc.replace(/\|/g, '\\|')} |`);
    }
  }
  return [
    '| level | sources |',
    '| --- | --- |',
    ...levels,
    '',
    '| source | setting | default | meaning |',
    '| --- | --- | --- | --- |',
    ...settings,
  ].join('\n');
}
