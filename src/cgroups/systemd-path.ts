/**
 * Where the systemd cgroup driver puts a container: a "slice:prefix:name"
 * cgroupsPath is a transient scope unit "prefix-name.scope" in the slice.
 * Pure, and cheap to load: every command that plans or reads a cgroup may
 * import it (the unit properties, which need the device rules, are in
 * systemd.ts; the D-Bus half in systemd-unit.ts).
 */
import { posix } from 'node:path';
import { TsruncError } from '../sys/errors';
import type { Hierarchy } from './detect';
import type { CgroupMode, CgroupRecord } from './types';
const FIELD = 'linux.cgroupsPath';
/** runc's default for a container without cgroupsPath is system.slice:runc:<id>; ours names tsrunc. */
export const DEFAULT_SLICE = 'system.slice';
export const DEFAULT_PREFIX = 'tsrunc';

export interface SystemdPath {
  /** The slice unit, e.g. "kubepods-burstable.slice". */
  slice: string;
  /** The scope unit, e.g. "cri-containerd-<id>.scope". */
  unit: string;
}

/**
 * Parses "slice:prefix:name" as runc does (an empty slice = system.slice;
 * no cgroupsPath = system.slice:tsrunc:<id>), and checks what runc leaves
 * to systemd, so a bad value is refused before anything exists and can
 * never name a directory outside the slice.
 */
export function parseSystemdPath(cgroupsPath: string | undefined, id: string): SystemdPath {
  if (cgroupsPath === undefined || cgroupsPath === '') return { slice: DEFAULT_SLICE, unit: `${DEFAULT_PREFIX}-${id}.scope` };
  const parts = cgroupsPath.split(':');
  if (parts.length !== 3) {
    throw new TsruncError(`${FIELD} ${JSON.stringify(cgroupsPath)}: with --systemd-cgroup it must be "slice:prefix:name" (e.g. "system.slice:docker:1234")`);
  }
  const [sliceText, prefix, name] = parts;
  const slice = sliceText || DEFAULT_SLICE;
  expandSlice(slice, cgroupsPath);
  if (!name) throw new TsruncError(`${FIELD} ${JSON.stringify(cgroupsPath)}: the name (after the second ":") is empty`);
  if (name.endsWith('.slice')) {
    throw new TsruncError(`${FIELD} ${JSON.stringify(cgroupsPath)}: a name ending in ".slice" (a slice unit instead of a scope) is not supported`);
  }
  const unit = `${prefix}-${name}.scope`;
  // systemd's unit name rules (unit_name_is_valid): these characters, at most 255 bytes.
  if (!/^[A-Za-z0-9_.\\-]+$/.test(`${prefix}${name}`) || unit.length > 255) {
    throw new TsruncError(`${FIELD} ${JSON.stringify(cgroupsPath)}: ${JSON.stringify(unit)} is not a valid systemd unit name (letters, digits, "-", "_", ".", "\\"; at most 255 characters)`);
  }
  return { slice, unit };
}

/**
 * A slice's cgroup path: systemd nests slices by the dashes in their names,
 * so "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root
 * (runc's ExpandSlice, with its rules: no "/", no empty component).
 */
export function expandSlice(slice: string, whole = slice): string {
  const bad = (why: string) => new TsruncError(`${FIELD} ${JSON.stringify(whole)}: invalid slice name ${JSON.stringify(slice)}: ${why}`);
  if (!slice.endsWith('.slice') || slice.length <= '.slice'.length) throw bad('it must end in ".slice"');
  if (slice.includes('/')) throw bad('it must not contain "/"');
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  if (!/^[A-Za-z0-9_.\\-]+$/.test(base)) throw bad('systemd unit names use letters, digits, "-", "_", "." and "\\"');
  let path = '';
  let prefix = '';
  for (const component of base.split('-')) {
    if (component === '') throw bad('a "-" may not start or end it, or follow another "-"');
    path += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return path;
}

/**
 * The container's cgroup directories under the systemd driver: on unified
 * hosts /sys/fs/cgroup/<slice path>/<unit>; on v1 and hybrid hosts the same
 * under each hierarchy, below PID 1's own cgroup there (runc's
 * getSubsystemPath: systemd counts slices from its root, which is PID 1's
 * cgroup without init.scope).
 */
export function planSystemdCgroup(cgroupsPath: string | undefined, id: string, mode: CgroupMode, hierarchies: Hierarchy[], initCgroup: Map<string, string>): CgroupRecord {
  const { slice, unit } = parseSystemdPath(cgroupsPath, id);
  const path = posix.join(expandSlice(slice), unit);
  const dirs: Record<string, string> = {};
  for (const h of hierarchies) {
    const init = mode === 'unified' ? '/' : stripInitScope(initCgroup.get(h.key) ?? '/');
    dirs[h.key] = posix.join(h.mountPoint, init, path);
  }
  return { mode, path, dirs, created: [], systemd: { slice, unit } };
}

function stripInitScope(p: string): string {
  const clean = posix.normalize(p);
  return clean.endsWith('/init.scope') ? clean.slice(0, -'init.scope'.length) : clean === 'init.scope' ? '/' : clean;
}

