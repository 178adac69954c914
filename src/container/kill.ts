import { closeSync } from 'node:fs';
import { cgroupPids } from '../cgroups/manager';
import { parseSignal } from '../linux/signals';
import { isAlive, readProcStat } from '../state/proc';
import type { ContainerRecord, StateStore } from '../state/store';
import { TsruncError } from '../sys/errors';
import { loadContainer } from './load';

/**
 * `kill`: signal the container's process, or with --all every process in its
 * cgroup. The signal goes through a pidfd opened while the start time still
 * matches, so it can never reach a process that reused the pid.
 */
export async function killContainer(store: StateStore, id: string, signalText: string, all: boolean): Promise<void> {
  const signal = parseSignal(signalText);
  const { record, status } = loadContainer(store, id);
  if (status === 'stopped' && !all) throw new TsruncError('container not running');
  if (status === 'creating') throw new TsruncError('container is still being created');
  if (all) {
    await signalAll(record, signal);
    return;
  }
  await signalProcess(record.pid!, record.pidStartTime!, signal);
}

export async function signalProcess(pid: number, startTime: string, signal: number): Promise<boolean> {
  const { pidfdOpen, pidfdSendSignal } = await import('../sys/libc');
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch {
    return false; // gone
  }
  try {
    // The pidfd pins this exact process: check it is still ours, then signal through it.
    if (!isAlive(pid, startTime)) return false;
    pidfdSendSignal(pidfd, signal);
    return true;
  } finally {
    closeSync(pidfd);
  }
}

/** Every process of the container: those in its cgroup (nested cgroups included), and its init. */
export async function signalAll(record: ContainerRecord, signal: number): Promise<void> {
  const targets = new Set<number>(record.cgroup ? cgroupPids(record.cgroup) : []);
  if (record.pid !== undefined && record.pidStartTime !== undefined && isAlive(record.pid, record.pidStartTime)) targets.add(record.pid);
  for (const pid of targets) {
    const stat = readProcStat(pid);
    if (stat) await signalProcess(pid, stat.startTime, signal);
  }
}
