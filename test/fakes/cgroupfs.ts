import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { realFs, type CgroupFs } from '../../src/cgroups/fs';

/**
 * A fake cgroupfs in a temporary directory: real files holding values, read
 * and written with the real file operations (so a missing file is ENOENT, as
 * on cgroupfs). Every write is also recorded, and a few files behave like
 * the kernel's: some keep one line per key (io.max, devices.*), the
 * freezers answer.
 */
export class FakeCgroupFs implements CgroupFs {
  readonly root = mkdtempSync(join(tmpdir(), 'tsrunc-fakecg-'));
  readonly writes: { file: string; value: string }[] = [];
  /** Make a write fail with this errno (once per entry). */
  failures = new Map<string, string>();

  /** Creates dir (relative to root) holding files with initial values. */
  dir(rel: string, files: Record<string, string> = {}): string {
    const d = join(this.root, rel);
    mkdirSync(d, { recursive: true });
    for (const [f, v] of Object.entries(files)) writeFileSync(join(d, f), v);
    return d;
  }

  read(path: string): string {
    return realFs.read(path);
  }

  exists(path: string): boolean {
    return realFs.exists(path);
  }

  write(path: string, value: string): void {
    const code = this.failures.get(basename(path));
    if (code) {
      this.failures.delete(basename(path));
      throw Object.assign(new Error(`${code}: fake failure`), { code });
    }
    realFs.write(path, value); // ENOENT for a file the "kernel" does not have
    this.writes.push({ file: path.slice(this.root.length + 1), value });
    const name = basename(path);
    const dir = path.slice(0, -name.length - 1);
    if (name === 'freezer.state') writeFileSync(path, value === 'FROZEN' ? 'FROZEN\n' : 'THAWED\n');
    if (name === 'cgroup.freeze') writeFileSync(join(dir, 'cgroup.events'), `populated 1\nfrozen ${value.trim()}\n`);
    if (name === 'devices.allow' || name === 'devices.deny') this.devices(dir, name === 'devices.allow', value);
    if (name === 'io.max' || name === 'io.bfq.weight' || name === 'rdma.max' || name.endsWith('_device') || name === 'net_prio.ifpriomap') {
      // One line per device: a new value for a device replaces its line.
      const key = value.split(' ')[0];
      const kept = this.log[path]?.filter((l) => l.split(' ')[0] !== key) ?? [];
      this.log[path] = [...kept, value];
      writeFileSync(path, this.log[path].join('\n') + '\n');
    }
  }

  private log: Record<string, string[]> = {};

  private deviceState: Record<string, { allow: boolean; ex: Map<string, string> }> = {};

  /** devices.list as the kernel shows it: "a *:* rwm" in allow-all mode (its deny exceptions hidden), else the allow list in order. */
  private devices(dir: string, allow: boolean, value: string): void {
    const state = (this.deviceState[dir] ??= { allow: true, ex: new Map() });
    if (value.startsWith('a')) {
      state.allow = allow;
      state.ex.clear();
    } else {
      const [type, dev, access] = value.split(' ');
      const key = `${type} ${dev}`;
      const old = state.ex.get(key);
      if (allow !== state.allow) {
        state.ex.set(key, merge(old ?? '', access));
      } else if (old !== undefined) {
        const left = [...old].filter((c) => !access.includes(c)).join('');
        if (left) state.ex.set(key, left);
        else state.ex.delete(key);
      }
    }
    const lines = state.allow ? ['a *:* rwm'] : [...state.ex].map(([k, a]) => `${k} ${a}`);
    writeFileSync(join(dir, 'devices.list'), lines.join('\n') + (lines.length ? '\n' : ''));
  }

  /** What was written to files named `name` (any directory). */
  written(name: string): string[] {
    return this.writes.filter((w) => basename(w.file) === name).map((w) => w.value);
  }

  content(dir: string, file: string): string {
    return readFileSync(join(dir, file), 'utf8');
  }

  append(dir: string, file: string, text: string): void {
    appendFileSync(join(dir, file), text);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function merge(a: string, b: string): string {
  return ['r', 'w', 'm'].filter((c) => a.includes(c) || b.includes(c)).join('');
}
