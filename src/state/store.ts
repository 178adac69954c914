import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsruncError, errnoOf } from '../sys/errors';
import type { CgroupRecord } from '../cgroups/types';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN, O_RDONLY, O_DIRECTORY, O_CLOEXEC } from '../sys/libc';

/**
 * What tsrunc keeps about one container in <root>/<id>/state.json. The OCI
 * status is not stored: it is derived from the live process (status.ts).
 */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  /** RFC 3339 time of creation. */
  created: string;
  annotations?: Record<string, string>;
  /** Host pid of the container process, and its start time (so a recycled pid never reads as ours). */
  pid?: number;
  pidStartTime?: string;
  /** Set while `create` runs: the pid of that tsrunc process. */
  creating?: { pid: number; startTime: string };
  /** Whether tsrunc-shim supervises the container. */
  shim?: boolean;
  cgroup?: CgroupRecord;
  /** No mount namespace: the container's mounts were made in tsrunc's own, under rootfs; delete unmounts them. */
  hostMounts?: boolean;
  /** Created with --no-new-keyring: its processes keep the caller's session keyring (exec too). */
  noNewKeyring?: boolean;
}

/** How the container's process ended, as tsrunc-shim recorded it in <dir>/exit. */
export interface ExitRecord {
  pid: number;
  exitCode: number;
  signal: number;
  exitedAt: string;
}

// runc's rule: letters, digits, and _ + - . ; not "." or "..".
const ID_PATTERN = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new TsruncError(`invalid container id ${JSON.stringify(id)}: use letters, digits, '_', '+', '-' and '.' only`);
  }
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    validateId(id);
    return join(this.root, id);
  }

  /** Claims the id: the directory's creation is the atomic step that makes two creates of one id exclusive. */
  claim(id: string): string {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') throw new TsruncError(`container with id ${JSON.stringify(id)} already exists`);
      throw err;
    }
    return dir;
  }

  exists(id: string): boolean {
    try {
      readdirSync(this.dir(id));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Serialises commands on one container: an exclusive flock on its
   * directory, held until release(). `state` and `list` never take it.
   */
  async lock(id: string): Promise<() => void> {
    let fd: number;
    try {
      fd = openSync(this.dir(id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') throw notFound(id);
      throw err;
    }
    // Poll rather than block: a blocked flock call would stall Node's only thread with no way to give up.
    const deadline = Date.now() + 60_000;
    while (!flock(fd, LOCK_EX | LOCK_NB)) {
      if (Date.now() > deadline) {
        closeSync(fd);
        throw new TsruncError(`container ${JSON.stringify(id)} is busy: another tsrunc command holds its lock`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return () => {
      try { flock(fd, LOCK_UN); } finally { closeSync(fd); }
    };
  }

  read(id: string): ContainerRecord {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), 'state.json'), 'utf8')) as ContainerRecord;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') throw notFound(id);
      throw new TsruncError(`container ${JSON.stringify(id)}: unreadable state: ${(err as Error).message}`, { cause: err });
    }
  }

  tryRead(id: string): ContainerRecord | undefined {
    try {
      return this.read(id);
    } catch {
      return undefined;
    }
  }

  /** Atomic: a reader sees the old state or the new one, never half of one. */
  write(record: ContainerRecord): void {
    writeAtomic(join(this.dir(record.id), 'state.json'), JSON.stringify(record));
  }

  readExit(id: string): ExitRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), 'exit'), 'utf8')) as ExitRecord;
    } catch {
      return undefined;
    }
  }

  /** Called under lock(id): tsrunc-shim writes its exit record under the same lock, so nothing appears meanwhile. */
  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  ids(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return [];
      throw err;
    }
  }
}

export function notFound(id: string): TsruncError {
  return new TsruncError(`container ${JSON.stringify(id)} does not exist`);
}

/** A --pid-file: the decimal pid, created as runc does (0666 less the caller's umask), atomically. */
export function writePidFile(path: string, pid: number): void {
  writeAtomic(path, String(pid), 0o666);
}

/** Write to a temporary file beside path, then rename over it (mode less the umask, as open(2) does). */
export function writeAtomic(path: string, data: string, mode = 0o644): void {
  // Unique per write: two tsrunc processes may write the same file at once (the shim's exit record, a delete).
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}
