import type { Scheduler } from '../spec/types';
import { TsruncError } from '../sys/errors';

/** ioprio class names, as process.ioPriority.class gives them. */
export const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** The value ioprio_set(2) takes: class in the top bits, the level (0-7) below. */
export function ioprioValue(cls: string, priority = 0): number {
  const c = IOPRIO_CLASSES[cls];
  if (c === undefined) throw new TsruncError(`process.ioPriority.class: unknown class ${JSON.stringify(cls)}`);
  return (c << 13) | priority;
}

export const SCHED_POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};

export const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/** A struct sched_attr (the 48-byte first version) for sched_setattr(2). */
export function schedAttr(s: Scheduler): Buffer {
  const policy = SCHED_POLICIES[s.policy];
  if (policy === undefined) throw new TsruncError(`process.scheduler.policy: unknown policy ${JSON.stringify(s.policy)}`);
  if (s.policy === 'SCHED_ISO') throw new TsruncError('process.scheduler.policy: SCHED_ISO is not implemented by Linux');
  let flags = 0;
  for (const f of s.flags ?? []) {
    if (!(f in SCHED_FLAGS)) throw new TsruncError(`process.scheduler.flags: unknown flag ${JSON.stringify(f)}`);
    if (f === 'SCHED_FLAG_UTIL_CLAMP_MIN' || f === 'SCHED_FLAG_UTIL_CLAMP_MAX') {
      throw new TsruncError(`process.scheduler.flags: ${f} needs utilization values the spec does not carry`);
    }
    flags |= SCHED_FLAGS[f];
  }
  const b = Buffer.alloc(48);
  b.writeUInt32LE(48, 0);
  b.writeUInt32LE(policy, 4);
  b.writeBigUInt64LE(BigInt(flags), 8);
  b.writeInt32LE(s.nice ?? 0, 16);
  b.writeUInt32LE(s.priority ?? 0, 20);
  b.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  b.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  b.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return b;
}

/** "0-3,7" -> a cpu_set_t mask (1024 CPUs, as glibc's). */
export function cpuMask(list: string, field: string): Buffer {
  const mask = Buffer.alloc(128);
  const parts = list.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) throw new TsruncError(`${field}: empty CPU list`);
  for (const part of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN, hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi >= 1024) throw new TsruncError(`${field}: ${JSON.stringify(part)} is not a CPU or range of CPUs`);
    for (let cpu = lo; cpu <= hi; cpu++) mask[cpu >> 3] |= 1 << (cpu & 7);
  }
  return mask;
}

/** PER_LINUX and PER_LINUX32, the personalities the spec names. */
export const PERSONALITY_DOMAINS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
