import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NfrError } from '../errors/errors.js';
import type { SnapshotMeta } from './snapshot-meta.js';

/** Options of a {@link DirectorySink}. */
export interface DirectorySinkOptions {
  /** Where snapshots go (default `./flight-recordings`, made if missing). */
  dir?: string;
  /** Most snapshots kept; the oldest go first (default 20). */
  maxFiles?: number;
  /** Most bytes of snapshots kept, sidecars not counted (default 200 MiB). The newest is always kept. */
  maxTotalBytes?: number;
}

export const DEFAULT_SNAPSHOT_DIR = './flight-recordings';
const DEFAULT_MAX_FILES = 20;
const DEFAULT_MAX_TOTAL_BYTES = 200 * 1024 * 1024;
const PREFIX = 'nfr-';
const SUFFIX = '.nfrt';

/** `2026-11-30T01:23:45.678Z` as `20261130T012345.678Z`: sortable, and legal on every file system. */
function compactTime(iso: string): string {
  return iso.replace(/[-:]/g, '');
}

/** A reason as a short file-name part: lower case letters, digits and dashes. */
export function reasonSlug(reason: string): string {
  const slug = reason.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return slug === '' ? 'snapshot' : slug;
}

/** The file name of a snapshot: time first, so names sort by time; then pid and reason. */
export function snapshotFileName(meta: Pick<SnapshotMeta, 'time' | 'pid' | 'reason'>): string {
  return `${PREFIX}${compactTime(meta.time)}-${meta.pid}-${reasonSlug(meta.reason)}${SUFFIX}`;
}

function sidecarOf(file: string): string {
  return file.slice(0, -SUFFIX.length) + '.json';
}

interface Listed {
  name: string;
  size: number;
}

/** What rotation removes from a listing of snapshots: the oldest, past either limit, never `keep`. */
export function filesToRotate(listing: readonly Listed[], keep: string, maxFiles: number, maxTotalBytes: number): string[] {
  const ours = listing.filter((f) => f.name.startsWith(PREFIX) && f.name.endsWith(SUFFIX)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let count = ours.length;
  let total = ours.reduce((sum, f) => sum + f.size, 0);
  const doomed: string[] = [];
  for (const f of ours) {
    if (count <= maxFiles && total <= maxTotalBytes) break;
    if (f.name === keep) continue;
    doomed.push(f.name);
    count--;
    total -= f.size;
  }
  return doomed;
}

function sinkError(what: string, dir: string, err: unknown): NfrError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = code === 'ENOSPC' ? 'the disk is full' : code === 'ENOENT' ? 'the directory does not exist and could not be made' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'the path is not a directory' : (err as Error)?.message ?? String(err);
  return new NfrError('ERR_SINK_FAILED', `could not ${what} in ${dir}: ${why}`, { cause: err });
}

/**
 * Stores snapshots as files in a directory: `nfr-<time>-<pid>-<reason>.nfrt`, written under a
 * temporary name and renamed, so a reader never sees half a file; permissions 0600 (traces hold
 * paths and names of the application); a JSON sidecar of the same name with the reason, the
 * trigger's details, the process and the host. Old snapshots are removed past `maxFiles` or
 * `maxTotalBytes`. Failures reject (or throw) with `ERR_SINK_FAILED`, saying why.
 */
export class DirectorySink {
  readonly dir: string;
  readonly maxFiles: number;
  readonly maxTotalBytes: number;

  constructor(options: DirectorySinkOptions = {}) {
    this.dir = resolve(options.dir ?? DEFAULT_SNAPSHOT_DIR);
    this.maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
    this.maxTotalBytes = options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  }

  /** Writes a snapshot and its sidecar; resolves to the snapshot's path. */
  async write(bytes: Uint8Array, meta: SnapshotMeta): Promise<string> {
    const name = snapshotFileName(meta);
    const path = join(this.dir, name);
    const temporary = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fsp.writeFile(sidecarOf(path), JSON.stringify({ ...meta, file: name }, null, 2) + '\n', { mode: 0o600 });
      await fsp.writeFile(temporary, bytes, { mode: 0o600 });
      await fsp.rename(temporary, path);
    } catch (err) {
      await fsp.rm(temporary, { force: true }).catch(() => undefined);
      throw sinkError('write a snapshot', this.dir, err);
    }
    await this.rotate(name).catch(() => undefined);
    return path;
  }

  /**
   * The same, synchronously: for a process about to exit (an uncaught exception) and for the
   * stall watchdog's thread, which has no reason to wait for anything.
   */
  writeSync(bytes: Uint8Array, meta: SnapshotMeta): string {
    const name = snapshotFileName(meta);
    const path = join(this.dir, name);
    const temporary = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(sidecarOf(path), JSON.stringify({ ...meta, file: name }, null, 2) + '\n', { mode: 0o600 });
      fs.writeFileSync(temporary, bytes, { mode: 0o600 });
      fs.renameSync(temporary, path);
    } catch (err) {
      try {
        fs.rmSync(temporary, { force: true });
      } catch {
        // Nothing to remove where the directory could not be made.
      }
      throw sinkError('write a snapshot', this.dir, err);
    }
    try {
      const listing = fs.readdirSync(this.dir).map((n) => ({ name: n, size: n.endsWith(SUFFIX) ? fs.statSync(join(this.dir, n)).size : 0 }));
      for (const doomed of filesToRotate(listing, name, this.maxFiles, this.maxTotalBytes)) {
        fs.rmSync(join(this.dir, doomed), { force: true });
        fs.rmSync(join(this.dir, sidecarOf(doomed)), { force: true });
      }
    } catch {
      // Rotation is best effort: another process may be rotating the same directory.
    }
    return path;
  }

  private async rotate(keep: string): Promise<void> {
    const names = await fsp.readdir(this.dir);
    const listing: Listed[] = [];
    for (const name of names) {
      if (!name.endsWith(SUFFIX)) continue;
      const stat = await fsp.stat(join(this.dir, name)).catch(() => undefined);
      if (stat !== undefined) listing.push({ name, size: stat.size });
    }
    for (const doomed of filesToRotate(listing, keep, this.maxFiles, this.maxTotalBytes)) {
      await fsp.rm(join(this.dir, doomed), { force: true });
      await fsp.rm(join(this.dir, sidecarOf(doomed)), { force: true });
    }
  }
}
