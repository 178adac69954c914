import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { managerFor } from '../cgroups/manager';
import type { Resources, ThrottleDevice } from '../spec/types';
import { writeAtomic, type StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import type { Logger } from '../sys/log';
import { loadContainer, loadSavedConfig } from './load';

/**
 * `update`: change a running container's resources, as runc does: the
 * request (JSON from --resources, or the flags) is merged into what the
 * container has now (values not given stay as they are), and the result is
 * applied as a whole. Device rules change only when the request has some
 * (runc never changes them). The merged resources are kept in the state
 * directory for the next update.
 */
export async function updateContainer(store: StateStore, id: string, request: Resources, log: Logger): Promise<void> {
  const release = await store.lock(id);
  try {
    const { record, status, dir } = loadContainer(store, id);
    if (status === 'stopped') throw new TsruncError(`container ${id} is not running`);
    if (!record.cgroup) throw new TsruncError(`container ${id} has no cgroup`);
    let spec;
    try {
      spec = loadSavedConfig(dir);
    } catch {
      spec = undefined;
    }
    const merged = mergeResources(currentResources(dir, spec?.linux?.resources), request);
    const applyOptions = { warn: (m: string) => log.warn(m), devices: spec?.linux?.devices, applyDevices: request.devices !== undefined };
    if (record.cgroup.systemd) await (await import('../cgroups/systemd-unit')).updateScope(record.cgroup, merged, applyOptions);
    else (await managerFor(record.cgroup)).apply(merged, applyOptions);
    writeAtomic(join(dir, RESOURCES_FILE), JSON.stringify(merged));
  } finally {
    release();
  }
}

const RESOURCES_FILE = 'resources.json';

/** What the container has now: the last update's result, or the config's. */
function currentResources(dir: string, fromConfig: Resources | undefined): Resources {
  try {
    return JSON.parse(readFileSync(join(dir, RESOURCES_FILE), 'utf8')) as Resources;
  } catch {
    return structuredClone(fromConfig ?? {});
  }
}

/** runc update's merge: given values replace, per-device entries are upserted by major:minor. */
export function mergeResources(current: Resources, req: Resources): Resources {
  const out: Resources = structuredClone(current);
  if (req.memory) {
    // A 0 limit is "not given", as runc writes nothing for it: Docker's update sends every field, 0 for those
    // not asked for (docker update --pids-limit 20 comes with memory.limit 0), and must not clear the rest.
    const m = { ...out.memory, ...givenOnly(req.memory, ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) };
    // Memory unlimited and no swap given: swap unlimited too (runc: avoids "swap limit without memory limit").
    if (req.memory.limit === -1 && !req.memory.swap) m.swap = 0;
    out.memory = m;
  }
  if (out.memory) {
    // runc passes checkBeforeUpdate only for the update that asks for it.
    out.memory.checkBeforeUpdate = req.memory?.checkBeforeUpdate ?? false;
  }
  if (req.cpu) out.cpu = { ...out.cpu, ...givenOnly(req.cpu, ['shares', 'quota', 'period', 'realtimeRuntime', 'realtimePeriod', 'cpus', 'mems']) };
  if (req.pids?.limit) out.pids = { ...req.pids };
  if (req.blockIO) {
    const b = { ...out.blockIO };
    if (req.blockIO.weight !== undefined) b.weight = req.blockIO.weight;
    if (req.blockIO.leafWeight !== undefined) b.leafWeight = req.blockIO.leafWeight;
    for (const wd of req.blockIO.weightDevice ?? []) {
      const list = (b.weightDevice = [...(b.weightDevice ?? [])]);
      const i = lastIndex(list, (d) => d.major === wd.major && d.minor === wd.minor);
      if (i >= 0) list[i] = { ...list[i], ...definedOnly(wd) };
      else list.push({ ...wd });
    }
    for (const key of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      for (const td of req.blockIO[key] ?? []) {
        const list: ThrottleDevice[] = (b[key] = [...(b[key] ?? [])]);
        const i = lastIndex(list, (d) => d.major === td.major && d.minor === td.minor);
        if (i >= 0) list[i] = { ...td };
        else list.push({ ...td });
      }
    }
    out.blockIO = b;
  }
  for (const h of req.hugepageLimits ?? []) {
    const list = (out.hugepageLimits = [...(out.hugepageLimits ?? [])]);
    const i = list.findIndex((x) => x.pageSize === h.pageSize);
    if (i >= 0) list[i] = { ...h };
    else list.push({ ...h });
  }
  if (req.network) out.network = { ...out.network, ...definedOnly(req.network) };
  if (req.rdma) out.rdma = { ...out.rdma, ...req.rdma };
  if (req.unified) out.unified = { ...out.unified, ...req.unified };
  if (req.devices !== undefined) out.devices = req.devices;
  return out;
}

/** The last match wins, as in runc (a duplicate device: the later entry is the one in force). */
function lastIndex<T>(list: T[], pred: (x: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (pred(list[i])) return i;
  return -1;
}

/** definedOnly, and without the fields listed when they are 0 or "" (values runc's update leaves alone). */
function givenOnly<T extends object>(o: T, zeroIsUnset: string[]): Partial<T> {
  return Object.fromEntries(Object.entries(definedOnly(o)).filter(([k, v]) => !(zeroIsUnset.includes(k) && (v === 0 || v === '')))) as Partial<T>;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/**
 * Bytes as Docker's go-units RAMInBytes reads them (what runc update's
 * memory flags accept): a number, optionally with a space and a binary
 * unit, case-insensitive, "b" optional: 512m, 1.5GiB, 100 k, 2048b.
 */
export function ramInBytes(text: string): number {
  const sep = Math.max(...[...'0123456789. '].map((c) => text.lastIndexOf(c)));
  if (sep < 0) throw new TsruncError(`invalid size: '${text}'`);
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let sfx = text.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) throw new TsruncError(`invalid size: '${text}'`);
  let size = Number(num);
  if (size < 0) throw new TsruncError(`invalid size: '${text}'`);
  if (sfx === '') return Math.trunc(size);
  const bad = () => new TsruncError(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[sfx[0]];
  if (mul === undefined) throw bad();
  size *= mul;
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

/** runc update's flags as a resources request (only the flags given). */
export function resourcesFromFlags(f: Record<string, unknown>): Resources {
  const r: Resources = {};
  const str = (name: string) => (typeof f[name] === 'string' && f[name] !== '' ? (f[name] as string) : undefined);
  const uint = (name: string) => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new TsruncError(`invalid value for ${name}: ${JSON.stringify(v)} is not an unsigned integer`);
    return Number(v);
  };
  const int = (name: string) => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (!/^[+-]?\d+$/.test(v)) throw new TsruncError(`invalid value for ${name}: ${JSON.stringify(v)} is not an integer`);
    return Number(v);
  };
  const bytes = (name: string) => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (v === '-1') return -1;
    try {
      return ramInBytes(v);
    } catch (err) {
      throw new TsruncError(`invalid value for ${name}: ${(err as Error).message}`, { cause: err });
    }
  };
  const cpu = {
    shares: uint('cpu-share'), period: uint('cpu-period'), quota: int('cpu-quota'), burst: uint('cpu-burst'),
    realtimePeriod: uint('cpu-rt-period'), realtimeRuntime: int('cpu-rt-runtime'), cpus: str('cpuset-cpus'), mems: str('cpuset-mems'), idle: int('cpu-idle'),
  };
  if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = definedOnly(cpu);
  const memory = { limit: bytes('memory'), reservation: bytes('memory-reservation'), swap: bytes('memory-swap'), kernel: bytes('kernel-memory'), kernelTCP: bytes('kernel-memory-tcp') };
  if (Object.values(memory).some((v) => v !== undefined)) r.memory = definedOnly(memory);
  if (typeof f['blkio-weight'] === 'number' && f['blkio-weight'] !== 0) r.blockIO = { weight: f['blkio-weight'] };
  if (typeof f['pids-limit'] === 'number') r.pids = { limit: f['pids-limit'] };
  return r;
}
