import { join } from 'node:path';
import { TsruncError } from '../sys/errors';
import { fieldError, realFs, writeField, type CgroupFs } from './fs';
import type { CgroupRecord } from './types';

/**
 * The cgroup freezer, the one place that knows its files: freezer.state on
 * v1 (THAWED, FREEZING, FROZEN) and cgroup.freeze / cgroup.events on v2.
 * The managers' freeze, thaw and isFrozen are these; `state`, `list` and
 * `delete` use them directly, without loading a whole manager (v1.ts and
 * v2.ts bring the device code with them).
 */
export interface Freezer {
  /** Freezes every process of the cgroup, waiting until the kernel says frozen; thaws again on failure. */
  freeze(): Promise<void>;
  /** Thaws; a cgroup without a freezer has nothing to thaw. */
  thaw(): void;
  /** Frozen now; false when there is no freezer or it cannot be read. */
  isFrozen(): boolean;
}

export function freezerOf(record: CgroupRecord, fs: CgroupFs = realFs): Freezer {
  if (record.mode === 'unified') return new V2Freezer(record.dirs[''], fs);
  // A v1 hierarchy may carry several controllers ("freezer" alone, as a rule, but "a,b" keys exist).
  const key = Object.keys(record.dirs).find((k) => k !== '' && k.split(',').includes('freezer'));
  return new V1Freezer(key === undefined ? undefined : record.dirs[key], fs);
}

const tick = (ms: number) => new Promise((res) => setTimeout(res, ms));

function read(fs: CgroupFs, path: string): string | undefined {
  try {
    return fs.read(path);
  } catch {
    return undefined;
  }
}

class V1Freezer implements Freezer {
  constructor(private readonly dir: string | undefined, private readonly fs: CgroupFs) {}

  async freeze(): Promise<void> {
    const d = this.dir;
    if (d === undefined) throw new TsruncError('the freezer controller is not mounted: cannot pause');
    const file = join(d, 'freezer.state');
    for (let i = 0; i < 1000; i++) {
      if (i % 50 === 49) {
        // New processes may keep appearing: thawing for a moment helps (runc).
        this.fs.write(file, 'THAWED');
        await tick(10);
      }
      try {
        this.fs.write(file, 'FROZEN');
      } catch (err) {
        this.thaw();
        throw fieldError('pause', `write FROZEN to ${file}`, err);
      }
      const state = read(this.fs, file)?.trim();
      if (state === 'FROZEN') return;
      if (state !== 'FREEZING') {
        this.thaw();
        throw new TsruncError(`pause: unexpected freezer state ${JSON.stringify(state)}`);
      }
      if (i % 25 === 24) await tick(1);
    }
    this.thaw();
    throw new TsruncError('pause: the cgroup stayed FREEZING: unable to freeze');
  }

  thaw(): void {
    if (this.dir === undefined) return;
    writeField(this.fs, 'resume', this.dir, 'freezer.state', 'THAWED');
  }

  isFrozen(): boolean {
    return this.dir !== undefined && read(this.fs, join(this.dir, 'freezer.state'))?.trim() === 'FROZEN';
  }
}

class V2Freezer implements Freezer {
  constructor(private readonly dir: string, private readonly fs: CgroupFs) {}

  async freeze(): Promise<void> {
    if (!this.fs.exists(join(this.dir, 'cgroup.freeze'))) throw new TsruncError(`${this.dir} has no cgroup.freeze (kernel < 5.2): cannot pause`);
    writeField(this.fs, 'pause', this.dir, 'cgroup.freeze', '1');
    for (let i = 0; i < 1000; i++) {
      if (this.isFrozen()) return;
      await tick(10);
    }
    this.thaw();
    throw new TsruncError(`pause: ${this.dir} did not become frozen within 10s`);
  }

  thaw(): void {
    if (!this.fs.exists(join(this.dir, 'cgroup.freeze'))) return;
    writeField(this.fs, 'resume', this.dir, 'cgroup.freeze', '0');
  }

  isFrozen(): boolean {
    return /^frozen 1$/m.test(read(this.fs, join(this.dir, 'cgroup.events')) ?? '');
  }
}
