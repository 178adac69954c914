import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { joinCgroup } from '../cgroups/manager';
import type { CgroupRecord } from '../cgroups/types';
import { runHooksOrThrow } from './hooks';
import { fullProcSysfsMounts, isAtOrBelow, mountPointsOf } from '../linux/mounts';
import type { HostSide } from './setup';
import type { Spec } from '../spec/types';
import { TsruncError } from '../sys/errors';
import { ioprioSet, schedSetattr } from '../sys/libc';
import { setgroupsAllowed, writeIdMaps } from '../linux/idmap';
import { currentCaller } from '../linux/rootless';

/** The host-side half of container setup (see HostSide), done by tsrunc directly. */
export class RealHostSide implements HostSide {
  constructor(
    private readonly spec: Spec,
    private readonly cgroup: CgroupRecord | undefined,
    private readonly state: (pid: number, status: 'creating' | 'created') => string,
    private readonly recordPid: (pid: number) => void,
    private readonly bundle: string,
    /** How the container's first process enters its cgroup when that is more than a write to cgroup.procs (the systemd driver's scope). */
    private readonly placeInCgroup?: (pid: number) => Promise<void>,
  ) {}

  statSource(path: string): 'dir' | 'file' | 'missing' {
    try {
      return statSync(path).isDirectory() ? 'dir' : 'file';
    } catch {
      return 'missing';
    }
  }

  writeIdMaps(pid: number, uidMap: string, gidMap: string): void {
    // Written from outside the new namespace, before the process does anything in it; without host
    // root, through newuidmap/newgidmap for anything but the caller's own ids (src/linux/idmap.ts).
    writeIdMaps(pid, uidMap, gidMap, currentCaller());
  }

  setgroupsAllowed(pid: number): boolean {
    return setgroupsAllowed(pid);
  }

  joinCgroup(pid: number): void | Promise<void> {
    if (this.placeInCgroup) return this.placeInCgroup(pid);
    if (this.cgroup) joinCgroup(this.cgroup, pid);
  }

  setOomScoreAdj(pid: number, score: number): void {
    try {
      writeFileSync(`/proc/${pid}/oom_score_adj`, String(score));
    } catch (err) {
      throw new TsruncError(`process.oomScoreAdj: write ${score} to /proc/${pid}/oom_score_adj: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }

  setIoPriority(pid: number, ioprio: number): void {
    try {
      ioprioSet(pid, ioprio);
    } catch (err) {
      throw new TsruncError(`process.ioPriority: ${(err as Error).message}`, { cause: err });
    }
  }

  setScheduler(pid: number, attr: Buffer): void {
    try {
      schedSetattr(pid, attr);
    } catch (err) {
      throw new TsruncError(`process.scheduler: ${(err as Error).message}`, { cause: err });
    }
  }

  onPid(pid: number): void {
    this.recordPid(pid);
  }

  async runRuntimeHooks(kind: 'prestart' | 'createRuntime', pid: number): Promise<void> {
    const hooks = this.spec.hooks?.[kind];
    if (hooks?.length) await runHooksOrThrow(kind, hooks, this.state(pid, 'creating'), this.bundle);
  }

  hookState(pid: number, status: 'creating' | 'created'): string {
    return this.state(pid, status);
  }

  seccompListenerState(pid: number): string {
    return JSON.stringify({
      ociVersion: this.spec.ociVersion, fds: ['seccompFd'], pid,
      metadata: this.spec.linux?.seccomp?.listenerMetadata ?? '', state: JSON.parse(this.state(pid, 'creating')),
    });
  }

  procSysfsMountsOf(pid: number): string[] {
    return fullProcSysfsMounts(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  }

  mountPointOf(path: string): string {
    let best = '/';
    for (const mp of mountPointsOf(readFileSync('/proc/self/mountinfo', 'utf8'))) {
      if (isAtOrBelow(path, mp) && mp.length > best.length) best = mp;
    }
    return best;
  }

}
