import type { Resources } from '../spec/types';
import { TsruncError } from '../sys/errors';
import { containerRules, DeviceEmulator, type Rule } from './devices';
import { blkioToIoWeight, sharesToWeight, swapToV2 } from './resources';
import type { CgroupMode } from './types';
import type { SystemdPath } from './systemd-path';

export { DEFAULT_PREFIX, DEFAULT_SLICE, expandSlice, parseSystemdPath, planSystemdCgroup, type SystemdPath } from './systemd-path';

/**
 * The systemd cgroup driver's unit properties: which ones express
 * linux.resources (where the container goes is systemd-path.ts; the D-Bus
 * half, which asks systemd for the unit, is systemd-unit.ts).
 */
/* ---------- linux.resources as unit properties ---------- */

/** A unit property as StartTransientUnit and SetUnitProperties take it: name, D-Bus signature, value. */
export type UnitProperty = [name: string, signature: string, value: unknown];

/** USEC_INFINITY / CGROUP_LIMIT_MAX: "no limit" for systemd's 64-bit properties. */
export const INFINITY = 2n ** 64n - 1n;

export interface PropertyContext {
  mode: CgroupMode;
  /** systemd's version (CPUQuotaPeriodUSec needs 242, AllowedCPUs/AllowedMemoryNodes 244). */
  version: number;
  /** false: leave the device rules as they are (an update that does not mention devices). */
  applyDevices: boolean;
  /** linux.devices (a default rule for a path listed there gives way to the config's own, as in the managers). */
  devices?: import('../spec/types').Device[];
  warn(msg: string): void;
  /** Reads /proc/devices (for "c 136:* rwm" -> "char-pts"). */
  procDevices(): string;
  /** Whether a path exists (/dev/char/1:3 or /sys/dev/char/1:3). */
  exists(path: string): boolean;
}

/** The properties every scope starts with (runc's Apply): the pid, delegation, accounting, no default dependencies. */
export function scopeProperties(s: SystemdPath, id: string, pid: number, mode: CgroupMode): UnitProperty[] {
  return [
    ['Description', 's', `tsrunc container ${id}`],
    ['Slice', 's', s.slice],
    ['Delegate', 'b', true],
    ['PIDs', 'au', [pid]],
    ['MemoryAccounting', 'b', true],
    ['CPUAccounting', 'b', true],
    [mode === 'unified' ? 'IOAccounting' : 'BlockIOAccounting', 'b', true],
    ['TasksAccounting', 'b', true],
    ['DefaultDependencies', 'b', false],
  ];
}

const u64 = (n: number): bigint => (n < 0 ? INFINITY : BigInt(n));

/** Whether resourceProperties will want systemd's version (a D-Bus round trip, only when needed). */
export function needsVersion(r: Resources): boolean {
  const u = r.unified ?? {};
  return !!(r.cpu?.period || r.cpu?.cpus || r.cpu?.mems || u['cpu.max'] || u['cpuset.cpus'] || u['cpuset.mems']);
}

/**
 * linux.resources as the unit properties systemd has for them (runc's
 * genV1/genV2ResourcesProperties, plus IOWeight). Everything is also
 * written to the cgroup files afterwards by the v1/v2 manager, which also
 * covers what has no property; the properties keep systemd's view the same,
 * so it does not undo the limits when it re-applies a unit.
 */
export function resourceProperties(r: Resources, c: PropertyContext): UnitProperty[] {
  const v2 = c.mode === 'unified';
  const props: UnitProperty[] = [];
  if (c.applyDevices) props.push(...deviceProperties(containerRules(r.devices, c.devices), c));
  const m = r.memory ?? {};
  const limit = m.limit ?? 0;
  if (limit) props.push([v2 ? 'MemoryMax' : 'MemoryLimit', 't', u64(limit)]);
  if (v2) {
    if (m.reservation) props.push(['MemoryLow', 't', u64(m.reservation)]);
    let swap: number;
    try {
      swap = swapToV2(m.swap ?? 0, limit);
    } catch (err) {
      throw new TsruncError(`linux.resources.memory.swap: ${(err as Error).message}`);
    }
    if (swap) props.push(['MemorySwapMax', 't', u64(swap)]);
  }
  const cpu = r.cpu ?? {};
  if (cpu.shares) props.push(v2 ? ['CPUWeight', 't', BigInt(sharesToWeight(cpu.shares))] : ['CPUShares', 't', BigInt(cpu.shares)]);
  props.push(...cpuQuota(cpu.quota ?? 0, cpu.period ?? 0, c.version));
  const pids = r.pids?.limit;
  if (pids !== undefined && pids !== 0) props.push(['TasksMax', 't', u64(pids)]);
  if (r.blockIO?.weight) props.push(v2 ? ['IOWeight', 't', BigInt(blkioToIoWeight(r.blockIO.weight))] : ['BlockIOWeight', 't', BigInt(r.blockIO.weight)]);
  props.push(...cpusetProperties(cpu.cpus, cpu.mems, c.version, 'linux.resources.cpu'));
  if (v2) props.push(...unifiedProperties(r.unified ?? {}, c.version));
  return props;
}

/**
 * CPUQuotaPerSecUSec is quota per second of time; systemd keeps it as a
 * percentage, so a fraction of a percent is rounded up to the next 10 ms,
 * as runc does (the exact value goes to cpu.max / cpu.cfs_quota_us anyway).
 */
export function cpuQuota(quota: number, period: number, version: number): UnitProperty[] {
  const props: UnitProperty[] = [];
  if (period && version >= 242) props.push(['CPUQuotaPeriodUSec', 't', BigInt(period)]);
  if (quota !== 0 || period !== 0) {
    let perSec = INFINITY;
    if (quota > 0) {
      let q = (BigInt(quota) * 1_000_000n) / BigInt(period || 100_000);
      if (q % 10_000n !== 0n) q = (q / 10_000n + 1n) * 10_000n;
      perSec = q;
    }
    props.push(['CPUQuotaPerSecUSec', 't', perSec]);
  }
  return props;
}

function cpusetProperties(cpus: string | undefined, mems: string | undefined, version: number, field: string): UnitProperty[] {
  if (version < 244) return [];
  const props: UnitProperty[] = [];
  if (cpus) props.push(['AllowedCPUs', 'ay', rangeToBits(cpus, `${field}.cpus`)]);
  if (mems) props.push(['AllowedMemoryNodes', 'ay', rangeToBits(mems, `${field}.mems`)]);
  return props;
}

/**
 * A cpuset list ("0-3,8") as systemd's bitmask bytes: byte i bit j is
 * CPU 8i+j (little-endian; runc 1.1 sent it reversed, fixed in later runc).
 */
export function rangeToBits(list: string, field: string): number[] {
  const bytes: number[] = [];
  const set = (n: number) => {
    while (bytes.length <= n >> 3) bytes.push(0);
    bytes[n >> 3] |= 1 << (n & 7);
  };
  for (const part of list.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    // 8192: systemd's own ceiling for a CPU set (CPU_SET_MAX... far above any real machine).
    if (!m || hi < lo || hi >= 8192) throw new TsruncError(`${field}: ${JSON.stringify(list)} is not a list of numbers and ranges`);
    for (let i = lo; i <= hi; i++) set(i);
  }
  if (!bytes.length) throw new TsruncError(`${field}: ${JSON.stringify(list)} is empty`);
  return bytes;
}

/** linux.resources.unified entries that have a unit property (runc's unifiedResToSystemdProps); the rest go to files only. */
function unifiedProperties(u: Record<string, string>, version: number): UnitProperty[] {
  const props: UnitProperty[] = [];
  const num = (k: string, v: string): bigint => {
    if (v === 'max') return INFINITY;
    if (!/^\d+$/.test(v)) throw new TsruncError(`linux.resources.unified[${JSON.stringify(k)}]: ${JSON.stringify(v)} is not a number or "max"`);
    return BigInt(v);
  };
  const names: Record<string, string> = {
    'memory.high': 'MemoryHigh', 'memory.low': 'MemoryLow', 'memory.min': 'MemoryMin', 'memory.max': 'MemoryMax', 'memory.swap.max': 'MemorySwapMax', 'pids.max': 'TasksMax',
  };
  for (const [k, raw] of Object.entries(u)) {
    const v = raw.trim();
    if (names[k]) props.push([names[k], 't', num(k, v)]);
    else if (k === 'cpu.weight') props.push(['CPUWeight', 't', num(k, v)]);
    else if (k === 'cpuset.cpus' || k === 'cpuset.mems') props.push(...cpusetProperties(k === 'cpuset.cpus' ? v : undefined, k === 'cpuset.mems' ? v : undefined, version, `linux.resources.unified[${JSON.stringify(k)}]`));
    else if (k === 'cpu.max') {
      const f = v.split(/\s+/);
      if (f.length < 1 || f.length > 2 || (f[0] !== 'max' && !/^\d+$/.test(f[0])) || (f[1] !== undefined && !/^\d+$/.test(f[1]))) {
        throw new TsruncError(`linux.resources.unified["cpu.max"]: ${JSON.stringify(v)} is not "quota [period]"`);
      }
      props.push(...cpuQuota(f[0] === 'max' ? 0 : Number(f[0]), f[1] !== undefined ? Number(f[1]) : 100_000, version));
    }
  }
  return props;
}

/**
 * The device rules as DevicePolicy/DeviceAllow (runc's
 * generateDeviceProperties): systemd only knows allow lists, by path or by
 * /proc/devices group. What it cannot express is left out with a warning;
 * the rules in force are the managers' own (v1 files, v2 eBPF program),
 * written right after.
 */
export function deviceProperties(rules: Rule[], c: Pick<PropertyContext, 'warn' | 'procDevices' | 'exists'>): UnitProperty[] {
  const emu = DeviceEmulator.of(rules);
  if (emu.defaultAllow) {
    if (emu.exceptions.size === 0) return [['DevicePolicy', 's', 'auto'], ['DeviceAllow', 'a(ss)', []]];
    c.warn('systemd does not support deny-list device rules: the unit gets a deny-all DeviceAllow (the rules in force are tsrunc\'s own)');
    return [['DevicePolicy', 's', 'strict'], ['DeviceAllow', 'a(ss)', []]];
  }
  const allow: [string, string][] = [];
  let groups: Map<string, string> | undefined;
  for (const e of emu.exceptions.values()) {
    const kind = e.type === 'b' ? 'block' : 'char';
    if (e.major === -1) {
      if (e.minor !== -1) {
        c.warn(`systemd does not support "${e.type} *:${e.minor}" device rules: left out of the unit's DeviceAllow`);
        continue;
      }
      allow.push([`${kind}-*`, e.access]);
    } else if (e.minor === -1) {
      groups ??= parseProcDevices(c.procDevices());
      const group = groups.get(`${e.type} ${e.major}`);
      if (!group) {
        c.warn(`no device group for ${kind} major ${e.major} in /proc/devices: "${e.type} ${e.major}:* ${e.access}" left out of the unit's DeviceAllow`);
        continue;
      }
      allow.push([`${kind}-${group}`, e.access]);
    } else {
      const path = `/dev/${kind}/${e.major}:${e.minor}`;
      if (!c.exists(path) && !c.exists(`/sys${path}`)) {
        c.warn(`no device ${path}: left out of the unit's DeviceAllow`);
        continue;
      }
      allow.push([path, e.access]);
    }
  }
  // The empty list first: it clears what the unit had, then the new list is set.
  return [['DevicePolicy', 's', 'strict'], ['DeviceAllow', 'a(ss)', []], ['DeviceAllow', 'a(ss)', allow]];
}

/** /proc/devices as "c 136" -> "pts" (the first name for a major). */
export function parseProcDevices(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let type: 'b' | 'c' | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === 'Character devices:') type = 'c';
    else if (line === 'Block devices:') type = 'b';
    else {
      const m = /^(\d+)\s+(\S+)$/.exec(line);
      if (m && type && !out.has(`${type} ${m[1]}`)) out.set(`${type} ${m[1]}`, m[2]);
    }
  }
  return out;
}
