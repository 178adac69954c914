import type { Device, Resources } from '../spec/types';
import type { CgroupFs } from './fs';
import type { CgroupRecord } from './types';

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

export async function managerFor(record: CgroupRecord, fs?: CgroupFs): Promise<CgroupManager> {
  if (record.mode === 'unified') {
    const { V2Manager } = await import('./v2');
    return new V2Manager(record, fs);
  }
  const { V1Manager } = await import('./v1');
  return new V1Manager(record, fs);
}
