import type { Namespace } from '../spec/types';

/**
 * Which sysctls a container may set: only those of a kernel namespace the
 * container has of its own (the rule runc applies). Anything else would
 * change the host.
 */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** The /proc/sys path of a key, written with dots (net.ipv4.ip_forward) or slashes (net/ipv4/conf/eth0.1/forwarding). */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key.replace(/^\/+/, '') : key.replace(/\./g, '/')}`;
}

/** Why a sysctl cannot be set in this container, or undefined when it can. */
export function sysctlProblem(key: string, namespaces: Namespace[] = [], hostname?: string): string | undefined {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(key) || key.split(/[./]/).includes('..')) return 'is not a sysctl name';
  const has = (type: Namespace['type']) => namespaces.some((n) => n.type === type);
  const dotted = key.replace(/\//g, '.');
  if (IPC_SYSCTLS.has(dotted) || dotted.startsWith('fs.mqueue.')) {
    return has('ipc') ? undefined : 'needs an ipc namespace of the container (it would change the host\'s)';
  }
  if (dotted.startsWith('net.')) return has('network') ? undefined : 'needs a network namespace of the container (it would change the host\'s)';
  if (dotted === 'kernel.domainname') return has('uts') ? undefined : 'needs a uts namespace of the container';
  if (dotted === 'kernel.hostname') return has('uts') ? (hostname ? 'conflicts with the hostname field' : undefined) : 'needs a uts namespace of the container';
  return 'is not namespaced: setting it would change the host';
}
