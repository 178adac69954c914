import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TsruncError, errnoOf } from '../sys/errors';

/**
 * The file operations the cgroup managers use, so that unit tests can run
 * them against a fake tree in a temporary directory (and see each write,
 * where cgroupfs keeps several values in one file, like io.max).
 */
export interface CgroupFs {
  read(path: string): string;
  /** Writes one value; never creates a file (cgroupfs files exist or the kernel lacks them). */
  write(path: string, value: string): void;
  exists(path: string): boolean;
}

export const realFs: CgroupFs = {
  read: (path) => readFileSync(path, 'utf8'),
  write: (path, value) => {
    // No O_CREAT: a missing file is ENOENT, as on cgroupfs. O_TRUNC is ignored by cgroupfs and keeps a fake tree exact.
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  exists: (path) => existsSync(path),
};

/** Writes value to dir/file for a config field; a failure names the field, the file and the errno. */
export function writeField(fs: CgroupFs, field: string, dir: string, file: string, value: string): void {
  try {
    fs.write(join(dir, file), value);
  } catch (err) {
    throw fieldError(field, `write ${JSON.stringify(value)} to ${join(dir, file)}`, err);
  }
}

export function fieldError(field: string, what: string, err: unknown): TsruncError {
  const code = errnoOf(err);
  const reason = code === 'ENOENT' ? 'ENOENT (the kernel has no such file)' : code ?? (err as Error).message;
  return new TsruncError(`${field}: ${what}: ${reason}`);
}

/** A flat "key value" file (memory.stat, cpu.stat, memory.events) as numbers. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/**
 * The cgroups directly inside dir, as paths. A cgroup that is gone (removed
 * while it was walked: systemd drops a scope once its last process died) has
 * none.
 */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}
