/**
 * Writing a new user namespace's id maps, from outside it. Host root writes
 * /proc/<pid>/{uid,gid}_map itself. Anyone else may map only their own
 * effective uid and gid, one id each, and only after denying setgroups(2) in
 * the namespace (the kernel's rule, so that dropping a group cannot grant
 * access); anything more (ranges from /etc/subuid and /etc/subgid) goes
 * through shadow's setuid helpers newuidmap and newgidmap, which check the
 * ranges against those files, as runc and podman do. tsrunc itself never
 * holds a privilege the caller does not have.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Caller } from './rootless';
import { TsruncError, errnoOf } from '../sys/errors';

export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/** "c h s\n" lines (the map files' format) back into ranges. */
export function parseIdMap(text: string): IdRange[] {
  return text.split('\n').filter((l) => l.trim()).map((l) => {
    const [containerID, hostID, size] = l.trim().split(/\s+/).map(Number);
    return { containerID, hostID, size };
  });
}

/** How one map gets written: directly, or by newuidmap/newgidmap. */
export type MapWriter = 'direct' | 'helper';

/** Only host root may write any map; others write directly only their own single id. */
export function mapWriter(ranges: IdRange[], own: number, caller: Caller): MapWriter {
  if (caller.hostRoot || caller.euid === 0) return 'direct';
  return ranges.length === 1 && ranges[0].hostID === own && ranges[0].size === 1 ? 'direct' : 'helper';
}

/** Finds newuidmap/newgidmap on PATH (runc looks them up the same way), then in /usr/bin. */
export function findHelper(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(':').filter(Boolean), '/usr/bin', '/bin']) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * Writes the uid and gid maps of the user namespace of pid. The process
 * must be dumpable while this runs (its /proc files are otherwise root's,
 * which only host root can write).
 */
export function writeIdMaps(pid: number, uidMap: string, gidMap: string, caller: Caller): void {
  const uids = parseIdMap(uidMap), gids = parseIdMap(gidMap);
  if (!uids.length) throw new TsruncError('linux.uidMappings: a new user namespace needs mappings');
  if (!gids.length) throw new TsruncError('linux.gidMappings: a new user namespace needs mappings');
  const uidWriter = mapWriter(uids, caller.euid, caller);
  const gidWriter = mapWriter(gids, caller.egid, caller);
  if (uidWriter === 'helper') runHelper('newuidmap', pid, uids, caller, 'linux.uidMappings', '/etc/subuid');
  else writeMap(pid, 'uid_map', uidMap);
  if (gidWriter === 'helper') {
    runHelper('newgidmap', pid, gids, caller, 'linux.gidMappings', '/etc/subgid');
  } else {
    // An unprivileged gid_map is accepted only once setgroups is denied (user_namespaces(7)).
    if (!caller.hostRoot && caller.euid !== 0) writeMap(pid, 'setgroups', 'deny');
    writeMap(pid, 'gid_map', gidMap);
  }
}

/** Whether setgroups(2) is allowed in the user namespace of pid ("deny" after an unprivileged single-gid map). */
export function setgroupsAllowed(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() !== 'deny';
  } catch {
    return true;
  }
}

function writeMap(pid: number, file: string, data: string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, data);
  } catch (err) {
    throw new TsruncError(`write /proc/${pid}/${file}: ${errnoOf(err) ?? (err as Error).message}`);
  }
}

function runHelper(name: string, pid: number, ranges: IdRange[], caller: Caller, field: string, file: string): void {
  const helper = findHelper(name);
  const own = name === 'newuidmap' ? `uid ${caller.euid}` : `gid ${caller.egid}`;
  if (!helper) {
    throw new TsruncError(`${field} maps more than your own ${own}: that needs ${name} (package uidmap) and a range in ${file}`);
  }
  const args = [String(pid), ...ranges.flatMap((r) => [String(r.containerID), String(r.hostID), String(r.size)])];
  const r = spawnSync(helper, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new TsruncError(`${field}: ${helper}: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit status ${r.status}`;
    throw new TsruncError(`${field}: ${name} refused the mapping (${why}); the ranges must be your own ${own} or lie in yours in ${file}`);
  }
}
