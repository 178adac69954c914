import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { V1Manager } from '../../src/cgroups/v1';
import type { ApplyOptions } from '../../src/cgroups/resources';
import type { CgroupRecord } from '../../src/cgroups/types';
import { FakeCgroupFs } from '../fakes/cgroupfs';

/**
 * The v1 manager against a fake tree laid out like this machine's hybrid
 * host: cpu and cpuacct mounted separately, blkio without weight files,
 * no hugetlb/net_cls/net_prio/rdma, a cgroup2 directory without controllers.
 */
describe('V1Manager on a fake cgroupfs', () => {
  let fs: FakeCgroupFs;
  let dirs: Record<string, string>;
  let warnings: string[];
  const opts = (over: Partial<ApplyOptions> = {}): ApplyOptions => ({ warn: (m) => warnings.push(m), applyDevices: false, ...over });
  let m: V1Manager;

  beforeEach(() => {
    fs = new FakeCgroupFs();
    warnings = [];
    dirs = {
      memory: fs.dir('memory/ctr', {
        'memory.limit_in_bytes': '9223372036854771712\n', 'memory.memsw.limit_in_bytes': '9223372036854771712\n', 'memory.soft_limit_in_bytes': '9223372036854771712\n',
        'memory.swappiness': '60\n', 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n', 'memory.use_hierarchy': '1\n',
        'memory.kmem.limit_in_bytes': '9223372036854771712\n', 'memory.kmem.tcp.limit_in_bytes': '9223372036854771712\n', 'memory.usage_in_bytes': '1048576\n',
        'memory.max_usage_in_bytes': '2097152\n', 'memory.failcnt': '0\n', 'memory.stat': 'cache 4096\nrss 8192\n',
      }),
      cpu: fs.dir('cpu/ctr', { 'cpu.shares': '1024\n', 'cpu.cfs_period_us': '100000\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_burst_us': '0\n', 'cpu.idle': '0\n', 'cpu.rt_period_us': '1000000\n', 'cpu.rt_runtime_us': '0\n', 'cpu.stat': 'nr_periods 4\nnr_throttled 1\nthrottled_time 500\n' }),
      cpuacct: fs.dir('cpuacct/ctr', { 'cpuacct.usage': '123456\n', 'cpuacct.usage_percpu': '100000 23456 \n', 'cpuacct.stat': 'user 3\nsystem 2\n' }),
      cpuset: fs.dir('cpuset/ctr', { 'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n' }),
      pids: fs.dir('pids/ctr', { 'pids.max': 'max\n', 'pids.current': '3\n' }),
      devices: fs.dir('devices/ctr', { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' }),
      freezer: fs.dir('freezer/ctr', { 'freezer.state': 'THAWED\n' }),
      blkio: fs.dir('blkio/ctr', { 'blkio.throttle.read_bps_device': '', 'blkio.throttle.write_bps_device': '', 'blkio.throttle.read_iops_device': '', 'blkio.throttle.write_iops_device': '', 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 0\nTotal 4096\n', 'blkio.throttle.io_serviced_recursive': '8:0 Read 1\n' }),
      'name=systemd': fs.dir('systemd/ctr'),
      '': fs.dir('unified/ctr', { 'cgroup.max.depth': 'max\n' }),
    };
    const record: CgroupRecord = { mode: 'hybrid', path: '/ctr', dirs, created: [] };
    m = new V1Manager(record, fs);
  });
  afterEach(() => fs.cleanup());

  it('finds a controller in a combined hierarchy ("cpu,cpuacct")', () => {
    const combined = new V1Manager({ mode: 'legacy', path: '/x', dirs: { 'cpu,cpuacct': '/a', memory: '/b' }, created: [] }, fs);
    expect(combined.dir('cpu')).toBe('/a');
    expect(combined.dir('cpuacct')).toBe('/a');
    expect(combined.dir('hugetlb')).toBeUndefined();
  });

  describe('memory', () => {
    it('limit, swap, reservation, swappiness, OOM killer', () => {
      m.apply({ memory: { limit: 50593792, swap: 50593792, reservation: 40000000, swappiness: 10, disableOOMKiller: true } }, opts());
      expect(fs.content(dirs.memory, 'memory.limit_in_bytes')).toBe('50593792');
      expect(fs.content(dirs.memory, 'memory.memsw.limit_in_bytes')).toBe('50593792');
      expect(fs.content(dirs.memory, 'memory.soft_limit_in_bytes')).toBe('40000000');
      expect(fs.content(dirs.memory, 'memory.swappiness')).toBe('10');
      expect(fs.content(dirs.memory, 'memory.oom_control')).toBe('1');
    });

    it('writes memsw before memory when raising past the current limit, and after when lowering (the kernel keeps memsw >= memory)', () => {
      m.apply({ memory: { limit: 100 << 20, swap: 200 << 20 } }, opts());
      // Current limit (unlimited) is not below the new memsw: memory first.
      expect(fs.writes.filter((w) => w.file.startsWith('memory/')).map((w) => w.file.split('/').pop())).toEqual(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
      fs.writes.length = 0;
      m.apply({ memory: { limit: 300 << 20, swap: 400 << 20 } }, opts());
      expect(fs.writes.map((w) => w.file.split('/').pop())).toEqual(['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
    });

    it('-1 for memory without swap: both unlimited', () => {
      m.apply({ memory: { limit: -1 } }, opts());
      expect(fs.content(dirs.memory, 'memory.memsw.limit_in_bytes')).toBe('-1');
      expect(fs.content(dirs.memory, 'memory.limit_in_bytes')).toBe('-1');
    });

    it('swap without swap accounting is an error naming the field; unlimited swap is fine', () => {
      const m2 = new V1Manager({ mode: 'legacy', path: '/x', dirs: { memory: fs.dir('nomemsw', { 'memory.limit_in_bytes': '0' }) }, created: [] }, fs);
      expect(() => m2.apply({ memory: { limit: 1 << 20, swap: 2 << 20 } }, opts())).toThrow('linux.resources.memory.swap: swap accounting is not enabled');
      expect(() => m2.apply({ memory: { limit: 1 << 20, swap: -1 } }, opts())).not.toThrow();
    });

    it('a busy limit says how much is in use', () => {
      fs.failures.set('memory.limit_in_bytes', 'EBUSY');
      expect(() => m.apply({ memory: { limit: 4096 } }, opts())).toThrow('linux.resources.memory.limit: unable to set memory limit to 4096 (current usage: 1048576, peak usage: 2097152)');
    });

    it('checkBeforeUpdate refuses a limit at or below the usage', () => {
      expect(() => m.apply({ memory: { limit: 1048576, checkBeforeUpdate: true } }, opts())).toThrow('rejecting memory limit 1048576 <= usage 1048576');
      expect(() => m.apply({ memory: { limit: 1048577, checkBeforeUpdate: true } }, opts())).not.toThrow();
    });

    it('kernel memory: written where the kernel has the file, a warning when it ignores it or lacks it', () => {
      m.apply({ memory: { kernel: 50593792, kernelTCP: 50593792 } }, opts());
      expect(fs.content(dirs.memory, 'memory.kmem.tcp.limit_in_bytes')).toBe('50593792');
      expect(warnings).toEqual([]);
      const noKmem = new V1Manager({ mode: 'legacy', path: '/x', dirs: { memory: fs.dir('nokmem') }, created: [] }, fs);
      noKmem.apply({ memory: { kernel: 1 << 20 } }, opts());
      expect(warnings).toEqual([expect.stringContaining('linux.resources.memory.kernel ignored: this kernel has no memory.kmem.limit_in_bytes')]);
    });

    it('useHierarchy false on a kernel that refuses it: a warning', () => {
      fs.failures.set('memory.use_hierarchy', 'EINVAL');
      m.apply({ memory: { useHierarchy: false } }, opts());
      expect(warnings).toEqual([expect.stringContaining('useHierarchy false ignored')]);
    });

    it('a limit without the memory controller is an error naming the field; defaults are not', () => {
      delete dirs.memory;
      expect(() => m.apply({ memory: { limit: 1 << 20 } }, opts())).toThrow('linux.resources.memory.limit: the memory controller is not mounted');
      expect(() => m.apply({ memory: { limit: -1, swap: 0 } }, opts())).not.toThrow();
    });
  });

  describe('cpu', () => {
    it('shares, quota, period, burst, idle, realtime, cpus, mems', () => {
      m.apply({ cpu: { shares: 512, quota: 50000, period: 200000, burst: 1000, idle: 1, realtimeRuntime: 5000, realtimePeriod: 100000, cpus: '1', mems: '0' } }, opts());
      expect(fs.content(dirs.cpu, 'cpu.shares')).toBe('512');
      expect(fs.content(dirs.cpu, 'cpu.cfs_quota_us')).toBe('50000');
      expect(fs.content(dirs.cpu, 'cpu.cfs_period_us')).toBe('200000');
      expect(fs.content(dirs.cpu, 'cpu.cfs_burst_us')).toBe('1000');
      expect(fs.content(dirs.cpu, 'cpu.idle')).toBe('1');
      expect(fs.content(dirs.cpu, 'cpu.rt_runtime_us')).toBe('5000');
      expect(fs.content(dirs.cpu, 'cpu.rt_period_us')).toBe('100000');
      expect(fs.content(dirs.cpuset, 'cpuset.cpus')).toBe('1');
      expect(fs.content(dirs.cpuset, 'cpuset.mems')).toBe('0');
    });

    it('shares the kernel clamps are an error', () => {
      const clamp = new V1Manager({ mode: 'legacy', path: '/x', dirs: { cpu: fs.dir('clamp', { 'cpu.shares': '' }) }, created: [] }, {
        ...fs, read: (p: string) => (p.endsWith('cpu.shares') ? '262144\n' : fs.read(p)), write: (p: string, v: string) => fs.write(p, v), exists: (p: string) => fs.exists(p),
      });
      expect(() => clamp.apply({ cpu: { shares: 500000 } }, opts())).toThrow('the maximum allowed cpu-shares is 262144');
    });

    it('a period refused against the old quota is written again after the quota (runc)', () => {
      fs.failures.set('cpu.cfs_period_us', 'EINVAL');
      m.apply({ cpu: { quota: 1000, period: 5000 } }, opts());
      expect(fs.writes.map((w) => `${w.file.split('/').pop()}=${w.value}`)).toEqual(['cpu.cfs_quota_us=1000', 'cpu.cfs_period_us=5000']);
    });

    it('realtime without CONFIG_RT_GROUP_SCHED is an error naming the field', () => {
      const noRt = new V1Manager({ mode: 'legacy', path: '/x', dirs: { cpu: fs.dir('nort', { 'cpu.shares': '1024' }) }, created: [] }, fs);
      expect(() => noRt.apply({ cpu: { realtimeRuntime: 1000 } }, opts())).toThrow('linux.resources.cpu.realtimeRuntime: this kernel has no realtime group scheduling');
    });

    it('no cpu controller: an error for a value, nothing for defaults', () => {
      delete dirs.cpu;
      expect(() => m.apply({ cpu: { shares: 2 } }, opts())).toThrow('linux.resources.cpu.shares: the cpu controller is not mounted');
      expect(() => m.apply({ cpu: { quota: -1, shares: 0 } }, opts())).not.toThrow();
    });
  });

  it('pids: a number, or max for -1', () => {
    m.apply({ pids: { limit: 32 } }, opts());
    expect(fs.content(dirs.pids, 'pids.max')).toBe('32');
    m.apply({ pids: { limit: -1 } }, opts());
    expect(fs.content(dirs.pids, 'pids.max')).toBe('max');
    m.apply({ pids: { limit: 0 } }, opts());
    expect(fs.content(dirs.pids, 'pids.max')).toBe('0');
  });

  describe('blockIO', () => {
    it('throttles land per device', () => {
      m.apply({ blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }, { major: 8, minor: 16, rate: 50 }] } }, opts());
      expect(fs.written('blkio.throttle.read_bps_device')).toEqual(['8:0 1048576']);
      expect(fs.written('blkio.throttle.write_iops_device')).toEqual(['8:0 100', '8:16 50']);
    });

    it('a weight without CFQ/BFQ weight files (this host) is an error naming the field', () => {
      expect(() => m.apply({ blockIO: { weight: 500 } }, opts())).toThrow('linux.resources.blockIO.weight: the blkio controller has no weight files here');
      expect(() => m.apply({ blockIO: { weight: 0, weightDevice: [] } }, opts())).not.toThrow();
    });

    it('with BFQ: blkio.bfq.weight and blkio.bfq.weight_device; leaf weights where CFQ has them', () => {
      fs.dir('blkio/ctr', { 'blkio.bfq.weight': '100', 'blkio.bfq.weight_device': '', 'blkio.leaf_weight': '', 'blkio.leaf_weight_device': '' });
      m.apply({ blockIO: { weight: 300, leafWeight: 200, weightDevice: [{ major: 8, minor: 0, weight: 400, leafWeight: 100 }] } }, opts());
      expect(fs.content(dirs.blkio, 'blkio.bfq.weight')).toBe('300');
      expect(fs.written('blkio.bfq.weight_device')).toEqual(['8:0 400']);
      expect(fs.content(dirs.blkio, 'blkio.leaf_weight')).toBe('200');
      expect(fs.written('blkio.leaf_weight_device')).toEqual(['8:0 100']);
    });
  });

  describe('controllers this host does not mount', () => {
    it('hugepageLimits, network, rdma: errors naming the field', () => {
      expect(() => m.apply({ hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }] }, opts())).toThrow('linux.resources.hugepageLimits: the hugetlb controller is not mounted');
      expect(() => m.apply({ network: { classID: 0x100001 } }, opts())).toThrow('linux.resources.network.classID: the net_cls controller is not mounted');
      expect(() => m.apply({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }, opts())).toThrow('linux.resources.network.priorities: the net_prio controller is not mounted');
      expect(() => m.apply({ rdma: { mlx5_0: { hcaHandles: 3 } } }, opts())).toThrow('linux.resources.rdma: the rdma controller is not mounted');
      expect(() => m.apply({ network: { classID: 0, priorities: [] }, hugepageLimits: [], rdma: {} }, opts())).not.toThrow();
    });

    it('and where they are mounted, their files', () => {
      dirs.hugetlb = fs.dir('hugetlb/ctr', { 'hugetlb.2MB.limit_in_bytes': '', 'hugetlb.2MB.rsvd.limit_in_bytes': '' });
      dirs.net_cls = fs.dir('net_cls/ctr', { 'net_cls.classid': '0' });
      dirs.net_prio = fs.dir('net_prio/ctr', { 'net_prio.ifpriomap': '' });
      dirs.rdma = fs.dir('rdma/ctr', { 'rdma.max': '' });
      m.apply({
        hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
        network: { classID: 1048577, priorities: [{ name: 'lo', priority: 2 }, { name: 'eth0', priority: 5 }] },
        rdma: { mlx5_0: { hcaHandles: 3, hcaObjects: 10000 } },
      }, opts());
      expect(fs.content(dirs.hugetlb, 'hugetlb.2MB.limit_in_bytes')).toBe('4194304');
      expect(fs.content(dirs.hugetlb, 'hugetlb.2MB.rsvd.limit_in_bytes')).toBe('4194304');
      expect(fs.content(dirs.net_cls, 'net_cls.classid')).toBe('1048577');
      expect(fs.written('net_prio.ifpriomap')).toEqual(['lo 2', 'eth0 5']);
      expect(fs.written('rdma.max')).toEqual(['mlx5_0 hca_handle=3 hca_object=10000']);
      expect(() => m.apply({ hugepageLimits: [{ pageSize: '1GB', limit: 0 }] }, opts())).toThrow('linux.resources.hugepageLimits[0].pageSize: this host has no 1GB huge pages');
    });
  });

  describe('unified', () => {
    it('hybrid: written to the cgroup2 directory; a controller file it does not have is an error', () => {
      m.apply({ unified: { 'cgroup.max.depth': '3' } }, opts());
      expect(fs.content(dirs[''], 'cgroup.max.depth')).toBe('3');
      expect(() => m.apply({ unified: { 'memory.high': '1000' } }, opts())).toThrow('linux.resources.unified.memory.high: the memory controller is not available');
      expect(() => m.apply({ unified: { '../x': '1' } }, opts())).toThrow('must be a file name');
    });

    it('legacy (no cgroup2): an error', () => {
      const legacy = new V1Manager({ mode: 'legacy', path: '/x', dirs: { memory: dirs.memory }, created: [] }, fs);
      expect(() => legacy.apply({ unified: { 'memory.high': '1' } }, opts())).toThrow('linux.resources.unified: this host uses cgroup v1 only');
    });
  });

  describe('devices', () => {
    it('writes deny-all, the config\'s rules in order, then the defaults; devices.list lists them in that order', () => {
      m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' }, { allow: true, type: 'b', major: 8, minor: 20, access: 'rw' }] }, opts({ applyDevices: true }));
      const list = fs.content(dirs.devices, 'devices.list').trim().split('\n');
      expect(list.slice(0, 4)).toEqual(['c 10:229 rwm', 'b 8:20 rw', 'c *:* m', 'b *:* m']);
      expect(list).toContain('c 1:3 rwm');
    });

    it('on update, only the difference', () => {
      m.apply({ devices: [{ allow: false, access: 'rwm' }] }, opts({ applyDevices: true }));
      fs.writes.length = 0;
      m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 4, minor: 1, access: 'r' }] }, opts({ applyDevices: true }));
      expect(fs.writes.map((w) => `${w.file.split('/').pop()} ${w.value}`)).toEqual(['devices.allow c 4:1 r']);
    });

    it('is left alone when applyDevices is false (an update without devices)', () => {
      m.apply({ devices: [{ allow: true, access: 'rwm' }] }, opts({ applyDevices: false }));
      expect(fs.written('devices.allow')).toEqual([]);
    });

    it('refuses a rule the controller cannot apply, before writing anything', () => {
      expect(() => m.apply({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', access: 'm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'm' }] }, opts({ applyDevices: true }))).toThrow(/punch a hole/);
      expect(fs.writes).toEqual([]);
    });
  });

  describe('freezer', () => {
    it('freezes and thaws', async () => {
      await m.freeze();
      expect(m.isFrozen()).toBe(true);
      m.thaw();
      expect(m.isFrozen()).toBe(false);
    });

    it('without a freezer hierarchy, pause is an error', async () => {
      delete dirs.freezer;
      await expect(m.freeze()).rejects.toThrow('the freezer controller is not mounted');
    });
  });

  it('counts OOM kills, and OOM stalls with the killer disabled', () => {
    expect(m.oomCount()).toBe(0);
    fs.dir('memory/ctr', { 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n' });
    expect(m.oomCount()).toBe(2);
    fs.dir('memory/ctr', { 'memory.oom_control': 'oom_kill_disable 1\nunder_oom 1\noom_kill 2\n' });
    expect(m.oomCount()).toBe(3);
  });

  it('stats: runc\'s document from the v1 files', () => {
    const s = m.stats() as Record<string, Record<string, unknown>>;
    expect(s.cpu).toEqual({ usage: { total: 123456, percpu: [100000, 23456], kernel: 20_000_000, user: 30_000_000 }, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 500 } });
    expect(s.memory.usage).toEqual({ limit: 9223372036854771712n, usage: 1048576, max: 2097152, failcnt: 0 });
    expect(s.memory.cache).toBe(4096);
    expect(s.memory.raw).toEqual({ cache: 4096, rss: 8192 });
    expect(s.pids).toEqual({ current: 3 });
    expect(s.blkio).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 4096 }, { major: 8, op: 'Write' }], ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }] });
    expect(s.hugetlb).toEqual({});
    expect((s.cpuset as Record<string, unknown>).cpus).toEqual([0, 1]);
  });
});
