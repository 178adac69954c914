import type { Device, Resources } from '../spec/types';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TsruncError } from '../sys/errors';
import { writeField, type CgroupFs } from './fs';
import type { CgroupRecord } from './types';

/*
 * What both cgroup managers share: the CgroupManager interface and the
 * conversions and file helpers V1Manager and V2Manager both use (managerFor,
 * which picks one, is in manager.ts: this module imports neither).
 */

/**
 * One interface over the cgroup modes: a manager applies linux.resources to
 * the container's cgroup (at create, and again on update), freezes and
 * thaws it, and reads its statistics. V1Manager serves legacy and hybrid
 * hosts (v1 controllers; on hybrid the cgroup2 directory only holds the
 * processes), V2Manager unified ones.
 */
export interface CgroupManager {
  readonly record: CgroupRecord;
  /** Applies every field of linux.resources; a value the host cannot apply is an error naming the field. */
  apply(resources: Resources, o: ApplyOptions): void;
  /** Freezes every process of the cgroup (pause), waiting until the kernel says frozen. */
  freeze(): Promise<void>;
  thaw(): void;
  isFrozen(): boolean;
  stats(): Stats;
  /**
   * A counter that goes up each time the container meets its memory limit
   * with the OOM killer acting (or, with the killer disabled, each time it
   * is stuck under OOM): `events` reports an "oom" event when it grows.
   */
  oomCount(): number;
}

export interface ApplyOptions {
  warn(msg: string): void;
  /** linux.devices: a default device rule for a path listed there gives way to the config's (as in runc). */
  devices?: Device[];
  /** False on an update that does not mention devices: the device rules stay as they are (runc never updates them). */
  applyDevices: boolean;
}

/** The runc `events` statistics document (runc types/events.go), with its omitempty rules. */
export type Stats = Record<string, unknown>;

/** cpu.shares (v1, 2..262144) -> cpu.weight (v2, 1..10000), the linear map runc 1.1 and crun use. */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The inverse of sharesToWeight (for `unified` cpu.weight on v1 and for reporting). */
export function weightToShares(weight: number): number {
  if (weight <= 0) return 0;
  return 2 + Math.floor(((weight - 1) * 262142) / 9999);
}

/** blkio.weight (10..1000) -> io.weight (1..10000), as runc converts when BFQ is absent. */
export function blkioToIoWeight(weight: number): number {
  if (weight <= 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * memory.swap in the spec is memory+swap (v1's memsw); v2's memory.swap.max
 * is swap alone. -1 = unlimited, 0 = leave as is (runc's conversion).
 */
export function swapToV2(swap: number, memory: number): number {
  if (memory === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (memory === 0 || memory === -1) throw new Error('unable to set swap limit without memory limit');
  if (swap < memory) throw new Error(`memory+swap limit (${swap}) should be >= memory limit (${memory})`);
  return swap - memory;
}

/** A -1/0/n limit as v2 writes it: "max", nothing, or the number. */
export function v2Limit(n: number | undefined): string | undefined {
  if (n === undefined || n === 0) return undefined;
  return n === -1 ? 'max' : String(n);
}

/** Any value that asks for something (not absent, 0, -1 or "unlimited"). */
export const isSet = (n: number | undefined | null): boolean => n !== undefined && n !== null && n !== 0 && n !== -1;

/** JSON with counters that may exceed 2^53 (as bigint) written as plain numbers, like Go's encoder does. */
export function statsJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `@@big:${v}` : v)).replace(/"@@big:(\d+)"/g, '$1');
}

/** A counter from a cgroup file: a number, or a bigint when too large for one. */
export function counter(text: string | undefined): number | bigint {
  if (text === undefined) return 0;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return 0;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

export function rdmaLine(dev: string, l: { hcaHandles?: number; hcaObjects?: number }): string {
  let s = dev;
  if (l.hcaHandles !== undefined) s += ` hca_handle=${l.hcaHandles}`;
  if (l.hcaObjects !== undefined) s += ` hca_object=${l.hcaObjects}`;
  return s;
}

/** A `unified` key/value: a file name (no slashes) in the cgroup2 directory; multi-line values go line by line. */
export function writeUnified(fs: CgroupFs, dir: string, key: string, value: string, controllers: Set<string>): void {
  const field = `linux.resources.unified.${key}`;
  if (key.includes('/') || key === '.' || key === '..') throw new TsruncError(`${field}: must be a file name (no slashes)`);
  if (!fs.exists(join(dir, key))) {
    const ctrl = key.split('.')[0];
    if (!key.includes('.')) throw new TsruncError(`${field}: must be in the form CONTROLLER.PARAMETER`);
    if (ctrl !== 'cgroup' && !controllers.has(ctrl)) throw new TsruncError(`${field}: the ${ctrl} controller is not available in ${dir}`);
    throw new TsruncError(`${field}: ${dir} has no such file`);
  }
  const lines = value.split('\n').filter((l) => l !== '');
  for (const line of lines.length ? lines : ['']) writeField(fs, field, dir, key, line);
}

/** "0-2,4" -> [0,1,2,4] */
export function cpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

export function omitZero(o: Record<string, number | bigint | undefined>): Record<string, number | bigint> {
  const out: Record<string, number | bigint> = {};
  for (const [k, v] of Object.entries(o)) if (v) out[k] = v;
  return out;
}

export function memoryEntry(e: { limit: number | bigint; usage: number | bigint; max: number | bigint; failcnt: number | bigint }): Record<string, unknown> | undefined {
  if (!e.limit && !e.usage && !e.max && !e.failcnt) return undefined;
  const out: Record<string, unknown> = { limit: e.limit };
  if (e.usage) out.usage = e.usage;
  if (e.max) out.max = e.max;
  out.failcnt = e.failcnt;
  return out;
}

/** The host's huge page sizes as the hugetlb files name them ("2MB", "1GB"). */
export function hugePageSizes(): string[] {
  try {
    return readdirSync('/sys/kernel/mm/hugepages').map((n) => {
      const kb = Number(/^hugepages-(\d+)kB$/.exec(n)?.[1]);
      return kb >= 1048576 ? `${kb / 1048576}GB` : kb >= 1024 ? `${kb / 1024}MB` : `${kb}KB`;
    });
  } catch {
    return [];
  }
}
