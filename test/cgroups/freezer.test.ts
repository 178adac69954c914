import { afterEach, describe, expect, it } from 'vitest';
import { freezerOf } from '../../src/cgroups/freezer';
import type { CgroupRecord } from '../../src/cgroups/types';
import { FakeCgroupFs } from '../fakes/cgroupfs';

let fs: FakeCgroupFs;
afterEach(() => fs.cleanup());

describe('freezerOf: the one place that knows the freezer files', () => {
  it('v1: freezer.state, found in a hierarchy that carries freezer among others', async () => {
    fs = new FakeCgroupFs();
    const record: CgroupRecord = { mode: 'legacy', path: '/ctr', dirs: { 'freezer,perf_event': fs.dir('freezer/ctr', { 'freezer.state': 'THAWED\n' }) }, created: [] };
    const f = freezerOf(record, fs);
    expect(f.isFrozen()).toBe(false);
    await f.freeze();
    expect(f.isFrozen()).toBe(true);
    f.thaw();
    expect(f.isFrozen()).toBe(false);
    expect(fs.writes.map((w) => `${w.file}=${w.value}`)).toEqual(['freezer/ctr/freezer.state=FROZEN', 'freezer/ctr/freezer.state=THAWED']);
  });

  it('v1 without a freezer hierarchy: not frozen, nothing to thaw, pause is an error', async () => {
    fs = new FakeCgroupFs();
    const f = freezerOf({ mode: 'hybrid', path: '/ctr', dirs: { '': fs.dir('unified/ctr') }, created: [] }, fs);
    expect(f.isFrozen()).toBe(false);
    f.thaw();
    expect(fs.writes).toEqual([]);
    await expect(f.freeze()).rejects.toThrow('the freezer controller is not mounted: cannot pause');
  });

  it('v2: cgroup.freeze written, cgroup.events read', async () => {
    fs = new FakeCgroupFs();
    const dir = fs.dir('unified/ctr', { 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 1\nfrozen 0\n' });
    const f = freezerOf({ mode: 'unified', path: '/ctr', dirs: { '': dir }, created: [] }, fs);
    await f.freeze();
    expect(f.isFrozen()).toBe(true);
    f.thaw();
    expect(f.isFrozen()).toBe(false);
    expect(fs.writes.map((w) => `${w.file}=${w.value}`)).toEqual(['unified/ctr/cgroup.freeze=1', 'unified/ctr/cgroup.freeze=0']);
  });

  it('v2 on a kernel without cgroup.freeze: not frozen, pause is an error naming the directory', async () => {
    fs = new FakeCgroupFs();
    const dir = fs.dir('unified/ctr');
    const f = freezerOf({ mode: 'unified', path: '/ctr', dirs: { '': dir }, created: [] }, fs);
    expect(f.isFrozen()).toBe(false);
    await expect(f.freeze()).rejects.toThrow(`${dir} has no cgroup.freeze (kernel < 5.2): cannot pause`);
  });
});
