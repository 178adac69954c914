import { join } from 'node:path';
import type { Resources } from '../spec/types';
import { TsruncError, errnoOf } from '../sys/errors';
import { containerRules, deviceFilterProgram } from './devices';
import { fieldError, parseKeyValues, realFs, writeField, type CgroupFs } from './fs';
import { blkioToIoWeight, counter, cpuList, hugePageSizes, isSet, memoryEntry, omitZero, rdmaLine, sharesToWeight, swapToV2, v2Limit, writeUnified, type ApplyOptions, type CgroupManager, type Stats } from './resources';
import { freezerOf } from './freezer';
import type { CgroupRecord } from './types';
import { attachDeviceFilter } from '../sys/bpf';

const R = 'linux.resources';
const MAX_UINT64 = 18446744073709551615n;

/** Loads and attaches a device filter program to a cgroup directory (real: bpf(2); tests: a recorder). */
export type AttachDevices = (dir: string, program: Buffer) => void;

const realAttach: AttachDevices = (dir, program) => attachDeviceFilter(dir, program);

/**
 * cgroup v2 (unified): one directory, the controllers its parent enabled
 * (cgroup.controllers), the freezer in cgroup.freeze, and no device files:
 * device rules are an eBPF program attached to the directory.
 */
export class V2Manager implements CgroupManager {
  private controllers?: Set<string>;

  constructor(readonly record: CgroupRecord, private readonly fs: CgroupFs = realFs, private readonly attachDevices: AttachDevices = realAttach) {}

  get dir(): string {
    return this.record.dirs[''];
  }

  private read(file: string): string | undefined {
    try {
      return this.fs.read(join(this.dir, file));
    } catch {
      return undefined;
    }
  }

  private write(field: string, file: string, value: string | number): void {
    writeField(this.fs, field, this.dir, file, String(value));
  }

  private available(): Set<string> {
    this.controllers ??= new Set((this.read('cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean));
    return this.controllers;
  }

  private need(controller: string, field: string): void {
    if (!this.available().has(controller)) {
      throw new TsruncError(`${field}: the ${controller} controller is not available in ${this.dir} (not in its cgroup.controllers)`);
    }
  }

  apply(r: Resources, o: ApplyOptions): void {
    // The order of runc's v2 manager.
    this.pids(r);
    this.memory(r, o);
    this.io(r);
    this.cpu(r);
    if (o.applyDevices) this.devices(r, o);
    this.cpuset(r);
    this.hugetlb(r);
    this.rdma(r);
    this.network(r);
    for (const [k, v] of Object.entries(r.unified ?? {})) writeUnified(this.fs, this.dir, k, v, this.available());
  }

  private pids(r: Resources): void {
    const limit = r.pids?.limit;
    if (limit === undefined) return;
    if (!this.available().has('pids') && limit === -1) return;
    this.need('pids', `${R}.pids.limit`);
    this.write(`${R}.pids.limit`, 'pids.max', limit < 0 ? 'max' : limit);
  }

  private memory(r: Resources, o: ApplyOptions): void {
    const m = r.memory;
    if (!m) return;
    if (isSet(m.kernel) || isSet(m.kernelTCP)) o.warn(`${R}.memory.kernel/kernelTCP ignored: cgroup v2 has no kernel memory limits (they are deprecated)`);
    if (m.swappiness !== undefined) throw new TsruncError(`${R}.memory.swappiness: cgroup v2 has no per-cgroup swappiness (memory.swappiness is v1 only)`);
    if (m.disableOOMKiller) throw new TsruncError(`${R}.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer (memory.oom_control is v1 only)`);
    if (m.useHierarchy === false) o.warn(`${R}.memory.useHierarchy false ignored: cgroup v2 is always hierarchical`);
    const limit = m.limit ?? 0;
    const swap = m.swap ?? 0;
    const reservation = m.reservation ?? 0;
    if (!limit && !swap && !reservation) return;
    if (!this.available().has('memory')) {
      for (const [k, v] of [['limit', limit], ['swap', swap], ['reservation', reservation]] as const) if (isSet(v)) this.need('memory', `${R}.memory.${k}`);
      return;
    }
    if (m.checkBeforeUpdate && (limit > 0 || swap > 0)) {
      const usage = Number(this.read('memory.current') ?? 0);
      if (swap > 0 && swap <= usage) throw new TsruncError(`${R}.memory.swap: rejecting memory+swap limit ${swap} <= usage ${usage} (checkBeforeUpdate)`);
      if (limit > 0 && limit <= usage) throw new TsruncError(`${R}.memory.limit: rejecting memory limit ${limit} <= usage ${usage} (checkBeforeUpdate)`);
    }
    let v2swap: number;
    try {
      v2swap = swapToV2(swap, limit);
    } catch (err) {
      throw new TsruncError(`${R}.memory.swap: ${(err as Error).message}`, { cause: err });
    }
    let swapText = v2Limit(v2swap);
    // memory and memory+swap set to the same value: no swap at all.
    if (swapText === undefined && v2swap === 0 && swap > 0) swapText = '0';
    if (swapText !== undefined) {
      try {
        this.fs.write(join(this.dir, 'memory.swap.max'), swapText);
      } catch (err) {
        // Without swap accounting, "unlimited" and "none" are what there is.
        if (!(errnoOf(err) === 'ENOENT' && (swapText === 'max' || swapText === '0'))) {
          throw fieldError(`${R}.memory.swap`, `write ${swapText} to ${this.dir}/memory.swap.max`, err);
        }
      }
    }
    const max = v2Limit(limit);
    if (max !== undefined) this.write(`${R}.memory.limit`, 'memory.max', max);
    const low = v2Limit(reservation);
    if (low !== undefined) this.write(`${R}.memory.reservation`, 'memory.low', low);
  }

  private io(r: Resources): void {
    const b = r.blockIO;
    if (!b) return;
    const throttles = [
      ['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops'],
    ] as const;
    if (b.leafWeight) throw new TsruncError(`${R}.blockIO.leafWeight: cgroup v2 has no leaf weights`);
    (b.weightDevice ?? []).forEach((w, i) => {
      if (w.leafWeight) throw new TsruncError(`${R}.blockIO.weightDevice[${i}].leafWeight: cgroup v2 has no leaf weights`);
    });
    const any = !!b.weight || !!b.weightDevice?.some((w) => w.weight) || throttles.some(([k]) => b[k]?.length);
    if (!any) return;
    this.need('io', `${R}.blockIO`);
    // BFQ takes blkio's 10..1000 weights as they are; otherwise io.weight (1..10000), converted.
    const bfq = this.fs.exists(join(this.dir, 'io.bfq.weight'));
    if (b.weight) {
      if (bfq) this.write(`${R}.blockIO.weight`, 'io.bfq.weight', b.weight);
      else if (this.fs.exists(join(this.dir, 'io.weight'))) this.write(`${R}.blockIO.weight`, 'io.weight', blkioToIoWeight(b.weight));
      else throw new TsruncError(`${R}.blockIO.weight: ${this.dir} has neither io.bfq.weight nor io.weight (no BFQ scheduler, no io cost model)`);
    }
    (b.weightDevice ?? []).forEach((w, i) => {
      if (!w.weight) return;
      const field = `${R}.blockIO.weightDevice[${i}]`;
      if (bfq) this.write(field, 'io.bfq.weight', `${w.major}:${w.minor} ${w.weight}`);
      else if (this.fs.exists(join(this.dir, 'io.weight'))) this.write(field, 'io.weight', `${w.major}:${w.minor} ${blkioToIoWeight(w.weight)}`);
      else throw new TsruncError(`${field}: ${this.dir} has neither io.bfq.weight nor io.weight`);
    });
    for (const [key, name] of throttles) {
      (b[key] ?? []).forEach((t, i) => this.write(`${R}.blockIO.${key}[${i}]`, 'io.max', `${t.major}:${t.minor} ${name}=${t.rate}`));
    }
  }

  private cpu(r: Resources): void {
    const c = r.cpu;
    if (!c) return;
    if (c.realtimeRuntime || c.realtimePeriod) {
      throw new TsruncError(`${R}.cpu.${c.realtimeRuntime ? 'realtimeRuntime' : 'realtimePeriod'}: cgroup v2 has no realtime group scheduling`);
    }
    const quota = c.quota ?? 0;
    const period = c.period ?? 0;
    const set = c.idle !== undefined || !!c.shares || quota !== 0 || period !== 0 || c.burst !== undefined;
    if (!set) return;
    if (!this.available().has('cpu')) {
      const field = c.shares ? 'shares' : quota > 0 ? 'quota' : period ? 'period' : c.burst ? 'burst' : c.idle ? 'idle' : undefined;
      if (field) this.need('cpu', `${R}.cpu.${field}`);
      return;
    }
    if (c.idle !== undefined) {
      if (this.fs.exists(join(this.dir, 'cpu.idle'))) this.write(`${R}.cpu.idle`, 'cpu.idle', c.idle);
      else if (c.idle) throw new TsruncError(`${R}.cpu.idle: this kernel has no cpu.idle`);
    }
    if (c.shares) this.write(`${R}.cpu.shares`, 'cpu.weight', sharesToWeight(c.shares));
    let burstLater = false;
    if (c.burst !== undefined) {
      try {
        this.fs.write(join(this.dir, 'cpu.max.burst'), String(c.burst));
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') {
          if (c.burst) throw new TsruncError(`${R}.cpu.burst: this kernel has no cpu.max.burst`);
        } else if (errnoOf(err) !== 'EINVAL' || quota === 0) {
          throw fieldError(`${R}.cpu.burst`, `write ${c.burst} to ${this.dir}/cpu.max.burst`, err);
        } else {
          burstLater = true; // a burst above the old quota: again after the new quota
        }
      }
    }
    if (quota !== 0 || period !== 0) {
      const value = `${quota > 0 ? quota : 'max'} ${period || 100000}`;
      this.write(`${R}.cpu.${quota ? 'quota' : 'period'}`, 'cpu.max', value);
      if (burstLater) this.write(`${R}.cpu.burst`, 'cpu.max.burst', c.burst!);
    }
  }

  private cpuset(r: Resources): void {
    const { cpus, mems } = r.cpu ?? {};
    if (!cpus && !mems) return;
    this.need('cpuset', `${R}.cpu.${cpus ? 'cpus' : 'mems'}`);
    if (cpus) this.write(`${R}.cpu.cpus`, 'cpuset.cpus', cpus);
    if (mems) this.write(`${R}.cpu.mems`, 'cpuset.mems', mems);
  }

  private devices(r: Resources, o: ApplyOptions): void {
    const program = deviceFilterProgram(containerRules(r.devices, o.devices));
    try {
      this.attachDevices(this.dir, program);
    } catch (err) {
      throw new TsruncError(`${R}.devices: installing the eBPF device filter on ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  private hugetlb(r: Resources): void {
    const limits = r.hugepageLimits ?? [];
    if (!limits.length) return;
    this.need('hugetlb', `${R}.hugepageLimits`);
    limits.forEach((h, i) => {
      const field = `${R}.hugepageLimits[${i}]`;
      const file = `hugetlb.${h.pageSize}.max`;
      if (!this.fs.exists(join(this.dir, file))) throw new TsruncError(`${field}.pageSize: this host has no ${h.pageSize} huge pages (no ${file})`);
      this.write(field, file, h.limit);
      if (this.fs.exists(join(this.dir, `hugetlb.${h.pageSize}.rsvd.max`))) this.write(field, `hugetlb.${h.pageSize}.rsvd.max`, h.limit);
    });
  }

  private rdma(r: Resources): void {
    const entries = Object.entries(r.rdma ?? {});
    if (!entries.length) return;
    this.need('rdma', `${R}.rdma`);
    for (const [dev, l] of entries) this.write(`${R}.rdma.${dev}`, 'rdma.max', rdmaLine(dev, l));
  }

  private network(r: Resources): void {
    const n = r.network;
    if (n?.classID) throw new TsruncError(`${R}.network.classID: cgroup v2 has no net_cls controller`);
    if (n?.priorities?.length) throw new TsruncError(`${R}.network.priorities: cgroup v2 has no net_prio controller`);
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
    return parseKeyValues(this.read('memory.events') ?? '').oom_kill ?? 0;
  }

  stats(): Stats {
    const st = parseKeyValues(this.read('cpu.stat') ?? '');
    const usage: Record<string, unknown> = {};
    if (st.usage_usec) usage.total = st.usage_usec * 1000;
    usage.kernel = (st.system_usec ?? 0) * 1000;
    usage.user = (st.user_usec ?? 0) * 1000;
    const cpu: Record<string, unknown> = { usage };
    const throttling = omitZero({ periods: st.nr_periods, throttledPeriods: st.nr_throttled, throttledTime: st.throttled_usec === undefined ? undefined : st.throttled_usec * 1000 });
    if (Object.keys(throttling).length) cpu.throttling = throttling;

    const cpuset: Record<string, unknown> = {};
    const cpus = cpuList(this.read('cpuset.cpus.effective'));
    if (cpus.length) cpuset.cpus = cpus;
    const mems = cpuList(this.read('cpuset.mems.effective'));
    if (mems.length) cpuset.mems = mems;

    const raw: Record<string, number | bigint> = {};
    for (const line of (this.read('memory.stat') ?? '').split('\n')) {
      const [k, v] = line.split(' ');
      if (k && v !== undefined) raw[k] = counter(v);
    }
    const max = (f: string) => (this.read(f)?.trim() === 'max' ? MAX_UINT64 : counter(this.read(f)));
    const memory: Record<string, unknown> = {};
    if (raw.file) memory.cache = raw.file;
    const memUsage = counter(this.read('memory.current'));
    const memLimit = max('memory.max');
    const usageEntry = memoryEntry({ limit: memLimit, usage: memUsage, max: counter(this.read('memory.peak')), failcnt: 0 });
    if (usageEntry) memory.usage = usageEntry;
    if (this.read('memory.swap.current') !== undefined) {
      // As v1 reports it: memory+swap.
      const swapLimit = max('memory.swap.max');
      const limit = swapLimit === MAX_UINT64 || memLimit === MAX_UINT64 ? MAX_UINT64 : BigInt(swapLimit) + BigInt(memLimit);
      const e = memoryEntry({ limit: limit === MAX_UINT64 ? limit : Number(limit), usage: Number(counter(this.read('memory.swap.current'))) + Number(memUsage), max: 0, failcnt: 0 });
      if (e) memory.swap = e;
    }
    if (Object.keys(raw).length) memory.raw = raw;

    const pids = omitZero({ current: counter(this.read('pids.current')), limit: this.read('pids.max')?.trim() === 'max' ? 0 : counter(this.read('pids.max')) });

    const bytes: Record<string, unknown>[] = [];
    const ios: Record<string, unknown>[] = [];
    for (const line of (this.read('io.stat') ?? '').split('\n')) {
      const [dev, ...kv] = line.trim().split(/\s+/);
      const m = /^(\d+):(\d+)$/.exec(dev ?? '');
      if (!m) continue;
      for (const item of kv) {
        const [k, v] = item.split('=');
        const target = k === 'rbytes' || k === 'wbytes' ? bytes : k === 'rios' || k === 'wios' ? ios : undefined;
        if (!target) continue;
        const e: Record<string, unknown> = {};
        if (Number(m[1])) e.major = Number(m[1]);
        if (Number(m[2])) e.minor = Number(m[2]);
        e.op = k.startsWith('r') ? 'Read' : 'Write';
        const value = counter(v);
        if (value) e.value = value;
        target.push(e);
      }
    }
    const blkio: Record<string, unknown> = {};
    if (bytes.length) blkio.ioServiceBytesRecursive = bytes;
    if (ios.length) blkio.ioServicedRecursive = ios;

    const hugetlb: Record<string, unknown> = {};
    if (this.available().has('hugetlb')) {
      for (const size of hugePageSizes()) {
        const e: Record<string, unknown> = omitZero({ usage: counter(this.read(`hugetlb.${size}.current`)) });
        e.failcnt = parseKeyValues(this.read(`hugetlb.${size}.events`) ?? '').max ?? 0;
        hugetlb[size] = e;
      }
    }
    return { cpu, cpuset, memory, pids, blkio, hugetlb, intel_rdt: {}, network_interfaces: null };
  }
}
