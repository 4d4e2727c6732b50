import { readFileSync } from 'node:fs';
import { LEVELS, SOURCE_NAMES, type SourceOption } from '../tracer/sources.js';
import { resolveRecordingOptions, type StartRecordingOptions } from './recording-options.js';

/**
 * Configuration of `--import node-flight-recorder/auto` from environment variables and an
 * optional JSON file. Nothing here may stop the application: a wrong value is a warning that
 * names it, and the option falls back to its default.
 */

type Parsed = { ok: true; value: unknown } | { ok: false; expected: string };

const UNITS_MS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNITS_BYTES: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3 };
const OFF = new Set(['0', 'off', 'false', 'no', 'none']);
const ON = new Set(['1', 'on', 'true', 'yes']);

function withUnit(text: string, units: Record<string, number>, expected: string): Parsed {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match?.[2].toLowerCase() ?? '';
  if (match === null || !(unit in units)) return { ok: false, expected };
  return { ok: true, value: Math.round(Number(match[1]) * units[unit]) };
}

const duration = (text: string): Parsed => withUnit(text, UNITS_MS, 'a duration such as 500, 500ms, 2s, 1m or 1h');
const size = (text: string): Parsed => withUnit(text, UNITS_BYTES, 'a size such as 10485760, 512KiB or 10MiB');
const count = (text: string): Parsed => (/^\s*\d+\s*$/.test(text) ? { ok: true, value: Number(text) } : { ok: false, expected: 'a whole number' });
const flag = (text: string): Parsed => {
  const t = text.trim().toLowerCase();
  return ON.has(t) ? { ok: true, value: true } : OFF.has(t) ? { ok: true, value: false } : { ok: false, expected: 'on or off (1/0, true/false)' };
};
/** A duration that `off` (or 0) turns off: a trigger's threshold. */
const durationOrOff = (text: string): Parsed => (OFF.has(text.trim().toLowerCase()) ? { ok: true, value: false } : duration(text));
const text = (t: string): Parsed => (t.trim() === '' ? { ok: false, expected: 'a non-empty value' } : { ok: true, value: t.trim() });
const list = (t: string): Parsed => ({ ok: true, value: t.split(',').map((s) => s.trim()).filter((s) => s !== '') });

const level = (t: string): Parsed => (t.trim() in LEVELS ? { ok: true, value: t.trim() } : { ok: false, expected: `one of ${Object.keys(LEVELS).join(', ')}` });

/** `cpu,-http,console`: sources switched on, or off with a minus. */
const sources = (t: string): Parsed => {
  const out: Record<string, SourceOption> = {};
  for (const item of t.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const off = item.startsWith('-');
    const name = off ? item.slice(1) : item.replace(/^\+/, '');
    if (!(SOURCE_NAMES as readonly string[]).includes(name)) return { ok: false, expected: `a comma list of ${SOURCE_NAMES.join(', ')}, each optionally with a leading -` };
    out[name] = !off;
  }
  return { ok: true, value: out };
};

const signal = (t: string): Parsed => (OFF.has(t.trim().toLowerCase()) ? { ok: true, value: false } : { ok: true, value: t.trim().toUpperCase() });

/** One environment variable: where its value goes in the options, how it is read, and what it means. */
interface EnvVar {
  name: string;
  /** Option path; two parts for a trigger's setting (`slowRequest.threshold`). */
  option: string;
  parse: (text: string) => Parsed;
  default: string;
  doc: string;
}

/** Every variable `node-flight-recorder/auto` reads: the one list the code and docs/production.md follow. */
export const ENVIRONMENT_VARIABLES: readonly EnvVar[] = [
  { name: 'NFR_ENABLED', option: '', parse: flag, default: 'on', doc: 'Set to `off` (or 0) to load the module without recording.' },
  { name: 'NFR_CONFIG', option: '', parse: text, default: '(none)', doc: 'A JSON file of `startRecording` options; variables set here win over it.' },
  { name: 'NFR_LEVEL', option: 'level', parse: level, default: 'default', doc: 'What to record: `none`, `default`, `detailed` or `cpu` (docs/sources.md).' },
  { name: 'NFR_SOURCES', option: 'sources', parse: sources, default: '(the level\'s)', doc: 'Sources on or off by name: `cpu,-http,console`.' },
  { name: 'NFR_MIN_AGE', option: 'minAge', parse: duration, default: '10s', doc: 'How far back the window reaches at least.' },
  { name: 'NFR_MAX_BYTES', option: 'maxBytes', parse: size, default: '10MiB', doc: 'Most bytes the window holds; wins over the age.' },
  { name: 'NFR_PERIOD', option: 'period', parse: duration, default: '1s', doc: 'Generation period: how finely old data is dropped.' },
  { name: 'NFR_DIR', option: 'dir', parse: text, default: './flight-recordings', doc: 'Where snapshots are written (made if missing).' },
  { name: 'NFR_MAX_FILES', option: 'maxFiles', parse: count, default: '20', doc: 'Snapshots kept in the directory; the oldest go first.' },
  { name: 'NFR_MAX_TOTAL_BYTES', option: 'maxTotalBytes', parse: size, default: '200MiB', doc: 'Bytes of snapshots kept in the directory.' },
  { name: 'NFR_MAX_SNAPSHOTS', option: 'maxSnapshots', parse: count, default: '5', doc: 'Rate limit: at most this many snapshots per window, all triggers together.' },
  { name: 'NFR_SNAPSHOT_WINDOW', option: 'snapshotWindow', parse: duration, default: '1h', doc: 'The rate limit\'s window.' },
  { name: 'NFR_COOLDOWN', option: 'cooldown', parse: duration, default: '60s', doc: 'Least time between two snapshots of one automatic trigger.' },
  { name: 'NFR_SLOW_REQUEST_MS', option: 'slowRequest.threshold', parse: durationOrOff, default: '1000', doc: 'Snapshot after an HTTP server request slower than this; `off` turns the trigger off.' },
  { name: 'NFR_SLOW_REQUEST_ROUTES', option: 'slowRequest.routes', parse: list, default: '(all)', doc: 'Only these paths or routes fire it: a comma list, `/api/*` for a prefix.' },
  { name: 'NFR_TRIGGER_DELAY', option: 'slowRequest.delay', parse: duration, default: '200ms', doc: 'Keep recording this long after a slow request before the snapshot.' },
  { name: 'NFR_STALL_MS', option: 'stall.threshold', parse: durationOrOff, default: '1000', doc: 'Snapshot, from a watchdog thread, when the event loop is stuck this long (at least 50); `off` turns it off.' },
  { name: 'NFR_SIGNAL', option: 'signal', parse: signal, default: 'SIGUSR2', doc: 'Signal that takes a snapshot; `off` for none.' },
  { name: 'NFR_ON_CRASH', option: 'crash', parse: flag, default: 'on', doc: 'Snapshot, synchronously, when an uncaught exception or unhandled rejection ends the process.' },
  { name: 'NFR_CLUSTER', option: 'cluster', parse: flag, default: 'on', doc: 'Under node:cluster, a trigger in one process collects snapshots from all.' },
  { name: 'NFR_LOG', option: 'log', parse: flag, default: 'on', doc: 'One line on stderr per snapshot written or failed.' },
];

/** What the environment asks for. */
export interface EnvironmentConfig {
  enabled: boolean;
  options: StartRecordingOptions;
  /** One line per value that was wrong and fell back to its default. */
  warnings: string[];
}

function isAccepted(options: StartRecordingOptions): string | undefined {
  try {
    resolveRecordingOptions(options);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Sets `path` (`a` or `a.b`) in `options`; a trigger turned off stays off whatever else is set. */
function place(options: Record<string, unknown>, path: string, value: unknown): void {
  const [head, tail] = path.split('.');
  if (tail === undefined) {
    options[head] = value;
    return;
  }
  if (value === false) {
    options[head] = false;
    return;
  }
  const parent = options[head];
  if (parent === false) return;
  options[head] = { ...(typeof parent === 'object' && parent !== null ? parent : {}), [tail]: value };
}

/**
 * Reads the configuration: the JSON file named by NFR_CONFIG, then the variables over it. Each
 * value is checked on its own, exactly as `startRecording` would check it; a wrong one is left
 * out (its default applies) with a warning naming it.
 */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnvironmentConfig {
  const warnings: string[] = [];
  const options: Record<string, unknown> = {};
  const enabledText = env.NFR_ENABLED;
  let enabled = true;
  if (enabledText !== undefined && enabledText !== '') {
    const parsed = flag(enabledText);
    if (parsed.ok) enabled = parsed.value as boolean;
    else warnings.push(`NFR_ENABLED=${JSON.stringify(enabledText)} is not ${parsed.expected}; recording stays on`);
  }
  const file = env.NFR_CONFIG;
  if (file !== undefined && file !== '') {
    try {
      const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('it does not hold a JSON object');
      for (const [key, value] of Object.entries(json)) {
        const problem = isAccepted({ [key]: value } as StartRecordingOptions);
        if (problem === undefined) options[key] = value;
        else warnings.push(`${file}: ${problem.replace(/^startRecording: /, '')}; using its default`);
      }
    } catch (err) {
      warnings.push(`NFR_CONFIG=${file} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); using the defaults`);
    }
  }
  for (const variable of ENVIRONMENT_VARIABLES) {
    const raw = env[variable.name];
    if (variable.option === '' || raw === undefined || raw === '') continue;
    const parsed = variable.parse(raw);
    if (!parsed.ok) {
      warnings.push(`${variable.name}=${JSON.stringify(raw)} is not ${parsed.expected}; using the default (${variable.default})`);
      continue;
    }
    const trial: Record<string, unknown> = {};
    place(trial, variable.option, parsed.value);
    const problem = isAccepted(trial as StartRecordingOptions);
    if (problem !== undefined) {
      warnings.push(`${variable.name}=${JSON.stringify(raw)}: ${problem.replace(/^startRecording: /, '')}; using the default (${variable.default})`);
      continue;
    }
    place(options, variable.option, parsed.value);
  }
  return { enabled, options: options as StartRecordingOptions, warnings };
}

/** The variables as a Markdown table, for docs/production.md. */
export function describeEnvironment(): string {
  const rows = ENVIRONMENT_VARIABLES.map((v) => `| \`${v.name}\` | ${v.option === '' ? '' : `\`${v.option}\``} | ${v.default} | ${v.doc} |`);
  return ['| variable | option | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
