import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cgroupPids, cloneIntoDir, createCgroup, joinCgroup, mainDir, planCgroup } from '../../src/cgroups/manager';
import { destroyCgroup } from '../../src/cgroups/destroy';
import type { Hierarchy } from '../../src/cgroups/detect';
import type { CgroupRecord } from '../../src/cgroups/types';
import { TsruncError } from '../../src/sys/errors';

// Like cgroupfs, a new directory under a cpuset cgroup comes with empty cpuset.cpus and
// cpuset.mems: the fake tree does the same, so createCgroup's copy from the parent can be seen.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const mkdirSync = ((path: string, options?: unknown) => {
    const r = fs.mkdirSync(path, options as never);
    if (fs.existsSync(`${dirname(path)}/cpuset.cpus`)) {
      fs.writeFileSync(`${path}/cpuset.cpus`, '');
      fs.writeFileSync(`${path}/cpuset.mems`, '');
    }
    return r;
  }) as typeof fs.mkdirSync;
  return { ...fs, default: { ...fs, mkdirSync }, mkdirSync };
});

const v1 = (key: string, mountRoot = '/'): Hierarchy => ({ controllers: key.split(','), key, version: 1, mountPoint: `/sys/fs/cgroup/${key.replace(/^name=/, '')}`, mountRoot });
const v2 = (mountPoint: string, mountRoot = '/'): Hierarchy => ({ controllers: [], key: '', version: 2, mountPoint, mountRoot });

describe('planCgroup', () => {
  const own = new Map([['', '/user.slice/s.scope'], ['cpu,cpuacct', '/user.slice'], ['memory', '/system.slice/x.service'], ['name=systemd', '/user.slice/s.scope']]);
  const hybrid = [v1('cpu,cpuacct'), v1('memory'), v1('name=systemd'), v2('/sys/fs/cgroup/unified')];

  it('unified, no cgroupsPath: the id under our own cgroup', () => {
    expect(planCgroup(undefined, 'ctr', 'unified', [v2('/sys/fs/cgroup')], own)).toEqual({
      mode: 'unified', path: '/user.slice/s.scope/ctr', dirs: { '': '/sys/fs/cgroup/user.slice/s.scope/ctr' }, created: [],
    });
  });

  it('unified, absolute cgroupsPath: from the hierarchy root, normalised', () => {
    expect(planCgroup('/machine//ctr', 'ctr', 'unified', [v2('/sys/fs/cgroup')], own)).toEqual({
      mode: 'unified', path: '/machine/ctr', dirs: { '': '/sys/fs/cgroup/machine/ctr' }, created: [],
    });
  });

  it('unified: ignores v1 hierarchies', () => {
    expect(planCgroup('/ctr', 'ctr', 'unified', [v1('memory'), v2('/sys/fs/cgroup')], own).dirs).toEqual({ '': '/sys/fs/cgroup/ctr' });
  });

  it('hybrid, relative cgroupsPath: under our own cgroup in each hierarchy, the cgroup2 one at unified/', () => {
    expect(planCgroup('tsrunc/ctr', 'ctr', 'hybrid', hybrid, own)).toEqual({
      mode: 'hybrid',
      path: '/user.slice/tsrunc/ctr',
      dirs: {
        'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/user.slice/tsrunc/ctr',
        memory: '/sys/fs/cgroup/memory/system.slice/x.service/tsrunc/ctr',
        'name=systemd': '/sys/fs/cgroup/systemd/user.slice/s.scope/tsrunc/ctr',
        '': '/sys/fs/cgroup/unified/user.slice/s.scope/tsrunc/ctr',
      },
      created: [],
    });
  });

  it('hybrid: a cgroup2 mount elsewhere than unified/ is not the container\'s', () => {
    expect(Object.keys(planCgroup('/ctr', 'ctr', 'hybrid', [v1('memory'), v2('/mnt/cg2')], own).dirs)).toEqual(['memory']);
  });

  it('legacy, absolute cgroupsPath: v1 hierarchies only', () => {
    expect(planCgroup('/ctr', 'x', 'legacy', hybrid, own)).toEqual({
      mode: 'legacy',
      path: '/ctr',
      dirs: { 'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/ctr', memory: '/sys/fs/cgroup/memory/ctr', 'name=systemd': '/sys/fs/cgroup/systemd/ctr' },
      created: [],
    });
  });

  it('a hierarchy mounted from a sub-cgroup (inside a container): paths are relative to its root', () => {
    const ownInside = new Map([['memory', '/docker/abc']]);
    const r = planCgroup(undefined, 'ctr', 'legacy', [v1('memory', '/docker/abc')], ownInside);
    expect(r.dirs).toEqual({ memory: '/sys/fs/cgroup/memory/ctr' });
    expect(r.path).toBe('/docker/abc/ctr');
  });

  it('a path that only shares a prefix with the mount root is not under it', () => {
    const r = planCgroup('/docker/abcdef/ctr', 'ctr', 'legacy', [v1('memory', '/docker/abc')], new Map());
    expect(r.dirs).toEqual({ memory: '/sys/fs/cgroup/memory/docker/abcdef/ctr' });
  });

  it('uses / when our own cgroup in a hierarchy is unknown', () => {
    expect(planCgroup(undefined, 'ctr', 'unified', [v2('/sys/fs/cgroup')], new Map())).toMatchObject({ path: '/ctr', dirs: { '': '/sys/fs/cgroup/ctr' } });
  });

  it('refuses a systemd slice:prefix:name path without --systemd-cgroup', () => {
    expect(() => planCgroup('system.slice:docker:abc', 'abc', 'unified', [v2('/sys/fs/cgroup')], own))
      .toThrow(new TsruncError('linux.cgroupsPath "system.slice:docker:abc" is a systemd slice:prefix:name path; it needs --systemd-cgroup'));
  });

  it('accepts colons in an absolute path', () => {
    expect(planCgroup('/a:b:c', 'x', 'unified', [v2('/sys/fs/cgroup')], own).path).toBe('/a:b:c');
  });

  it('refuses ".." in the path', () => {
    for (const p of ['../escape', '/a/../../b', 'a/..']) {
      expect(() => planCgroup(p, 'x', 'unified', [v2('/sys/fs/cgroup')], own), p).toThrow(`linux.cgroupsPath ${JSON.stringify(p)} must not contain ".."`);
    }
  });
});

describe('on a fake cgroup tree', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tsrunc-cgroup-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const record = (mode: CgroupRecord['mode'], dirs: Record<string, string>): CgroupRecord => ({ mode, path: '/x', dirs, created: [] });

  describe('createCgroup', () => {
    it('creates missing directories top-down and records only those', () => {
      mkdirSync(join(root, 'memory', 'existing'), { recursive: true });
      mkdirSync(join(root, 'pids'));
      const r = record('legacy', { memory: join(root, 'memory', 'existing', 'a', 'b'), pids: join(root, 'pids', 'ctr') });
      createCgroup(r);
      expect(r.created).toEqual([join(root, 'memory', 'existing', 'a'), join(root, 'memory', 'existing', 'a', 'b'), join(root, 'pids', 'ctr')]);
      expect(existsSync(join(root, 'memory', 'existing', 'a', 'b'))).toBe(true);
    });

    it('records nothing for a cgroup that already exists', () => {
      mkdirSync(join(root, 'ctr'));
      const r = record('unified', { '': join(root, 'ctr') });
      createCgroup(r);
      expect(r.created).toEqual([]);
    });

    it('gives a new v1 cpuset cgroup its parent\'s cpus and mems, level by level', () => {
      const cpuset = join(root, 'cpuset');
      mkdirSync(cpuset);
      writeFileSync(join(cpuset, 'cpuset.cpus'), '0-3\n');
      writeFileSync(join(cpuset, 'cpuset.mems'), '0\n');
      const r = record('legacy', { 'cpuset,cpu': join(cpuset, 'a', 'ctr') });
      createCgroup(r);
      for (const d of ['a', 'a/ctr']) {
        expect(readFileSync(join(cpuset, d, 'cpuset.cpus'), 'utf8'), d).toBe('0-3\n');
        expect(readFileSync(join(cpuset, d, 'cpuset.mems'), 'utf8'), d).toBe('0\n');
      }
    });

    it('fills ancestors an engine created with empty cpus and mems, from the nearest one that has them', () => {
      const cpuset = join(root, 'cpuset');
      mkdirSync(join(cpuset, 'pod', 'slice'), { recursive: true });
      writeFileSync(join(cpuset, 'cpuset.cpus'), '0-3\n');
      writeFileSync(join(cpuset, 'cpuset.mems'), '0\n');
      for (const d of ['pod', 'pod/slice']) for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(cpuset, d, f), '');
      const r = record('legacy', { cpuset: join(cpuset, 'pod', 'slice', 'ctr') });
      createCgroup(r);
      expect(r.created).toEqual([join(cpuset, 'pod', 'slice', 'ctr')]);
      for (const d of ['pod', 'pod/slice', 'pod/slice/ctr']) {
        expect(readFileSync(join(cpuset, d, 'cpuset.cpus'), 'utf8'), d).toBe('0-3\n');
        expect(readFileSync(join(cpuset, d, 'cpuset.mems'), 'utf8'), d).toBe('0\n');
      }
    });

    it('copies from the direct parent, and leaves an existing parent as it is', () => {
      const cpuset = join(root, 'cpuset');
      mkdirSync(join(cpuset, 'a'), { recursive: true });
      writeFileSync(join(cpuset, 'cpuset.cpus'), '0-3');
      writeFileSync(join(cpuset, 'cpuset.mems'), '0');
      writeFileSync(join(cpuset, 'a', 'cpuset.cpus'), '1');
      writeFileSync(join(cpuset, 'a', 'cpuset.mems'), '0');
      createCgroup(record('legacy', { cpuset: join(cpuset, 'a', 'ctr') }));
      expect(readFileSync(join(cpuset, 'a', 'ctr', 'cpuset.cpus'), 'utf8')).toBe('1');
      expect(readFileSync(join(cpuset, 'a', 'cpuset.cpus'), 'utf8')).toBe('1');
    });
  });

  describe('destroyCgroup', () => {
    it('removes what was created, with cgroups made inside it, and keeps what existed', async () => {
      const r = record('legacy', { memory: join(root, 'memory', 'a', 'b') });
      mkdirSync(join(root, 'memory'));
      createCgroup(r);
      mkdirSync(join(root, 'memory', 'a', 'b', 'inner', 'deeper'), { recursive: true });
      await destroyCgroup(r);
      expect(existsSync(join(root, 'memory', 'a'))).toBe(false);
      expect(existsSync(join(root, 'memory'))).toBe(true);
    });

    it('does nothing for a pre-existing cgroup', async () => {
      mkdirSync(join(root, 'ctr'));
      const r = record('unified', { '': join(root, 'ctr') });
      createCgroup(r);
      await destroyCgroup(r);
      expect(existsSync(join(root, 'ctr'))).toBe(true);
    });

    it('tolerates directories that are already gone', async () => {
      const r: CgroupRecord = { ...record('unified', { '': join(root, 'gone') }), created: [join(root, 'gone'), join(root, 'gone', 'x')] };
      await expect(destroyCgroup(r)).resolves.toBeUndefined();
    });

    it('reports what it could not remove, after trying the rest', async () => {
      mkdirSync(join(root, 'busy'));
      writeFileSync(join(root, 'busy', 'file'), '');
      mkdirSync(join(root, 'ok'));
      const r: CgroupRecord = { ...record('legacy', { memory: join(root, 'busy'), pids: join(root, 'ok') }), created: [join(root, 'busy'), join(root, 'ok')] };
      await expect(destroyCgroup(r)).rejects.toThrow(new TsruncError(`remove cgroup: ${join(root, 'busy')}: ENOTEMPTY`));
      expect(existsSync(join(root, 'ok'))).toBe(false);
    });

    it('leaves a created parent that another container now uses', async () => {
      const a = record('unified', { '': join(root, 'machine', 'a') });
      const b = record('unified', { '': join(root, 'machine', 'b') });
      createCgroup(a);
      createCgroup(b);
      expect(a.created).toEqual([join(root, 'machine'), join(root, 'machine', 'a')]);
      await destroyCgroup(a);
      expect(existsSync(join(root, 'machine', 'a'))).toBe(false);
      expect(existsSync(join(root, 'machine', 'b'))).toBe(true);
      await destroyCgroup(b);
      expect(existsSync(join(root, 'machine'))).toBe(true); // b did not create it: a did, and a is gone
    });
  });

  describe('joinCgroup', () => {
    it('writes the pid to cgroup.procs of every directory', () => {
      for (const d of ['memory', 'pids', 'unified']) mkdirSync(join(root, d));
      joinCgroup(record('hybrid', { memory: join(root, 'memory'), pids: join(root, 'pids'), '': join(root, 'unified') }), 1234);
      for (const d of ['memory', 'pids', 'unified']) expect(readFileSync(join(root, d, 'cgroup.procs'), 'utf8')).toBe('1234');
    });

    it('names the directory and hierarchy it could not join', () => {
      const dir = join(root, 'missing');
      expect(() => joinCgroup(record('unified', { '': dir }), 1)).toThrow(`join cgroup ${dir} (cgroup2): ENOENT`);
      expect(() => joinCgroup(record('legacy', { 'cpu,cpuacct': dir }), 1)).toThrow(`join cgroup ${dir} (cpu,cpuacct): ENOENT`);
    });
  });

  describe('cgroupPids', () => {
    it('lists the processes of the main directory and of cgroups inside it', () => {
      const main = join(root, 'pids', 'ctr');
      mkdirSync(join(main, 'sub', 'deeper'), { recursive: true });
      mkdirSync(join(root, 'memory'));
      writeFileSync(join(main, 'cgroup.procs'), '10\n11\n');
      writeFileSync(join(main, 'sub', 'cgroup.procs'), '12\n');
      writeFileSync(join(main, 'sub', 'deeper', 'cgroup.procs'), '');
      writeFileSync(join(root, 'memory', 'cgroup.procs'), '99\n');
      expect(cgroupPids(record('legacy', { memory: join(root, 'memory'), pids: main })).sort()).toEqual([10, 11, 12]);
    });

    it('is empty when the cgroup is gone', () => {
      expect(cgroupPids(record('unified', { '': join(root, 'gone') }))).toEqual([]);
    });
  });
});

describe('mainDir and cloneIntoDir', () => {
  const rec = (mode: CgroupRecord['mode'], dirs: Record<string, string>): CgroupRecord => ({ mode, path: '/x', dirs, created: [] });

  it('unified: the one directory, and clone goes straight into it', () => {
    expect(mainDir(rec('unified', { '': '/cg/ctr' }))).toBe('/cg/ctr');
    expect(cloneIntoDir(rec('unified', { '': '/cg/ctr' }))).toBe('/cg/ctr');
  });

  it('v1: the pids hierarchy, else the freezer, else the first', () => {
    expect(mainDir(rec('hybrid', { memory: '/m', 'freezer': '/f', 'pids,foo': '/p', '': '/u' }))).toBe('/p');
    expect(mainDir(rec('legacy', { memory: '/m', freezer: '/f' }))).toBe('/f');
    expect(mainDir(rec('legacy', { memory: '/m', cpu: '/c' }))).toBe('/m');
  });

  it('v1 and hybrid: no clone into a cgroup', () => {
    expect(cloneIntoDir(rec('hybrid', { '': '/u', pids: '/p' }))).toBeUndefined();
    expect(cloneIntoDir(rec('legacy', { pids: '/p' }))).toBeUndefined();
  });
});
