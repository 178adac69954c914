import { describe, expect, it } from 'vitest';
import { callerCgroupView, isPermissionError, requestedResources } from '../../src/cgroups/rootless';
import { parseHierarchies, parseProcCgroup } from '../../src/cgroups/detect';

describe('requestedResources', () => {
  it('lists the fields that ask for a limit, not defaults, and never device rules', () => {
    expect(requestedResources(undefined)).toEqual([]);
    expect(requestedResources({ devices: [{ allow: false, access: 'rwm' }] })).toEqual([]);
    expect(requestedResources({ memory: { limit: -1, swap: 0 }, cpu: { shares: 0, cpus: '' }, pids: { limit: 0 } })).toEqual([]);
    expect(requestedResources({ memory: { limit: 1 << 20 }, pids: { limit: 10 }, cpu: { cpus: '0' }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }))
      .toEqual(['linux.resources.memory.limit', 'linux.resources.pids.limit', 'linux.resources.cpu.cpus', 'linux.resources.hugepageLimits']);
    expect(requestedResources({ unified: { 'memory.high': '1M' } })).toEqual(['linux.resources.unified.memory.high']);
  });
});

describe('isPermissionError', () => {
  it('EACCES, EPERM and EROFS mean "not yours"; others are real errors', () => {
    const e = (code: string) => Object.assign(new Error(`${code}: x`), { code });
    expect(isPermissionError(e('EACCES'))).toBe(true);
    expect(isPermissionError(e('EPERM'))).toBe(true);
    expect(isPermissionError(e('EROFS'))).toBe(true);
    expect(isPermissionError(e('ENOSPC'))).toBe(false);
    expect(isPermissionError(new Error('join cgroup /x (pids): EACCES: permission denied'))).toBe(true);
  });
});

describe('callerCgroupView', () => {
  const mountinfo = [
    '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
    '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
    '32 25 0:28 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
    '33 25 0:29 /inner /mnt/other rw - cgroup cgroup rw,pids',
  ].join('\n');
  const own = parseProcCgroup('4:memory:/user/1000\n2:cpu,cpuacct:/\n0::/user/1000\n7:pids:/elsewhere\n');
  it("gives the caller's own directory in each hierarchy of the mode (a cgroup mount binds them)", () => {
    const v = callerCgroupView('hybrid', parseHierarchies(mountinfo), own);
    expect(v.dirs).toEqual({
      memory: '/sys/fs/cgroup/memory/user/1000',
      'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct',
      '': '/sys/fs/cgroup/unified/user/1000',
    });
    expect(v.created).toEqual([]);
    // legacy: no cgroup2 directory.
    expect(Object.keys(callerCgroupView('legacy', parseHierarchies(mountinfo), own).dirs)).toEqual(['memory', 'cpu,cpuacct']);
  });
});
