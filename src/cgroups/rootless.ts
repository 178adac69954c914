/**
 * cgroups without host root (runc's rootless cgroup manager, cgroupfs
 * driver): a cgroup the caller cannot create is skipped when the config
 * asks for no limits, so the container stays in the caller's cgroups; when
 * the caller can write (a delegated cgroup v2 subtree), the container gets
 * its cgroup as for root; limits that cannot be applied are an error naming
 * them.
 */
import { join, posix } from 'node:path';
import type { Resources } from '../spec/types';
import type { Hierarchy } from './detect';
import type { CgroupMode, CgroupRecord } from './types';
import { errnoOf } from '../sys/errors';

/** An error that says "not yours to write" (as opposed to a bad value): EACCES, EPERM, EROFS. */
export function isPermissionError(err: unknown): boolean {
  const code = errnoOf(err) ?? /\b(EACCES|EPERM|EROFS)\b/.exec((err as Error)?.message ?? '')?.[1];
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

/**
 * The linux.resources fields that ask for a limit: any value but absent,
 * 0, -1, false, "" or empty. Device rules are not among them: in a user
 * namespace no device node can be created, and the nodes bound from the
 * host keep the host's permissions (runc ignores the devices controller
 * when rootless too).
 */
export function requestedResources(resources: Resources | undefined): string[] {
  const out: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value === undefined || value === null || value === false || value === 0 || value === -1 || value === '') return;
    if (Array.isArray(value)) {
      if (value.length) out.push(path);
      return;
    }
    if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, `${path}.${k}`);
      return;
    }
    out.push(path);
  };
  for (const [k, v] of Object.entries(resources ?? {})) if (k !== 'devices') walk(v, `linux.resources.${k}`);
  return out;
}

/**
 * The caller's own cgroup directories, one per hierarchy: what a "cgroup"
 * mount shows when the container has no cgroup of its own (runc binds the
 * cgroups its process is in).
 */
export function callerCgroupView(mode: CgroupMode, hierarchies: Hierarchy[], own: Map<string, string>): CgroupRecord {
  const dirs: Record<string, string> = {};
  for (const h of hierarchies) {
    if (mode === 'unified' ? h.version !== 2 : !(h.version === 1 || (mode === 'hybrid' && h.mountPoint.endsWith('/unified')))) continue;
    const path = own.get(h.key);
    if (path === undefined) continue;
    const under = h.mountRoot === '/' ? path : path === h.mountRoot ? '/' : path.startsWith(`${h.mountRoot}/`) ? path.slice(h.mountRoot.length) : undefined;
    if (under === undefined) continue;
    const rel = posix.normalize(under);
    dirs[h.key] = rel === '/' ? h.mountPoint : join(h.mountPoint, rel);
  }
  return { mode, path: own.get(mode === 'unified' ? '' : Object.keys(dirs)[0] ?? '') ?? '/', dirs, created: [] };
}
