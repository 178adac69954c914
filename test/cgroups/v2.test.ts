import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDeviceFilter } from '../helpers/device-filter';
import type { ApplyOptions } from '../../src/cgroups/resources';
import { V2Manager } from '../../src/cgroups/v2';
import { enableControllers } from '../../src/cgroups/manager';
import { FakeCgroupFs } from '../fakes/cgroupfs';

/** The v2 manager against a fake unified tree with every controller, as the VM guest has. */
describe('V2Manager on a fake cgroupfs', () => {
  let fs: FakeCgroupFs;
  let dir: string;
  let warnings: string[];
  let attached: { dir: string; program: Buffer }[];
  let m: V2Manager;
  const opts = (over: Partial<ApplyOptions> = {}): ApplyOptions => ({ warn: (w) => warnings.push(w), applyDevices: false, ...over });

  beforeEach(() => {
    fs = new FakeCgroupFs();
    warnings = [];
    attached = [];
    dir = fs.dir('machine/ctr', {
      'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n', 'cgroup.freeze': '0\n', 'cgroup.events': 'populated 1\nfrozen 0\n',
      'memory.max': 'max\n', 'memory.swap.max': 'max\n', 'memory.low': '0\n', 'memory.current': '1048576\n', 'memory.peak': '2097152\n', 'memory.swap.current': '0\n',
      'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n', 'memory.stat': 'anon 8192\nfile 4096\n',
      'cpu.weight': '100\n', 'cpu.max': 'max 100000\n', 'cpu.max.burst': '0\n', 'cpu.idle': '0\n', 'cpu.stat': 'usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 5\nnr_throttled 2\nthrottled_usec 70\n',
      'cpuset.cpus': '', 'cpuset.mems': '', 'cpuset.cpus.effective': '0-1\n', 'cpuset.mems.effective': '0\n',
      'pids.max': 'max\n', 'pids.current': '4\n', 'io.max': '', 'io.weight': 'default 100\n', 'io.stat': '8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
      'hugetlb.2MB.max': 'max\n', 'hugetlb.2MB.rsvd.max': 'max\n', 'rdma.max': '',
    });
    m = new V2Manager({ mode: 'unified', path: '/machine/ctr', dirs: { '': dir }, created: [] }, fs, (d, program) => attached.push({ dir: d, program }));
  });
  afterEach(() => fs.cleanup());

  describe('memory', () => {
    it('memory.max, memory.low, and swap as v2 counts it (memory+swap minus memory)', () => {
      m.apply({ memory: { limit: 64 << 20, swap: 96 << 20, reservation: 32 << 20 } }, opts());
      expect(fs.content(dir, 'memory.max')).toBe(String(64 << 20));
      expect(fs.content(dir, 'memory.swap.max')).toBe(String(32 << 20));
      expect(fs.content(dir, 'memory.low')).toBe(String(32 << 20));
    });

    it('swap equal to the limit: no swap; -1: max; memory -1 alone: both max', () => {
      m.apply({ memory: { limit: 1 << 20, swap: 1 << 20 } }, opts());
      expect(fs.content(dir, 'memory.swap.max')).toBe('0');
      m.apply({ memory: { limit: 1 << 20, swap: -1 } }, opts());
      expect(fs.content(dir, 'memory.swap.max')).toBe('max');
      m.apply({ memory: { limit: -1 } }, opts());
      expect(fs.content(dir, 'memory.max')).toBe('max');
      expect(fs.content(dir, 'memory.swap.max')).toBe('max');
    });

    it('swap below the limit, or without a limit, is an error naming the field', () => {
      expect(() => m.apply({ memory: { limit: 2 << 20, swap: 1 << 20 } }, opts())).toThrow('linux.resources.memory.swap: memory+swap limit');
      expect(() => m.apply({ memory: { swap: 1 << 20 } }, opts())).toThrow('linux.resources.memory.swap: unable to set swap limit without memory limit');
    });

    it('v1-only knobs: swappiness and disableOOMKiller are errors, kernel memory and useHierarchy false warnings', () => {
      expect(() => m.apply({ memory: { swappiness: 10 } }, opts())).toThrow('linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness');
      expect(() => m.apply({ memory: { disableOOMKiller: true } }, opts())).toThrow('linux.resources.memory.disableOOMKiller');
      m.apply({ memory: { kernel: 1 << 20, kernelTCP: 1 << 20, useHierarchy: false, disableOOMKiller: false } }, opts());
      expect(warnings).toEqual([expect.stringContaining('kernel/kernelTCP ignored'), expect.stringContaining('useHierarchy false ignored')]);
    });

    it('checkBeforeUpdate refuses a limit at or below memory.current', () => {
      expect(() => m.apply({ memory: { limit: 1 << 20, checkBeforeUpdate: true } }, opts())).toThrow('rejecting memory limit 1048576 <= usage 1048576');
    });

    it('a controller the parent did not enable: an error naming the field', () => {
      fs.dir('machine/ctr', { 'cgroup.controllers': 'cpu pids\n' });
      expect(() => m.apply({ memory: { limit: 1 << 20 } }, opts())).toThrow('linux.resources.memory.limit: the memory controller is not available');
    });
  });

  describe('cpu', () => {
    it('shares become cpu.weight (runc/crun: 1 + (shares-2)*9999/262142)', () => {
      for (const [shares, weight] of [[2, 1], [1024, 39], [512, 20], [262144, 10000], [100000, 3815]]) {
        m.apply({ cpu: { shares } }, opts());
        expect(fs.content(dir, 'cpu.weight'), String(shares)).toBe(String(weight));
      }
    });

    it('quota and period in cpu.max ("max" without a quota, 100000 without a period), burst, idle', () => {
      m.apply({ cpu: { quota: 50000, period: 200000, burst: 10000, idle: 1 } }, opts());
      expect(fs.content(dir, 'cpu.max')).toBe('50000 200000');
      expect(fs.content(dir, 'cpu.max.burst')).toBe('10000');
      expect(fs.content(dir, 'cpu.idle')).toBe('1');
      m.apply({ cpu: { quota: 20000 } }, opts());
      expect(fs.content(dir, 'cpu.max')).toBe('20000 100000');
      m.apply({ cpu: { quota: -1, period: 50000 } }, opts());
      expect(fs.content(dir, 'cpu.max')).toBe('max 50000');
    });

    it('realtime is an error (v2 has no RT group scheduling)', () => {
      expect(() => m.apply({ cpu: { realtimeRuntime: 1000 } }, opts())).toThrow('linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime group scheduling');
    });

    it('cpus and mems', () => {
      m.apply({ cpu: { cpus: '0', mems: '0' } }, opts());
      expect(fs.content(dir, 'cpuset.cpus')).toBe('0');
      expect(fs.content(dir, 'cpuset.mems')).toBe('0');
    });
  });

  it('pids.max', () => {
    m.apply({ pids: { limit: 10 } }, opts());
    expect(fs.content(dir, 'pids.max')).toBe('10');
    m.apply({ pids: { limit: -1 } }, opts());
    expect(fs.content(dir, 'pids.max')).toBe('max');
  });

  describe('io', () => {
    it('throttles as io.max lines per device; weight converted for io.weight without BFQ', () => {
      m.apply({ blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }], throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 10 }] } }, opts());
      expect(fs.written('io.max')).toEqual(['8:0 rbps=1048576', '8:0 wbps=2097152', '8:16 riops=100', '8:16 wiops=10']);
      expect(fs.content(dir, 'io.weight')).toBe(String(1 + Math.floor((490 * 9999) / 990)));
    });

    it('with BFQ: io.bfq.weight takes blkio weights as they are, per device too', () => {
      fs.dir('machine/ctr', { 'io.bfq.weight': 'default 100\n' });
      m.apply({ blockIO: { weight: 300, weightDevice: [{ major: 8, minor: 0, weight: 700 }] } }, opts());
      expect(fs.written('io.bfq.weight')).toEqual(['300', '8:0 700']);
    });

    it('leaf weights are an error', () => {
      expect(() => m.apply({ blockIO: { leafWeight: 10 } }, opts())).toThrow('linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights');
    });
  });

  it('hugetlb.<size>.max and its rsvd twin; rdma.max', () => {
    m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 8388608 }], rdma: { mlx4_0: { hcaObjects: 5 } } }, opts());
    expect(fs.content(dir, 'hugetlb.2MB.max')).toBe('8388608');
    expect(fs.content(dir, 'hugetlb.2MB.rsvd.max')).toBe('8388608');
    expect(fs.written('rdma.max')).toEqual(['mlx4_0 hca_object=5']);
    expect(() => m.apply({ hugepageLimits: [{ pageSize: '1GB', limit: 0 }] }, opts())).toThrow('hugepageLimits[0].pageSize: this host has no 1GB huge pages');
  });

  it('network is an error unless empty (no net_cls/net_prio in v2)', () => {
    expect(() => m.apply({ network: { classID: 7 } }, opts())).toThrow('linux.resources.network.classID: cgroup v2 has no net_cls controller');
    expect(() => m.apply({ network: { classID: 0, priorities: [] } }, opts())).not.toThrow();
  });

  it('unified: each key written; multi-line values line by line; unknown files named', () => {
    fs.dir('machine/ctr', { 'memory.high': 'max\n', 'io.max': '' });
    m.apply({ unified: { 'memory.high': '50000000', 'io.max': '8:0 rbps=1\n8:16 wbps=2' } }, opts());
    expect(fs.content(dir, 'memory.high')).toBe('50000000');
    expect(fs.written('io.max')).toEqual(['8:0 rbps=1', '8:16 wbps=2']);
    expect(() => m.apply({ unified: { 'nonexistent.knob': '1' } }, opts())).toThrow('linux.resources.unified.nonexistent.knob: the nonexistent controller is not available');
    expect(() => m.apply({ unified: { 'memory.nosuch': '1' } }, opts())).toThrow('linux.resources.unified.memory.nosuch: ' + dir + ' has no such file');
  });

  describe('devices', () => {
    it('attaches one program implementing the config\'s rules plus the defaults', () => {
      m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }] }, opts({ applyDevices: true }));
      expect(attached).toHaveLength(1);
      const p = attached[0].program;
      expect(attached[0].dir).toBe(dir);
      expect(runDeviceFilter(p, 'c', 10, 229, 'rw')).toBe(true);
      expect(runDeviceFilter(p, 'c', 10, 229, 'm')).toBe(true); // the default "c *:* m"
      expect(runDeviceFilter(p, 'c', 1, 3, 'rw')).toBe(true); // /dev/null
      expect(runDeviceFilter(p, 'b', 8, 0, 'r')).toBe(false);
    });

    it('names the field when the kernel refuses the program', () => {
      const failing = new V2Manager({ mode: 'unified', path: '/x', dirs: { '': dir }, created: [] }, fs, () => { throw new Error('bpf(BPF_PROG_LOAD): EPERM'); });
      expect(() => failing.apply({}, opts({ applyDevices: true }))).toThrow(`linux.resources.devices: installing the eBPF device filter on ${dir}: bpf(BPF_PROG_LOAD): EPERM`);
    });

    it('not touched on an update without devices', () => {
      m.apply({ devices: [{ allow: true, access: 'rwm' }] }, opts());
      expect(attached).toEqual([]);
    });
  });

  it('freezes through cgroup.freeze and waits for cgroup.events to say frozen', async () => {
    await m.freeze();
    expect(fs.content(dir, 'cgroup.freeze')).toBe('1');
    expect(m.isFrozen()).toBe(true);
    m.thaw();
    expect(m.isFrozen()).toBe(false);
  });

  it('OOM kills from memory.events', () => {
    expect(m.oomCount()).toBe(1);
  });

  it('stats from the v2 files, in runc\'s v1-compatible shape', () => {
    const s = m.stats() as Record<string, Record<string, unknown>>;
    expect(s.cpu).toEqual({ usage: { total: 1_000_000, kernel: 400_000, user: 600_000 }, throttling: { periods: 5, throttledPeriods: 2, throttledTime: 70_000 } });
    expect(s.memory.usage).toEqual({ limit: 18446744073709551615n, usage: 1048576, max: 2097152, failcnt: 0 });
    expect(s.memory.cache).toBe(4096);
    expect(s.pids).toEqual({ current: 4 });
    expect(s.blkio).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 4096 }, { major: 8, op: 'Write' }], ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }, { major: 8, op: 'Write' }] });
    expect(s.cpuset).toEqual({ cpus: [0, 1], mems: [0] });
  });
});

describe('enableControllers', () => {
  it('enables, top down, what each ancestor has and has not enabled for its children', () => {
    const fs = new FakeCgroupFs();
    try {
      // The root has everything enabled already: only the middle one is written.
      fs.dir('cg', { 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.subtree_control': 'cpu memory pids\n' });
      const mid = fs.dir('cg/machine', { 'cgroup.controllers': 'cpu memory pids\n', 'cgroup.subtree_control': 'pids\n' });
      fs.dir('cg/machine/ctr', { 'cgroup.controllers': 'pids\n', 'cgroup.subtree_control': '' });
      enableControllers(join(mid, 'ctr'), fs);
      expect(fs.writes).toEqual([{ file: 'cg/machine/cgroup.subtree_control', value: '+cpu +memory' }]);
    } finally {
      fs.cleanup();
    }
  });

  it('writes the root before its children when the root lacks a controller', () => {
    const fs = new FakeCgroupFs();
    try {
      const root = fs.dir('cg', { 'cgroup.controllers': 'cpu io memory\n', 'cgroup.subtree_control': 'memory\n' });
      fs.dir('cg/machine', { 'cgroup.controllers': 'cpu io memory\n', 'cgroup.subtree_control': 'cpu io memory\n' });
      fs.dir('cg/machine/ctr', { 'cgroup.controllers': '', 'cgroup.subtree_control': '' });
      enableControllers(join(root, 'machine', 'ctr'), fs);
      expect(fs.writes).toEqual([{ file: 'cg/cgroup.subtree_control', value: '+cpu +io' }]);
    } finally {
      fs.cleanup();
    }
  });
});
