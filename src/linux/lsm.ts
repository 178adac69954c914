import { existsSync, readFileSync } from 'node:fs';

/**
 * The Linux security modules a container may ask for, and whether this host
 * has them. An exec label is written to /proc/thread-self/attr/... just
 * before execve, as runc does.
 */
export interface LsmSupport {
  apparmor: boolean;
  selinux: boolean;
}

export function lsmSupport(): LsmSupport {
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y' && existsSync('/sys/kernel/security/apparmor');
  } catch {
    // not built in
  }
  return { apparmor, selinux: existsSync('/sys/fs/selinux/enforce') };
}

/** Where an AppArmor exec profile is written: the stacked-LSM interface when the kernel has it. */
export function apparmorExecFile(): string {
  return existsSync('/proc/thread-self/attr/apparmor/exec') ? '/proc/thread-self/attr/apparmor/exec' : '/proc/thread-self/attr/exec';
}

/** mount(2) data with an SELinux context for the filesystem, as runc formats it. */
export function withMountLabel(data: string, label: string): string {
  const context = `context="${label}"`;
  return data ? `${data},${context}` : context;
}
