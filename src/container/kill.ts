import { constants } from 'node:os';
import { freezerOf, type Freezer } from '../cgroups/freezer';
import { cgroupPids } from '../cgroups/manager';
import type { CgroupRecord } from '../cgroups/types';
import { realHostSys, type HostSys } from '../linux/host';
import { parseSignal } from '../linux/signals';
import { isAlive } from '../linux/proc';
import type { ContainerRecord, StateStore } from '../state/store';
import { SyscallError, TsruncError } from '../sys/errors';
import { loadContainer } from './load';

const { ESRCH } = constants.errno;
const SIGKILL = constants.signals.SIGKILL;

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
  if (signal === SIGKILL && status === 'paused' && record.cgroup) freezerOf(record.cgroup).thaw();
}

/** Signals pid if it is still the process that had startTime; false when it is gone (or never was ours). */
export async function signalProcess(pid: number, startTime: string, signal: number, sys: HostSys = realHostSys): Promise<boolean> {
  let pidfd: number;
  try {
    pidfd = sys.pidfdOpen(pid);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === ESRCH) return false; // gone
    throw new TsruncError(`signal ${signal} to process ${pid}: ${(err as Error).message}`, { cause: err });
  }
  try {
    // The pidfd pins this exact process: check it is still ours, then signal through it.
    if (!isAlive(pid, startTime, (p) => sys.readProcStat(p))) return false;
    try {
      sys.pidfdSendSignal(pidfd, signal);
    } catch (err) {
      // It ended since the check (killing a pid namespace's init ends the rest of it at once).
      if (err instanceof SyscallError && err.errno === ESRCH) return false;
      throw new TsruncError(`signal ${signal} to process ${pid}: ${(err as Error).message}`, { cause: err });
    }
    return true;
  } finally {
    sys.close(pidfd);
  }
}

/** What signalAll works with: the host's processes, the cgroup's members and its freezer. */
export interface SignalAllDeps {
  sys: HostSys;
  pids(cgroup: CgroupRecord): number[];
  freezer(cgroup: CgroupRecord): Freezer;
}

const realDeps: SignalAllDeps = { sys: realHostSys, pids: cgroupPids, freezer: (c) => freezerOf(c) };

/**
 * Every process of the container: those in its cgroup (nested cgroups
 * included), and its init. For SIGKILL the cgroup is frozen first, so no
 * process can fork a new one between the listing and the signals, and
 * thawed after (frozen processes die when thawed), as runc does.
 */
export async function signalAll(record: ContainerRecord, signal: number, deps: SignalAllDeps = realDeps): Promise<void> {
  const freezer = signal === SIGKILL && record.cgroup ? deps.freezer(record.cgroup) : undefined;
  let frozen = false;
  if (freezer) {
    try {
      await freezer.freeze();
      frozen = true;
    } catch {
      // no freezer (or it would not settle): kill without it
    }
  }
  try {
    const targets = new Set<number>(record.cgroup ? deps.pids(record.cgroup) : []);
    const read = (p: number) => deps.sys.readProcStat(p);
    if (record.pid !== undefined && record.pidStartTime !== undefined && isAlive(record.pid, record.pidStartTime, read)) targets.add(record.pid);
    for (const pid of targets) {
      const stat = read(pid);
      if (stat) await signalProcess(pid, stat.startTime, signal, deps.sys);
    }
  } finally {
    if (freezer && (frozen || safeFrozen(freezer))) freezer.thaw();
  }
}

function safeFrozen(f: Freezer): boolean {
  try {
    return f.isFrozen();
  } catch {
    return false;
  }
}
