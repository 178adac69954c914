import { constants } from 'node:os';
import type { HostSys } from '../../src/linux/host';
import type { ProcStat } from '../../src/linux/proc';
import { SyscallError } from '../../src/sys/errors';

/**
 * A fake host for the host-side logic (HostSys): a table of processes, pidfds
 * that pin them, and a log of every call in order. A process is signalled by
 * recording it; SIGKILL makes it a zombie, as the kernel would.
 */
export class FakeHostSys implements HostSys {
  readonly processes = new Map<number, ProcStat>();
  readonly log: string[] = [];
  /** errno pidfd_open fails with for a pid (ESRCH is automatic for pids not in the table). */
  readonly openFailures = new Map<number, number>();
  private readonly pidfds = new Map<number, number>();
  private nextFd = 100;

  spawn(pid: number, startTime: string, state = 'S'): this {
    this.processes.set(pid, { state, ppid: 1, startTime });
    return this;
  }

  /** File descriptors opened and not closed. */
  get openFds(): number[] {
    return [...this.pidfds.keys()];
  }

  readProcStat(pid: number): ProcStat | undefined {
    const p = this.processes.get(pid);
    return p && { ...p };
  }

  pidfdOpen(pid: number): number {
    const failure = this.openFailures.get(pid) ?? (this.processes.has(pid) ? undefined : constants.errno.ESRCH);
    if (failure !== undefined) {
      this.log.push(`pidfd_open ${pid} -> errno ${failure}`);
      throw new SyscallError('pidfd_open', failure, `pid ${pid}`);
    }
    const fd = this.nextFd++;
    this.pidfds.set(fd, pid);
    this.log.push(`pidfd_open ${pid} -> ${fd}`);
    return fd;
  }

  pidfdSendSignal(pidfd: number, signal: number): void {
    const pid = this.pidfds.get(pidfd);
    if (pid === undefined) throw new SyscallError('pidfd_send_signal', constants.errno.EBADF);
    const p = this.processes.get(pid);
    if (!p || p.state === 'Z') {
      this.log.push(`signal ${signal} -> ${pid}: ESRCH`);
      throw new SyscallError('pidfd_send_signal', constants.errno.ESRCH);
    }
    this.log.push(`signal ${signal} -> ${pid}`);
    if (signal === constants.signals.SIGKILL) p.state = 'Z';
  }

  close(fd: number): void {
    if (!this.pidfds.delete(fd)) throw new SyscallError('close', constants.errno.EBADF);
    this.log.push(`close ${fd}`);
  }
}
