import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { detectMode, parseProcCgroup, readHierarchies, type Hierarchy } from './detect';
import type { CgroupMode, CgroupRecord } from './types';
import { realFs, type CgroupFs } from './fs';
import type { CgroupManager } from './resources';
import { TsruncError, errnoOf } from '../sys/errors';
import { statfsType } from '../sys/libc';

/**
 * A container's cgroup: one directory per mounted hierarchy (v1: one per
 * controller hierarchy, plus the cgroup2 one on hybrid hosts; v2: one).
 * Writing cgroup files is plain file I/O from here.
 */

/** Resolves where a container's cgroup lives, before anything is created. */
export function planCgroup(cgroupsPath: string | undefined, id: string, mode?: CgroupMode, hierarchies?: Hierarchy[], ownCgroup?: Map<string, string>): CgroupRecord {
  const m = mode ?? detectMode(statfsType);
  const hs = (hierarchies ?? readHierarchies()).filter((h) => (m === 'unified' ? h.version === 2 : h.version === 1 || (m === 'hybrid' && h.mountPoint.endsWith('/unified'))));
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
      if (key.split(',').includes('cpuset')) inheritCpuset(d);
    }
  }
  // v2: a controller is usable only when every ancestor enables it for its children.
  if (record.mode === 'unified' && record.dirs['']) enableControllers(record.dirs['']);
}

/** A new v1 cpuset cgroup starts with no cpus and mems, and no process can join it: copy the parent's. */
function inheritCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const path = join(dir, file);
    if (readFileSync(path, 'utf8').trim() === '') writeFileSync(path, readFileSync(join(posix.dirname(dir), file), 'utf8'));
  }
}

/** The one directory to put the process in with clone3(CLONE_INTO_CGROUP): only on unified hosts. */
export function cloneIntoDir(record: CgroupRecord): string | undefined {
  return record.mode === 'unified' ? record.dirs[''] : undefined;
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
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(mainDir(record));
  return pids;
}

/**
 * Removes what tsrunc created: the container's own directories with any
 * cgroups the container made inside them, then the ancestors tsrunc created
 * on the way there, deepest first, each only if nothing else lives in it
 * now (another container may share a parent like /machine). A cgroup is
 * busy for a moment after its last process died, so EBUSY is retried
 * briefly for the container's own directories.
 */
export async function destroyCgroup(record: CgroupRecord): Promise<void> {
  const failures: string[] = [];
  const removeTree = async (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(dir);
        return;
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || attempt >= 200) {
          failures.push(`${dir}: ${code ?? (err as Error).message}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const own = new Set(Object.values(record.dirs));
  const deepestFirst = (a: string, b: string) => b.length - a.length;
  for (const dir of record.created.filter((d) => own.has(d)).sort(deepestFirst)) await removeTree(dir);
  for (const dir of record.created.filter((d) => !own.has(d)).sort(deepestFirst)) {
    try {
      rmdirSync(dir);
    } catch (err) {
      const code = errnoOf(err);
      // Still in use (another cgroup inside): it stays.
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EBUSY') failures.push(`${dir}: ${code ?? (err as Error).message}`);
    }
  }
  if (failures.length) throw new TsruncError(`remove cgroup: ${failures.join('; ')}`);
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
