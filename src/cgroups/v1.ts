import { join } from 'node:path';
import type { Resources } from '../spec/types';
import { TsruncError, errnoOf } from '../sys/errors';
import { containerRules, DeviceEmulator, v1Transition } from './devices';
import { fieldError, parseKeyValues, realFs, writeField, type CgroupFs } from './fs';
import { counter, cpuList, hugePageSizes, isSet, memoryEntry, omitZero, rdmaLine, writeUnified, type ApplyOptions, type CgroupManager, type Stats } from './resources';
import { freezerOf } from './freezer';
import type { CgroupRecord } from './types';

const R = 'linux.resources';

/**
 * cgroup v1 (legacy), and hybrid hosts: one directory per controller
 * hierarchy (record.dirs, keyed "memory", "cpu,cpuacct", ...). On hybrid
 * hosts the cgroup2 directory (key "") has no controllers: it only holds
 * the processes, and `unified` values are written there.
 */
export class V1Manager implements CgroupManager {
  constructor(readonly record: CgroupRecord, private readonly fs: CgroupFs = realFs) {}

  /** The directory of a controller's hierarchy, if it is mounted. */
  dir(controller: string): string | undefined {
    const key = Object.keys(this.record.dirs).find((k) => k !== '' && k.split(',').includes(controller));
    return key === undefined ? undefined : this.record.dirs[key];
  }

  private need(controller: string, field: string): string {
    const d = this.dir(controller);
    if (d === undefined) throw new TsruncError(`${field}: the ${controller} controller is not mounted`);
    return d;
  }

  private write(field: string, dir: string, file: string, value: string | number): void {
    writeField(this.fs, field, dir, file, String(value));
  }

  private read(dir: string, file: string): string | undefined {
    try {
      return this.fs.read(join(dir, file));
    } catch {
      return undefined;
    }
  }

  apply(r: Resources, o: ApplyOptions): void {
    // The order of runc's v1 manager: cpuset, devices, memory, cpu, pids, blkio, hugetlb, net_*, rdma.
    this.cpuset(r);
    if (o.applyDevices) this.devices(r, o);
    this.memory(r, o);
    this.cpu(r);
    this.pids(r);
    this.blockIO(r);
    this.hugetlb(r);
    this.network(r);
    this.rdma(r);
    this.unified(r);
  }

  private cpuset(r: Resources): void {
    const { cpus, mems } = r.cpu ?? {};
    if (!cpus && !mems) return;
    const d = this.need('cpuset', `${R}.cpu.${cpus ? 'cpus' : 'mems'}`);
    if (cpus) this.write(`${R}.cpu.cpus`, d, 'cpuset.cpus', cpus);
    if (mems) this.write(`${R}.cpu.mems`, d, 'cpuset.mems', mems);
  }

  private devices(r: Resources, o: ApplyOptions): void {
    const rules = containerRules(r.devices, o.devices);
    const d = this.dir('devices');
    if (d === undefined) {
      if (r.devices?.length) throw new TsruncError(`${R}.devices: the devices controller is not mounted`);
      return; // nothing to restrict with: only the default rules
    }
    const current = DeviceEmulator.fromList(this.read(d, 'devices.list') ?? 'a *:* rwm');
    for (const w of v1Transition(current, rules)) this.write(`${R}.devices`, d, w.file, w.value);
    // The kernel accepted every write; check it now holds exactly what the rules say.
    // (An allow-all cgroup shows only "a *:* rwm": then only the mode can be checked.)
    const after = DeviceEmulator.fromList(this.read(d, 'devices.list') ?? '');
    const target = DeviceEmulator.of(rules);
    if (target.defaultAllow ? !after.defaultAllow : !after.equals(target)) {
      throw new TsruncError(`${R}.devices: ${d}/devices.list is ${JSON.stringify(after.list().join(', '))}, expected ${JSON.stringify(target.list().join(', '))}`);
    }
  }

  private memory(r: Resources, o: ApplyOptions): void {
    const m = r.memory;
    if (!m) return;
    const d = this.dir('memory');
    if (d === undefined) {
      for (const k of ['limit', 'reservation', 'swap'] as const) if (isSet(m[k])) throw new TsruncError(`${R}.memory.${k}: the memory controller is not mounted`);
      if (m.swappiness !== undefined) throw new TsruncError(`${R}.memory.swappiness: the memory controller is not mounted`);
      if (m.disableOOMKiller) throw new TsruncError(`${R}.memory.disableOOMKiller: the memory controller is not mounted`);
      if (isSet(m.kernel) || isSet(m.kernelTCP)) o.warn(`${R}.memory.kernel/kernelTCP ignored: the memory controller is not mounted`);
      return;
    }
    const limit = m.limit ?? 0;
    let swap = m.swap ?? 0;
    const memsw = this.fs.exists(join(d, 'memory.memsw.limit_in_bytes'));
    // -1 for memory and nothing for swap: both unlimited (runc).
    if (limit === -1 && swap === 0 && memsw) swap = -1;
    if (m.checkBeforeUpdate && (limit > 0 || swap > 0)) {
      const usage = Number(this.read(d, 'memory.usage_in_bytes') ?? 0);
      if (limit > 0 && limit <= usage) throw new TsruncError(`${R}.memory.limit: rejecting memory limit ${limit} <= usage ${usage} (checkBeforeUpdate)`);
      if (swap > 0 && swap <= usage) throw new TsruncError(`${R}.memory.swap: rejecting memory+swap limit ${swap} <= usage ${usage} (checkBeforeUpdate)`);
    }
    const setLimit = () => {
      if (limit === 0) return;
      try {
        this.fs.write(join(d, 'memory.limit_in_bytes'), String(limit));
      } catch (err) {
        if (errnoOf(err) === 'EBUSY') {
          throw new TsruncError(`${R}.memory.limit: unable to set memory limit to ${limit} (current usage: ${this.read(d, 'memory.usage_in_bytes')?.trim()}, peak usage: ${this.read(d, 'memory.max_usage_in_bytes')?.trim()})`);
        }
        throw fieldError(`${R}.memory.limit`, `write ${limit} to ${d}/memory.limit_in_bytes`, err);
      }
    };
    const setSwap = () => {
      if (swap === 0) return;
      if (!memsw) {
        if (swap === -1) return; // unlimited without swap accounting is what there is
        throw new TsruncError(`${R}.memory.swap: swap accounting is not enabled in this kernel (no memory.memsw.limit_in_bytes)`);
      }
      this.write(`${R}.memory.swap`, d, 'memory.memsw.limit_in_bytes', swap);
    };
    // memsw must stay >= memory at every step: which to write first depends on the way they move (runc).
    const current = Number(this.read(d, 'memory.limit_in_bytes') ?? 0);
    if (limit !== 0 && swap !== 0 && (swap === -1 || current < swap)) {
      setSwap();
      setLimit();
    } else {
      setLimit();
      setSwap();
    }
    if (isSet(m.reservation) || m.reservation === -1) this.write(`${R}.memory.reservation`, d, 'memory.soft_limit_in_bytes', m.reservation!);
    if (m.disableOOMKiller !== undefined) {
      if (m.disableOOMKiller || this.read(d, 'memory.oom_control')?.includes('oom_kill_disable 1')) {
        this.write(`${R}.memory.disableOOMKiller`, d, 'memory.oom_control', m.disableOOMKiller ? 1 : 0);
      }
    }
    if (m.swappiness !== undefined) {
      if (m.swappiness < 0 || m.swappiness > 100) throw new TsruncError(`${R}.memory.swappiness: ${m.swappiness} is not in 0..100`);
      this.write(`${R}.memory.swappiness`, d, 'memory.swappiness', m.swappiness);
    }
    if (m.useHierarchy !== undefined) {
      try {
        this.fs.write(join(d, 'memory.use_hierarchy'), m.useHierarchy ? '1' : '0');
      } catch (err) {
        if (m.useHierarchy) throw fieldError(`${R}.memory.useHierarchy`, `write 1 to ${d}/memory.use_hierarchy`, err);
        o.warn(`${R}.memory.useHierarchy false ignored: this kernel always accounts hierarchically (${errnoOf(err) ?? (err as Error).message})`);
      }
    }
    this.kernelMemory(d, 'kernel', 'memory.kmem.limit_in_bytes', m.kernel, o);
    this.kernelMemory(d, 'kernelTCP', 'memory.kmem.tcp.limit_in_bytes', m.kernelTCP, o);
  }

  /** Kernel memory limits are deprecated: applied where the kernel still has them, otherwise a warning. */
  private kernelMemory(d: string, key: 'kernel' | 'kernelTCP', file: string, value: number | undefined, o: ApplyOptions): void {
    if (value === undefined || value === 0) return;
    const field = `${R}.memory.${key}`;
    if (!this.fs.exists(join(d, file))) {
      o.warn(`${field} ignored: this kernel has no ${file} (kernel memory limits are deprecated)`);
      return;
    }
    try {
      this.fs.write(join(d, file), String(value));
    } catch (err) {
      o.warn(`${field} ignored: write ${value} to ${file}: ${errnoOf(err) ?? (err as Error).message} (kernel memory limits are deprecated)`);
      return;
    }
    const back = Number(this.read(d, file)?.trim());
    if (value > 0 && back !== value) o.warn(`${field} ignored: this kernel accepts ${file} but does not enforce it (it reads back ${this.read(d, file)?.trim()})`);
  }

  private cpu(r: Resources): void {
    const c = r.cpu;
    if (!c) return;
    const wanted = (['shares', 'quota', 'period', 'burst', 'realtimeRuntime', 'realtimePeriod', 'idle'] as const)
      .filter((k) => c[k] !== undefined && c[k] !== 0 && !(k === 'quota' && c[k] === -1));
    const d = this.dir('cpu');
    if (d === undefined) {
      if (wanted.length) throw new TsruncError(`${R}.cpu.${wanted[0]}: the cpu controller is not mounted`);
      return;
    }
    if (c.shares) {
      this.write(`${R}.cpu.shares`, d, 'cpu.shares', c.shares);
      const back = Number(this.read(d, 'cpu.shares'));
      if (c.shares > back) throw new TsruncError(`${R}.cpu.shares: the maximum allowed cpu-shares is ${back}`);
      if (c.shares < back) throw new TsruncError(`${R}.cpu.shares: the minimum allowed cpu-shares is ${back}`);
    }
    const quota = c.quota ?? 0;
    // A new period may be refused against the old quota (EINVAL): then it is written again after the quota (runc).
    let periodLater = false;
    if (c.period) {
      try {
        this.fs.write(join(d, 'cpu.cfs_period_us'), String(c.period));
      } catch (err) {
        if (errnoOf(err) !== 'EINVAL' || quota === 0) throw fieldError(`${R}.cpu.period`, `write ${c.period} to ${d}/cpu.cfs_period_us`, err);
        periodLater = true;
      }
    }
    let burstLater = false;
    if (c.burst !== undefined) {
      try {
        this.fs.write(join(d, 'cpu.cfs_burst_us'), String(c.burst));
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') {
          if (c.burst !== 0) throw new TsruncError(`${R}.cpu.burst: this kernel has no cpu.cfs_burst_us`);
        } else if (errnoOf(err) !== 'EINVAL' || quota === 0) {
          throw fieldError(`${R}.cpu.burst`, `write ${c.burst} to ${d}/cpu.cfs_burst_us`, err);
        } else {
          burstLater = true;
        }
      }
    }
    if (quota !== 0) {
      this.write(`${R}.cpu.quota`, d, 'cpu.cfs_quota_us', quota);
      if (periodLater) this.write(`${R}.cpu.period`, d, 'cpu.cfs_period_us', c.period!);
      if (burstLater) this.write(`${R}.cpu.burst`, d, 'cpu.cfs_burst_us', c.burst!);
    }
    if (c.idle !== undefined) {
      if (!this.fs.exists(join(d, 'cpu.idle'))) {
        if (c.idle !== 0) throw new TsruncError(`${R}.cpu.idle: this kernel has no cpu.idle`);
      } else {
        this.write(`${R}.cpu.idle`, d, 'cpu.idle', c.idle);
      }
    }
    this.realtime(d, c.realtimeRuntime ?? 0, c.realtimePeriod ?? 0);
  }

  private realtime(d: string, runtime: number, period: number): void {
    if (!runtime && !period) return;
    if (!this.fs.exists(join(d, 'cpu.rt_runtime_us'))) {
      throw new TsruncError(`${R}.cpu.${runtime ? 'realtimeRuntime' : 'realtimePeriod'}: this kernel has no realtime group scheduling (no cpu.rt_runtime_us; CONFIG_RT_GROUP_SCHED)`);
    }
    let periodLater = false;
    if (period) {
      try {
        this.fs.write(join(d, 'cpu.rt_period_us'), String(period));
      } catch (err) {
        if (errnoOf(err) !== 'EINVAL' || !runtime) throw fieldError(`${R}.cpu.realtimePeriod`, `write ${period} to ${d}/cpu.rt_period_us`, err);
        periodLater = true;
      }
    }
    if (runtime) {
      this.write(`${R}.cpu.realtimeRuntime`, d, 'cpu.rt_runtime_us', runtime);
      if (periodLater) this.write(`${R}.cpu.realtimePeriod`, d, 'cpu.rt_period_us', period);
    }
  }

  private pids(r: Resources): void {
    const limit = r.pids?.limit;
    if (limit === undefined) return;
    const d = this.dir('pids');
    if (d === undefined) {
      if (limit !== -1) throw new TsruncError(`${R}.pids.limit: the pids controller is not mounted`);
      return;
    }
    this.write(`${R}.pids.limit`, d, 'pids.max', limit < 0 ? 'max' : limit);
  }

  private blockIO(r: Resources): void {
    const b = r.blockIO;
    if (!b) return;
    const throttles = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ] as const;
    const any = !!b.weight || !!b.leafWeight || !!b.weightDevice?.length || throttles.some(([k]) => b[k]?.length);
    const d = this.dir('blkio');
    if (d === undefined) {
      if (any) throw new TsruncError(`${R}.blockIO: the blkio controller is not mounted`);
      return;
    }
    // CFQ's files, or BFQ's (blkio.bfq.*) on kernels without CFQ; here, possibly neither.
    const weightFile = this.fs.exists(join(d, 'blkio.weight')) ? 'blkio.weight' : this.fs.exists(join(d, 'blkio.bfq.weight')) ? 'blkio.bfq.weight' : undefined;
    const weightDeviceFile = weightFile === 'blkio.weight' ? 'blkio.weight_device' : 'blkio.bfq.weight_device';
    const noWeight = (field: string) => new TsruncError(`${field}: the blkio controller has no weight files here (neither blkio.weight nor blkio.bfq.weight: no CFQ or BFQ I/O scheduler)`);
    if (b.weight) {
      if (!weightFile) throw noWeight(`${R}.blockIO.weight`);
      this.write(`${R}.blockIO.weight`, d, weightFile, b.weight);
    }
    if (b.leafWeight) {
      if (!this.fs.exists(join(d, 'blkio.leaf_weight'))) throw new TsruncError(`${R}.blockIO.leafWeight: this kernel has no blkio.leaf_weight`);
      this.write(`${R}.blockIO.leafWeight`, d, 'blkio.leaf_weight', b.leafWeight);
    }
    (b.weightDevice ?? []).forEach((w, i) => {
      const field = `${R}.blockIO.weightDevice[${i}]`;
      if (w.weight) {
        if (!weightFile) throw noWeight(field);
        this.write(field, d, weightDeviceFile, `${w.major}:${w.minor} ${w.weight}`);
      }
      if (w.leafWeight) {
        if (!this.fs.exists(join(d, 'blkio.leaf_weight_device'))) throw new TsruncError(`${field}.leafWeight: this kernel has no blkio.leaf_weight_device`);
        this.write(field, d, 'blkio.leaf_weight_device', `${w.major}:${w.minor} ${w.leafWeight}`);
      }
    });
    for (const [key, file] of throttles) {
      (b[key] ?? []).forEach((t, i) => this.write(`${R}.blockIO.${key}[${i}]`, d, file, `${t.major}:${t.minor} ${t.rate}`));
    }
  }

  private hugetlb(r: Resources): void {
    const limits = r.hugepageLimits ?? [];
    if (!limits.length) return;
    const d = this.need('hugetlb', `${R}.hugepageLimits`);
    limits.forEach((h, i) => {
      const field = `${R}.hugepageLimits[${i}]`;
      const file = `hugetlb.${h.pageSize}.limit_in_bytes`;
      if (!this.fs.exists(join(d, file))) throw new TsruncError(`${field}.pageSize: this host has no ${h.pageSize} huge pages (no ${file})`);
      this.write(field, d, file, h.limit);
      const rsvd = `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`;
      if (this.fs.exists(join(d, rsvd))) this.write(field, d, rsvd, h.limit);
    });
  }

  private network(r: Resources): void {
    const n = r.network;
    if (!n) return;
    if (n.classID) this.write(`${R}.network.classID`, this.need('net_cls', `${R}.network.classID`), 'net_cls.classid', n.classID);
    if (n.priorities?.length) {
      const d = this.need('net_prio', `${R}.network.priorities`);
      n.priorities.forEach((p, i) => this.write(`${R}.network.priorities[${i}]`, d, 'net_prio.ifpriomap', `${p.name} ${p.priority}`));
    }
  }

  private rdma(r: Resources): void {
    const entries = Object.entries(r.rdma ?? {});
    if (!entries.length) return;
    const d = this.need('rdma', `${R}.rdma`);
    for (const [dev, l] of entries) this.write(`${R}.rdma.${dev}`, d, 'rdma.max', rdmaLine(dev, l));
  }

  private unified(r: Resources): void {
    const entries = Object.entries(r.unified ?? {});
    if (!entries.length) return;
    const d = this.record.dirs[''];
    if (this.record.mode === 'legacy' || d === undefined) {
      throw new TsruncError(`${R}.unified: this host uses cgroup v1 only; unified values need cgroup v2`);
    }
    // Hybrid: the cgroup2 hierarchy has no controllers, only its cgroup.* files.
    for (const [k, v] of entries) writeUnified(this.fs, d, k, v, new Set());
  }

  // The freezer (freezer.ts).
  freeze(): Promise<void> {
    return freezerOf(this.record, this.fs).freeze();
  }

  thaw(): void {
    freezerOf(this.record, this.fs).thaw();
  }

  isFrozen(): boolean {
    return freezerOf(this.record, this.fs).isFrozen();
  }

  oomCount(): number {
    const d = this.dir('memory');
    if (d === undefined) return 0;
    const oc = parseKeyValues(this.read(d, 'memory.oom_control') ?? '');
    // oom_kill counts kills; with the killer disabled, being under_oom is the event.
    return (oc.oom_kill ?? 0) + (oc.under_oom ?? 0);
  }

  stats(): Stats {
    const s: Stats = {};
    const cpu: Record<string, unknown> = {};
    const acct = this.dir('cpuacct');
    const usage: Record<string, unknown> = {};
    let kernel = 0, user = 0;
    if (acct !== undefined) {
      const total = counter(this.read(acct, 'cpuacct.usage'));
      if (total) usage.total = total;
      const list = (f: string) => (this.read(acct, f) ?? '').trim().split(/\s+/).filter(Boolean).map((x) => counter(x));
      const percpu = list('cpuacct.usage_percpu');
      if (percpu.length) usage.percpu = percpu;
      const pk = list('cpuacct.usage_percpu_sys');
      if (pk.length) usage.percpu_kernel = pk;
      const pu = list('cpuacct.usage_percpu_user');
      if (pu.length) usage.percpu_user = pu;
      // cpuacct.stat is in USER_HZ ticks (100 a second on Linux).
      const st = parseKeyValues(this.read(acct, 'cpuacct.stat') ?? '');
      kernel = (st.system ?? 0) * 10_000_000;
      user = (st.user ?? 0) * 10_000_000;
    }
    cpu.usage = { ...usage, kernel, user };
    const cpuDir = this.dir('cpu');
    if (cpuDir !== undefined) {
      const st = parseKeyValues(this.read(cpuDir, 'cpu.stat') ?? '');
      const throttling = omitZero({ periods: st.nr_periods, throttledPeriods: st.nr_throttled, throttledTime: st.throttled_time });
      if (Object.keys(throttling).length) cpu.throttling = throttling;
    }
    s.cpu = cpu;
    s.cpuset = this.cpusetStats();
    s.memory = this.memoryStats();
    const pidsDir = this.dir('pids');
    s.pids = pidsDir === undefined ? {} : omitZero({ current: counter(this.read(pidsDir, 'pids.current')), limit: limitOrZero(this.read(pidsDir, 'pids.max')) });
    s.blkio = this.blkioStats();
    s.hugetlb = this.hugetlbStats();
    s.intel_rdt = {};
    s.network_interfaces = null;
    return s;
  }

  private cpusetStats(): Record<string, unknown> {
    const d = this.dir('cpuset');
    const out: Record<string, unknown> = {};
    if (d === undefined) return out;
    const cpus = cpuList(this.read(d, 'cpuset.cpus'));
    if (cpus.length) out.cpus = cpus;
    out.cpu_exclusive = counter(this.read(d, 'cpuset.cpu_exclusive'));
    const mems = cpuList(this.read(d, 'cpuset.mems'));
    if (mems.length) out.mems = mems;
    for (const k of ['mem_hardwall', 'mem_exclusive', 'memory_migrate', 'memory_spread_page', 'memory_spread_slab', 'memory_pressure', 'sched_load_balance']) {
      out[k] = counter(this.read(d, `cpuset.${k}`));
    }
    out.sched_relax_domain_level = Number(this.read(d, 'cpuset.sched_relax_domain_level')?.trim() ?? 0) || 0;
    return out;
  }

  private memoryStats(): Record<string, unknown> {
    const d = this.dir('memory');
    if (d === undefined) return {};
    const raw: Record<string, number | bigint> = {};
    for (const line of (this.read(d, 'memory.stat') ?? '').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) raw[k] = counter(v);
    }
    const entry = (prefix: string) => {
      const usage = this.read(d, `${prefix}.usage_in_bytes`);
      if (usage === undefined) return undefined;
      const e = { limit: counter(this.read(d, `${prefix}.limit_in_bytes`)), usage: counter(usage), max: counter(this.read(d, `${prefix}.max_usage_in_bytes`)), failcnt: counter(this.read(d, `${prefix}.failcnt`)) };
      return memoryEntry(e);
    };
    const out: Record<string, unknown> = {};
    if (raw.cache) out.cache = raw.cache;
    for (const [key, prefix] of [['usage', 'memory'], ['swap', 'memory.memsw'], ['kernel', 'memory.kmem'], ['kernelTCP', 'memory.kmem.tcp']]) {
      const e = entry(prefix);
      if (e) out[key] = e;
    }
    if (Object.keys(raw).length) out.raw = raw;
    return out;
  }

  private blkioStats(): Record<string, unknown> {
    const d = this.dir('blkio');
    if (d === undefined) return {};
    const out: Record<string, unknown> = {};
    // The first set of files that exists, as runc reads them: BFQ, CFQ, then the throttle layer's.
    for (const [bytes, ios] of [
      ['blkio.bfq.io_service_bytes_recursive', 'blkio.bfq.io_serviced_recursive'],
      ['blkio.io_service_bytes_recursive', 'blkio.io_serviced_recursive'],
      ['blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_serviced_recursive'],
      ['blkio.throttle.io_service_bytes', 'blkio.throttle.io_serviced'],
    ]) {
      const b = this.read(d, bytes);
      if (b === undefined) continue;
      const serviceBytes = blkioEntries(b);
      const serviced = blkioEntries(this.read(d, ios) ?? '');
      if (serviceBytes.length) out.ioServiceBytesRecursive = serviceBytes;
      if (serviced.length) out.ioServicedRecursive = serviced;
      break;
    }
    return out;
  }

  private hugetlbStats(): Record<string, unknown> {
    const d = this.dir('hugetlb');
    const out: Record<string, unknown> = {};
    if (d === undefined) return out;
    for (const size of hugePageSizes()) {
      const p = `hugetlb.${size}`;
      out[size] = omitZero({ usage: counter(this.read(d, `${p}.usage_in_bytes`)), max: counter(this.read(d, `${p}.max_usage_in_bytes`)) });
      (out[size] as Record<string, unknown>).failcnt = counter(this.read(d, `${p}.failcnt`));
    }
    return out;
  }
}

function limitOrZero(text: string | undefined): number | bigint {
  return text?.trim() === 'max' ? 0 : counter(text);
}

/** "8:0 Read 4096" lines (v1 blkio) as runc's entries. */
function blkioEntries(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[\s:]+/);
    if (f.length < 3 || f[0] === 'Total') continue;
    const e: Record<string, unknown> = {};
    if (Number(f[0])) e.major = Number(f[0]);
    if (Number(f[1])) e.minor = Number(f[1]);
    const op = f.length === 4 ? f[2] : '';
    if (op) e.op = op;
    const v = counter(f[f.length - 1]);
    if (v) e.value = v;
    out.push(e);
  }
  return out;
}
