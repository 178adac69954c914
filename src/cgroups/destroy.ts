import { rmdirSync } from 'node:fs';
import { TsruncError, errnoOf } from '../sys/errors';
import { childCgroups } from './fs';
import type { CgroupRecord } from './types';

/**
 * Removes what tsrunc created: the container's own directories with any
 * cgroups the container made inside them, then the ancestors tsrunc created
 * on the way there, deepest first, each only if nothing else lives in it
 * now (another container may share a parent like /machine). A cgroup is
 * busy for a moment after its last process died, so EBUSY is retried
 * briefly for the container's own directories.
 */
export async function destroyCgroup(record: CgroupRecord, warn?: (msg: string) => void): Promise<void> {
  // systemd driver: the unit goes first (systemd kills what is left and removes the scope's cgroup).
  if (record.systemd?.started) await (await import('./systemd-unit')).stopScope(record, warn);
  const failures: string[] = [];
  const removeTree = async (dir: string) => {
    for (const child of childCgroups(dir)) await removeTree(child);
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
