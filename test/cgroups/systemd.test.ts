import { describe, expect, it } from 'vitest';
import type { Hierarchy } from '../../src/cgroups/detect';
import { containerRules } from '../../src/cgroups/devices';
import { cloneIntoDir, planCgroup } from '../../src/cgroups/manager';
import {
  cpuQuota, deviceProperties, expandSlice, INFINITY, parseProcDevices, parseSystemdPath, planSystemdCgroup, rangeToBits, resourceProperties,
  scopeProperties, type PropertyContext,
} from '../../src/cgroups/systemd';

const v1 = (key: string): Hierarchy => ({ controllers: key.split(','), key, version: 1, mountPoint: `/sys/fs/cgroup/${key.replace('name=', '')}`, mountRoot: '/' });
const v2 = (mountPoint = '/sys/fs/cgroup'): Hierarchy => ({ controllers: [], key: '', version: 2, mountPoint, mountRoot: '/' });

describe('slice:prefix:name paths', () => {
  it('names a scope in a slice', () => {
    expect(parseSystemdPath('system.slice:docker:abc', 'x')).toEqual({ slice: 'system.slice', unit: 'docker-abc.scope' });
    expect(parseSystemdPath('kubepods-burstable-pod1234.slice:cri-containerd:c0ffee', 'x'))
      .toEqual({ slice: 'kubepods-burstable-pod1234.slice', unit: 'cri-containerd-c0ffee.scope' });
  });

  it('defaults as runc does, with our own prefix', () => {
    expect(parseSystemdPath(undefined, 'ctr1')).toEqual({ slice: 'system.slice', unit: 'tsrunc-ctr1.scope' });
    expect(parseSystemdPath(':p:n', 'x')).toEqual({ slice: 'system.slice', unit: 'p-n.scope' });
  });

  it.each([
    ['/a/b', /must be "slice:prefix:name"/],
    ['a:b', /must be "slice:prefix:name"/],
    ['a.slice:b:c:d', /must be "slice:prefix:name"/],
    ['notaslice:p:n', /invalid slice name "notaslice": it must end in "\.slice"/],
    ['a/b.slice:p:n', /must not contain "\/"/],
    ['a--b.slice:p:n', /invalid slice name/],
    ['-a.slice:p:n', /invalid slice name/],
    ['system.slice:p:', /name .* is empty/],
    ['system.slice:p:x.slice', /slice unit instead of a scope/],
    ['system.slice:p:../../etc', /not a valid systemd unit name/],
    ['system.slice:p:a b', /not a valid systemd unit name/],
    [`system.slice:p:${'x'.repeat(260)}`, /at most 255/],
  ])('refuses %j naming the field', (path, why) => {
    expect(() => parseSystemdPath(path, 'x')).toThrow(/^linux\.cgroupsPath /);
    expect(() => parseSystemdPath(path, 'x')).toThrow(why);
  });

  it('expands nested slices as systemd lays them out', () => {
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
    expect(expandSlice('kubepods-burstable-pod1.slice')).toBe('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice');
    expect(expandSlice('-.slice')).toBe('/');
    expect(() => expandSlice('.slice')).toThrow(/invalid slice/);
  });
});

describe('planSystemdCgroup', () => {
  it('unified: the scope under its slices in the one hierarchy', () => {
    const rec = planSystemdCgroup('kubepods-besteffort.slice:cri-containerd:abc', 'abc', 'unified', [v2()], new Map());
    expect(rec).toEqual({
      mode: 'unified', path: '/kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope',
      dirs: { '': '/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope' },
      created: [], systemd: { slice: 'kubepods-besteffort.slice', unit: 'cri-containerd-abc.scope' },
    });
  });

  it('v1 and hybrid: in every hierarchy, below PID 1\'s cgroup without init.scope', () => {
    const init = new Map([['memory', '/'], ['name=systemd', '/init.scope'], ['', '/init.scope'], ['pids', '/machine/x']]);
    const rec = planSystemdCgroup('system.slice:docker:1', '1', 'hybrid', [v1('memory'), v1('name=systemd'), v1('pids'), v2('/sys/fs/cgroup/unified')], init);
    expect(rec.dirs).toEqual({
      memory: '/sys/fs/cgroup/memory/system.slice/docker-1.scope',
      'name=systemd': '/sys/fs/cgroup/systemd/system.slice/docker-1.scope',
      pids: '/sys/fs/cgroup/pids/machine/x/system.slice/docker-1.scope',
      '': '/sys/fs/cgroup/unified/system.slice/docker-1.scope',
    });
  });

  it('is what planCgroup gives with the driver on; such a record is joined, never cloned into', () => {
    const rec = planCgroup('system.slice:docker:1', '1', 'unified', [v2()], new Map([['', '/user.slice']]), { initCgroup: new Map() });
    expect(rec.dirs['']).toBe('/sys/fs/cgroup/system.slice/docker-1.scope');
    expect(rec.systemd?.unit).toBe('docker-1.scope');
    expect(cloneIntoDir(rec)).toBeUndefined();
    expect(() => planCgroup('/abs/path', 'x', 'unified', [v2()], new Map(), {})).toThrow(/linux\.cgroupsPath "\/abs\/path": with --systemd-cgroup/);
  });
});

const ctx = (over: Partial<PropertyContext> = {}): PropertyContext & { warnings: string[] } => {
  const warnings: string[] = [];
  return {
    mode: 'unified', version: 252, applyDevices: false, warn: (m) => warnings.push(m), warnings,
    procDevices: () => 'Character devices:\n  1 mem\n  4 tty\n136 pts\n\nBlock devices:\n  8 sd\n',
    exists: (p) => p === '/dev/char/1:3' || p === '/sys/dev/char/1:5',
    ...over,
  };
};

describe('unit properties', () => {
  it('every scope: the pid, delegation, accounting', () => {
    const props = scopeProperties({ slice: 's.slice', unit: 'p-n.scope' }, 'n', 42, 'unified');
    expect(props).toContainEqual(['PIDs', 'au', [42]]);
    expect(props).toContainEqual(['Slice', 's', 's.slice']);
    expect(props).toContainEqual(['Delegate', 'b', true]);
    expect(props).toContainEqual(['IOAccounting', 'b', true]);
    expect(props).toContainEqual(['DefaultDependencies', 'b', false]);
    expect(scopeProperties({ slice: 's.slice', unit: 'p-n.scope' }, 'n', 42, 'legacy')).toContainEqual(['BlockIOAccounting', 'b', true]);
  });

  it('v2: memory, swap, CPU weight from shares, quota, pids, io weight, cpuset', () => {
    const props = resourceProperties({
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1,9', mems: '0' },
      pids: { limit: 20 }, blockIO: { weight: 500 },
    }, ctx());
    expect(props).toEqual([
      ['MemoryMax', 't', BigInt(64 << 20)],
      ['MemoryLow', 't', BigInt(32 << 20)],
      ['MemorySwapMax', 't', BigInt(32 << 20)],
      ['CPUWeight', 't', 39n],
      ['CPUQuotaPeriodUSec', 't', 100000n],
      ['CPUQuotaPerSecUSec', 't', 500000n],
      ['TasksMax', 't', 20n],
      ['IOWeight', 't', 4950n],
      ['AllowedCPUs', 'ay', [0b11, 0b10]],
      ['AllowedMemoryNodes', 'ay', [1]],
    ]);
  });

  it('v2: -1 is infinity; unset and 0 are left out', () => {
    // Memory unlimited with no swap given: swap unlimited too (runc's conversion).
    expect(resourceProperties({ memory: { limit: -1 }, pids: { limit: -1 } }, ctx()))
      .toEqual([['MemoryMax', 't', INFINITY], ['MemorySwapMax', 't', INFINITY], ['TasksMax', 't', INFINITY]]);
    expect(resourceProperties({ memory: { limit: 0 }, pids: { limit: 0 }, cpu: {} }, ctx())).toEqual([]);
    expect(() => resourceProperties({ memory: { limit: 100, swap: 50 } }, ctx())).toThrow(/^linux\.resources\.memory\.swap: /);
  });

  it('v1: the v1 names', () => {
    const props = resourceProperties({ memory: { limit: 1 << 20 }, cpu: { shares: 512 }, blockIO: { weight: 300 }, pids: { limit: 5 } }, ctx({ mode: 'hybrid' }));
    expect(props).toEqual([['MemoryLimit', 't', BigInt(1 << 20)], ['CPUShares', 't', 512n], ['TasksMax', 't', 5n], ['BlockIOWeight', 't', 300n]]);
  });

  it('old systemd: no CPUQuotaPeriodUSec before 242, no AllowedCPUs before 244', () => {
    expect(cpuQuota(50000, 200000, 241)).toEqual([['CPUQuotaPerSecUSec', 't', 250000n]]);
    expect(resourceProperties({ cpu: { cpus: '0' } }, ctx({ version: 243 }))).toEqual([]);
  });

  it('CPU quota per second rounds up to 10 ms; a period alone is "no quota"', () => {
    expect(cpuQuota(12345, 100000, 252)).toEqual([['CPUQuotaPeriodUSec', 't', 100000n], ['CPUQuotaPerSecUSec', 't', 130000n]]);
    expect(cpuQuota(0, 50000, 252)).toEqual([['CPUQuotaPeriodUSec', 't', 50000n], ['CPUQuotaPerSecUSec', 't', INFINITY]]);
    expect(cpuQuota(-1, 0, 252)).toEqual([['CPUQuotaPerSecUSec', 't', INFINITY]]);
    expect(cpuQuota(0, 0, 252)).toEqual([]);
  });

  it('unified entries systemd has a property for', () => {
    const props = resourceProperties({ unified: { 'memory.high': '1000', 'memory.min': 'max', 'pids.max': ' 7 ', 'cpu.weight': '300', 'cpu.max': '20000 50000', 'io.max': '8:0 rbps=1', 'cpuset.cpus': '3' } }, ctx());
    expect(props).toEqual([
      ['MemoryHigh', 't', 1000n], ['MemoryMin', 't', INFINITY], ['TasksMax', 't', 7n], ['CPUWeight', 't', 300n],
      ['CPUQuotaPeriodUSec', 't', 50000n], ['CPUQuotaPerSecUSec', 't', 400000n], ['AllowedCPUs', 'ay', [8]],
    ]);
    expect(() => resourceProperties({ unified: { 'memory.max': '1k' } }, ctx())).toThrow(/unified\["memory.max"\]/);
    expect(() => resourceProperties({ unified: { 'cpu.max': 'a b c' } }, ctx())).toThrow(/quota \[period\]/);
  });

  it('cpusets as little-endian bitmask bytes', () => {
    expect(rangeToBits('0', 'f')).toEqual([1]);
    expect(rangeToBits('8', 'f')).toEqual([0, 1]);
    expect(rangeToBits('0-3, 15,', 'f')).toEqual([0x0f, 0x80]);
    for (const bad of ['', 'a', '3-1', '1-', '99999']) expect(() => rangeToBits(bad, 'linux.resources.cpu.cpus')).toThrow(/^linux\.resources\.cpu\.cpus: /);
  });
});

describe('device properties', () => {
  it('an allow list by path, by /proc/devices group and by type wildcard', () => {
    const c = ctx();
    const rules = containerRules([{ allow: false, access: 'rwm' }], undefined);
    const props = deviceProperties(rules, c);
    expect(props.slice(0, 2)).toEqual([['DevicePolicy', 's', 'strict'], ['DeviceAllow', 'a(ss)', []]]);
    const allow = props[2][2] as [string, string][];
    expect(allow).toContainEqual(['char-*', 'm']);
    expect(allow).toContainEqual(['block-*', 'm']);
    expect(allow).toContainEqual(['/dev/char/1:3', 'rwm']);
    expect(allow).toContainEqual(['/dev/char/1:5', 'rwm']);
    expect(allow).toContainEqual(['char-pts', 'rwm']);
    // Devices without a node here are left out, with a word.
    expect(allow.find(([p]) => p === '/dev/char/1:8')).toBeUndefined();
    expect(c.warnings.some((w) => w.includes('/dev/char/1:8'))).toBe(true);
  });

  it('allow-all is DevicePolicy=auto with no list; a deny list becomes deny-all, said', () => {
    expect(deviceProperties([{ type: 'a', major: -1, minor: -1, access: 'rwm', allow: true }], ctx())).toEqual([['DevicePolicy', 's', 'auto'], ['DeviceAllow', 'a(ss)', []]]);
    const c = ctx();
    const props = deviceProperties([{ type: 'a', major: -1, minor: -1, access: 'rwm', allow: true }, { type: 'c', major: 1, minor: 3, access: 'rwm', allow: false }], c);
    expect(props).toEqual([['DevicePolicy', 's', 'strict'], ['DeviceAllow', 'a(ss)', []]]);
    expect(c.warnings[0]).toMatch(/deny-list/);
  });

  it('"*:n" rules and unknown majors are left out with a warning', () => {
    const c = ctx();
    const props = deviceProperties([{ type: 'c', major: -1, minor: 3, access: 'r', allow: true }, { type: 'c', major: 250, minor: -1, access: 'r', allow: true }], c);
    expect(props[2]).toEqual(['DeviceAllow', 'a(ss)', []]);
    expect(c.warnings).toHaveLength(2);
  });

  it('only when asked (an update without devices leaves them)', () => {
    expect(resourceProperties({ devices: [{ allow: false, access: 'rwm' }] }, ctx({ applyDevices: false }))).toEqual([]);
    expect(resourceProperties({ devices: [{ allow: false, access: 'rwm' }] }, ctx({ applyDevices: true }))[0]).toEqual(['DevicePolicy', 's', 'strict']);
  });

  it('reads /proc/devices', () => {
    const m = parseProcDevices('Character devices:\n  1 mem\n  4 /dev/vc/0\n  4 tty\n\nBlock devices:\n  8 sd\n259 blkext\n');
    expect(m.get('c 1')).toBe('mem');
    expect(m.get('c 4')).toBe('/dev/vc/0');
    expect(m.get('b 8')).toBe('sd');
    expect(m.get('c 8')).toBeUndefined();
  });
});
