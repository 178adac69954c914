import { closeSync } from 'node:fs';
import { pidfdOpen, pidfdSendSignal } from '../sys/libc';
import { readProcStat, type ProcStat } from './proc';

/**
 * The host-side system calls the container operations make themselves, as
 * an interface they can be given: the real one below, a fake in tests
 * (test/fakes/host.ts). The init side has its own (InitOps).
 */
export interface HostSys {
  /** /proc/<pid>/stat, or undefined when there is no such process. */
  readProcStat(pid: number): ProcStat | undefined;
  /** pidfd_open(2): throws a SyscallError (ESRCH: no such process). */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2): throws a SyscallError (ESRCH: it has ended). */
  pidfdSendSignal(pidfd: number, signal: number): void;
  close(fd: number): void;
}

export const realHostSys: HostSys = {
  readProcStat,
  pidfdOpen,
  pidfdSendSignal,
  close: closeSync,
};
