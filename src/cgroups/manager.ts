import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { detectMode, parseProcCgroup, readHierarchies, type Hierarchy } from './detect';
import type { CgroupMode, CgroupRecord } from './types';
import { childCgroups, realFs, type CgroupFs } from './fs';
import type { CgroupManager } from './resources';
import { planSystemdCgroup } from './systemd-path';
import { TsruncError } from '../sys/errors';
import { statfsType } from '../sys/libc';

/**
 * A container's cgroup: one directory per mounted hierarchy (v1: one per
 * controller hierarchy, plus the cgroup2 one on hybrid hosts; v2: one).
 * Writing cgroup files is plain file I/O from here.
 */

/**
 * Resolves where a container's cgroup lives, before anything is created.
 * systemd: the --systemd-cgroup driver (cgroupsPath "slice:prefix:name", a
 * scope unit; initCgroup is PID 1's /proc/1/cgroup, for v1 hierarchies).
 */
export function planCgroup(cgroupsPath: string | undefined, id: string, mode?: CgroupMode, hierarchies?: Hierarchy[], ownCgroup?: Map<string, string>,
  systemd?: { initCgroup?: Map<string, string> }): CgroupRecord {
  const m = mode ?? detectMode(statfsType);
  const hs = (hierarchies ?? readHierarchies()).filter((h) => (m === 'unified' ? h.version === 2 : h.version === 1 || (m === 'hybrid' && h.mountPoint.endsWith('/unified'))));
  if (systemd) {
    const init = systemd.initCgroup ?? (m === 'unified' ? new Map<string, string>() : parseProcCgroup(readFileSync('/proc/1/cgroup', 'utf8')));
    return planSystemdCgroup(cgroupsPath, id, m, hs, init);
  }
  const own = ownCgroup ?? parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  const configured = cgroupsPath ?? id;
  if (/^[^/]*:[^/]*:[^/]*$/.test(configured) && !configured.startsWith('/')) {
    throw new TsruncError(`linux.cgroupsPath ${JSON.stringify(configured)} is a systemd slice:prefix:name path; it needs --systemd-cgroup`);
  }
  if (configured.split('/').includes('..')) throw new TsruncError(`linux.cgroupsPath ${JSON.stringify(configured)} must not contain ".."`);
  const dirs: Record<string, string> = {};
  for (const h of hs) {
    // Absolute: from the hierarchy root. Relative: under tsrunc's own cgroup in that hierarchy, as runc does.
    const base = configured.startsWith('/') ? '/' : own.get(h.key) ?? '/';
    const inHierarchy = posix.join(base, configured);
    const underRoot = h.mountRoot === '/' || inHierarchy === h.mountRoot || inHierarchy.startsWith(`${h.mountRoot}/`);
    const rel = underRoot && h.mountRoot !== '/' ? inHierarchy.slice(h.mountRoot.length) : inHierarchy;
    dirs[h.key] = join(h.mountPoint, rel);
  }
  const path = configured.startsWith('/') ? posix.normalize(configured) : posix.join(own.get(m === 'unified' ? '' : hs[0]?.key ?? '') ?? '/', configured);
  return { mode: m, path, dirs, created: [] };
}

/** Creates the directories; records which did not exist (only those are removed on delete). */
export function createCgroup(record: CgroupRecord): void {
  for (const [key, dir] of Object.entries(record.dirs)) {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = posix.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      mkdirSync(d);
      record.created.push(d);
    }
    if (key.split(',').includes('cpuset')) fillCpuset(dir);
  }
  // v2: a controller is usable only when every ancestor enables it for its children.
  if (record.mode === 'unified' && record.dirs['']) enableControllers(record.dirs['']);
}

/**
 * A v1 cpuset cgroup with empty cpus or mems admits no process (ENOSPC). A new
 * one starts empty, and so may the parents an engine created before us (pod
 * and slice cgroups): from the nearest ancestor that has values down to dir,
 * each empty level gets its parent's, as runc's cpusetEnsureParent does.
 * Levels that have values are left as they are.
 */
function fillCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const empty: string[] = [];
    let d = dir;
    for (;;) {
      let value: string;
      try {
        value = readFileSync(join(d, file), 'utf8');
      } catch {
        return; // above the hierarchy's root: nothing to copy from
      }
      if (value.trim() !== '') {
        for (const e of empty.reverse()) writeFileSync(join(e, file), value);
        break;
      }
      empty.push(d);
      const parent = posix.dirname(d);
      if (parent === d) return;
      d = parent;
    }
  }
}

/**
 * The one directory to put the container's first process in with
 * clone3(CLONE_INTO_CGROUP): only on unified hosts, and not with the systemd
 * driver, whose scope exists only once systemd made it around the process.
 */
export function cloneIntoDir(record: CgroupRecord): string | undefined {
  return record.mode === 'unified' && !record.systemd ? record.dirs[''] : undefined;
}

export function joinCgroup(record: CgroupRecord, pid: number): void {
  for (const [key, dir] of Object.entries(record.dirs)) {
    try {
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      throw new TsruncError(`join cgroup ${dir} (${key || 'cgroup2'}): ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The directory whose cgroup.procs lists the container's processes. */
export function mainDir(record: CgroupRecord): string {
  if (record.mode === 'unified') return record.dirs[''];
  const key = Object.keys(record.dirs).find((k) => k.split(',').includes('pids'))
    ?? Object.keys(record.dirs).find((k) => k.split(',').includes('freezer')) ?? Object.keys(record.dirs)[0];
  return record.dirs[key];
}

/** Every process in the container's cgroup, nested cgroups included. */
export function cgroupPids(record: CgroupRecord): number[] {
  const pids: number[] = [];
  const walk = (dir: string) => {
    let text: string;
    try {
      text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) if (line) pids.push(Number(line));
    for (const child of childCgroups(dir)) walk(child);
  };
  walk(mainDir(record));
  return pids;
}


/**
 * Before a v2 cgroup can use a controller, every ancestor must enable it
 * for its children (cgroup.subtree_control). For each ancestor from the
 * top down, enable what it has and has not enabled yet; a refusal (an
 * ancestor with processes of its own) is left for apply() to report with
 * the field that needed the controller.
 */
export function enableControllers(dir: string, fs: CgroupFs = realFs): void {
  const ancestors: string[] = [];
  for (let d = dirname(dir); d !== dirname(d) && fs.exists(join(d, 'cgroup.subtree_control')); d = dirname(d)) ancestors.unshift(d);
  for (const d of ancestors) {
    let have: Set<string>;
    let enabled: Set<string>;
    try {
      have = new Set(fs.read(join(d, 'cgroup.controllers')).trim().split(/\s+/).filter(Boolean));
      enabled = new Set(fs.read(join(d, 'cgroup.subtree_control')).trim().split(/\s+/).filter(Boolean));
    } catch {
      continue;
    }
    const missing = [...have].filter((c) => !enabled.has(c));
    if (!missing.length) continue;
    try {
      fs.write(join(d, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
    } catch {
      for (const c of missing) {
        try {
          fs.write(join(d, 'cgroup.subtree_control'), `+${c}`);
        } catch {
          // left for apply() to name
        }
      }
    }
  }
}

/** The manager of a cgroup record's mode (v2.ts, with the eBPF device code, is loaded only for unified hosts). */
export async function managerFor(record: CgroupRecord, fs?: CgroupFs): Promise<CgroupManager> {
  if (record.mode === 'unified') {
    const { V2Manager } = await import('./v2');
    return new V2Manager(record, fs);
  }
  const { V1Manager } = await import('./v1');
  return new V1Manager(record, fs);
}
