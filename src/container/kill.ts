import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { cgroupPids, managerFor } from '../cgroups/manager';
import { parseSignal } from '../linux/signals';
import { isAlive, readProcStat } from '../linux/proc';
import type { ContainerRecord, StateStore } from '../state/store';
import { SyscallError, TsruncError } from '../sys/errors';
import { loadContainer } from './load';
import { pidfdOpen, pidfdSendSignal } from '../sys/libc';

const { ESRCH } = constants.errno;

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
  // A frozen process (v1 freezer) dies of SIGKILL only once thawed: runc thaws a paused container it kills.
  if (signal === 9 && status === 'paused' && record.cgroup) (await managerFor(record.cgroup)).thaw();
}

async function signalProcess(pid: number, startTime: string, signal: number): Promise<boolean> {
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === ESRCH) return false; // gone
    throw new TsruncError(`signal ${signal} to process ${pid}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // The pidfd pins this exact process: check it is still ours, then signal through it.
    if (!isAlive(pid, startTime)) return false;
    try {
      pidfdSendSignal(pidfd, signal);
    } catch (err) {
      // It ended since the check (killing a pid namespace's init ends the rest of it at once).
      if (err instanceof SyscallError && err.errno === ESRCH) return false;
      throw new TsruncError(`signal ${signal} to process ${pid}: ${(err as Error).message}`, { cause: err });
    }
    return true;
  } finally {
    closeSync(pidfd);
  }
}

/**
 * Every process of the container: those in its cgroup (nested cgroups
 * included), and its init. For SIGKILL the cgroup is frozen first, so no
 * process can fork a new one between the listing and the signals, and
 * thawed after (frozen processes die when thawed), as runc does.
 */
export async function signalAll(record: ContainerRecord, signal: number): Promise<void> {
  const manager = signal === 9 && record.cgroup ? await managerFor(record.cgroup) : undefined;
  let frozen = false;
  if (manager) {
    try {
      await manager.freeze();
      frozen = true;
    } catch {
      // no freezer (or it would not settle): kill without it
    }
  }
  try {
    const targets = new Set<number>(record.cgroup ? cgroupPids(record.cgroup) : []);
    if (record.pid !== undefined && record.pidStartTime !== undefined && isAlive(record.pid, record.pidStartTime)) targets.add(record.pid);
    for (const pid of targets) {
      const stat = readProcStat(pid);
      if (stat) await signalProcess(pid, stat.startTime, signal);
    }
  } finally {
    if (frozen || (manager && safeFrozen(manager))) manager!.thaw();
  }
}

function safeFrozen(m: import('../cgroups/resources').CgroupManager): boolean {
  try {
    return m.isFrozen();
  } catch {
    return false;
  }
}
