import { closeSync, openSync } from 'node:fs';
import { namespaceType } from '../sys/libc';
import { CLONE } from './constants';
import { TsruncError, errnoOf } from '../sys/errors';
import type { Namespace, NamespaceType } from '../spec/types';

export const NAMESPACE_FLAGS: Record<NamespaceType, number> = {
  pid: CLONE.NEWPID, network: CLONE.NEWNET, mount: CLONE.NEWNS, ipc: CLONE.NEWIPC, uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER, cgroup: CLONE.NEWCGROUP, time: CLONE.NEWTIME,
};

/** The name the kernel gives each type in /proc/<pid>/ns and in nsfs links ("net:[4026531992]"). */
export const NSFS_NAMES: Record<NamespaceType, string> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

/**
 * Joining order: the user namespace first (it decides what we may do in the
 * others), the mount namespace last (it changes how later paths resolve —
 * though tsrunc-init opens every path before joining any).
 */
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

/**
 * For exec: every namespace the container has, as /proc/<pid>/ns paths of its
 * process, in joining order. Types the config does not list are the host's,
 * which the exec'd process shares already.
 */
export function namespacesOf(namespaces: Namespace[] = [], pid: number): { type: NamespaceType; flag: number; path: string }[] {
  return namespaces
    .map((ns) => ({ type: ns.type, flag: NAMESPACE_FLAGS[ns.type], path: `/proc/${pid}/ns/${NSFS_NAMES[ns.type]}` }))
    .sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
}

export interface NamespacePlan {
  /** CLONE_NEW* flags for namespaces created by clone() itself. */
  cloneFlags: number;
  /** Created after the process has joined its cgroup, so that the cgroup is its namespace root. */
  unshareCgroup: boolean;
  /**
   * Joined by the container process after clone, once it is in its cgroup: a cgroup namespace given
   * by path (the kernel refuses to clone into, or move to, a cgroup outside the caller's cgroup
   * namespace), then, if there is one, the mount namespace given by path (whose /proc would no
   * longer show the host's namespace files).
   */
  joinAfterCgroup: { flag: number; path: string }[];
  /** Created by unshare() before clone(): clone() cannot take CLONE_NEWTIME. */
  unshareTime: boolean;
  join: { type: NamespaceType; flag: number; path: string }[];
  has: (type: NamespaceType) => boolean;
  isNew: (type: NamespaceType) => boolean;
}

export function planNamespaces(namespaces: Namespace[] = []): NamespacePlan {
  let cloneFlags = 0;
  const join: NamespacePlan['join'] = [];
  for (const ns of namespaces) {
    const flag = NAMESPACE_FLAGS[ns.type];
    if (ns.path) join.push({ type: ns.type, flag, path: ns.path });
    else if (ns.type !== 'cgroup' && ns.type !== 'time') cloneFlags |= flag;
  }
  join.sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  const find = (type: NamespaceType) => namespaces.find((n) => n.type === type);
  const late = find('cgroup')?.path ? new Set<NamespaceType>(['cgroup', 'mount']) : new Set<NamespaceType>();
  return {
    cloneFlags,
    unshareCgroup: !!find('cgroup') && !find('cgroup')!.path,
    unshareTime: !!find('time') && !find('time')!.path,
    join: join.filter((j) => !late.has(j.type)),
    joinAfterCgroup: join.filter((j) => late.has(j.type)).map(({ flag, path }) => ({ flag, path })),
    has: (type) => !!find(type),
    isNew: (type) => !!find(type) && !find(type)!.path,
  };
}

/**
 * Checks that path is a namespace file of the given type (an nsfs link such
 * as /proc/<pid>/ns/net or a bind mount of one, as /run/netns/NAME), so a
 * wrong path is a clear error before anything is built. The kernel says
 * what the opened file is (ioctl NS_GET_NSTYPE): a bind mount's
 * /proc/self/fd link shows its path, not "net:[...]".
 */
export function checkNamespacePath(type: NamespaceType, path: string, where: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new TsruncError(`${where}: cannot open namespace ${JSON.stringify(path)}: ${errnoOf(err) ?? (err as Error).message}`, { cause: err });
  }
  try {
    const flag = namespaceType(fd);
    if (flag === undefined) throw new TsruncError(`${where}: ${JSON.stringify(path)} is not a namespace file`);
    const kind = (Object.keys(NAMESPACE_FLAGS) as NamespaceType[]).find((t) => NAMESPACE_FLAGS[t] === flag);
    if (kind !== type) {
      throw new TsruncError(`${where}: ${JSON.stringify(path)} is a ${kind ? NSFS_NAMES[kind] : `0x${flag.toString(16)}`} namespace, not ${type}`);
    }
  } finally {
    closeSync(fd);
  }
}
