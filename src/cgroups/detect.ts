import { readFileSync } from 'node:fs';
import type { CgroupMode } from './types';
import { unescapeMountinfo } from '../linux/mounts';

export const CGROUP_ROOT = '/sys/fs/cgroup';
const CGROUP2_SUPER_MAGIC = 0x63677270n;
const TMPFS_MAGIC = 0x01021994n;

/**
 * The host's cgroup mode, from statfs magic numbers, never assumed:
 * /sys/fs/cgroup itself a cgroup2 mount = unified; a tmpfs of v1 hierarchies
 * with a cgroup2 mount at unified/ = hybrid; without it = legacy.
 */
export function detectMode(statfsType: (path: string) => bigint, root = CGROUP_ROOT): CgroupMode {
  const top = statfsType(root);
  if (top === CGROUP2_SUPER_MAGIC) return 'unified';
  if (top !== TMPFS_MAGIC) throw new Error(`${root} is neither cgroup2 nor a tmpfs of cgroup hierarchies (magic 0x${top.toString(16)})`);
  try {
    if (statfsType(`${root}/unified`) === CGROUP2_SUPER_MAGIC) return 'hybrid';
  } catch {
    // no unified mount
  }
  return 'legacy';
}

/** One mounted cgroup hierarchy, from /proc/self/mountinfo. */
export interface Hierarchy {
  /** v1: the controllers (e.g. ["cpu","cpuacct"]) or ["name=systemd"]; v2: []. */
  controllers: string[];
  /** Key used in CgroupRecord.dirs: v1 "cpu,cpuacct" / "name=systemd", v2 "". */
  key: string;
  version: 1 | 2;
  mountPoint: string;
  /** The cgroup path the mount shows as its root (not "/" inside a container that mounted its own). */
  mountRoot: string;
}

export function parseHierarchies(mountinfo: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    const mountRoot = unescapeMountinfo(left[3]);
    const mountPoint = unescapeMountinfo(left[4]);
    if (fstype === 'cgroup2') {
      out.push({ controllers: [], key: '', version: 2, mountPoint, mountRoot });
    } else if (fstype === 'cgroup') {
      const controllers = superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') &&
        o !== 'clone_children' && o !== 'noprefix' && o !== 'xattr' && o !== 'cpuset_v2_mode');
      out.push({ controllers, key: controllers.join(','), version: 1, mountPoint, mountRoot });
    }
  }
  // One entry per hierarchy: the same hierarchy may be mounted more than once; the first mount under /sys/fs/cgroup wins.
  const seen = new Map<string, Hierarchy>();
  for (const h of out) {
    const prev = seen.get(h.key);
    if (!prev || (!prev.mountPoint.startsWith(CGROUP_ROOT) && h.mountPoint.startsWith(CGROUP_ROOT))) seen.set(h.key, h);
  }
  return [...seen.values()];
}

/** /proc/<pid>/cgroup as hierarchy key -> path ("" for cgroup2). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[2], m[3]);
  }
  return out;
}

export function readHierarchies(): Hierarchy[] {
  return parseHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'));
}
