import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestProject } from 'vitest/node';

const repo = join(__dirname, '..', '..');

/**
 * Once per test run: checks that tsrunc is built, makes one busybox rootfs
 * for every test to copy from, and a state root for the whole run. After the
 * run, fails loudly if anything was left behind: containers, processes,
 * mounts or cgroups.
 */
export default function setup(project: TestProject) {
  for (const f of ['dist/cli/main.js', 'dist/spec/validators.js', 'addon/build/tsrunc', 'addon/build/tsrunc-init', 'addon/build/tsrunc-shim']) {
    if (!existsSync(join(repo, f))) throw new Error(`${f} is missing: run \`npm run build\` (or \`npm ci\`) first`);
  }
  const work = mkdtempSync(join(tmpdir(), 'tsrunc-test-'));
  // Traversable, as bundle and state paths are under an engine: a container root in a user namespace must reach its rootfs.
  chmodSync(work, 0o711);
  const isRoot = process.getuid?.() === 0;
  if (isRoot) execFileSync(join(repo, 'bundles', 'make-rootfs.sh'), [join(work, 'rootfs')], { stdio: 'ignore' });
  project.provide('work', work);
  project.provide('isRoot', isRoot);
  return () => {
    const leaks: string[] = [];
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(work));
    if (mounts.length) leaks.push(`${mounts.length} mounts under ${work}`);
    const procs = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(work));
    if (procs.length) leaks.push(`processes: ${procs.join('; ')}`);
    // Container ids carry the run's token (harness.ts runToken): cgroups and state named after them.
    const token = basename(work).replace(/^tsrunc-test-/, '');
    if (isRoot) {
      const cgroups = findDirs(['/sys/fs/cgroup'], 8, `tsrt-*-${token}-*`);
      if (cgroups.length) leaks.push(`cgroups: ${cgroups.join(' ')}`);
    }
    const states = findDirs([work, '/run/tsrunc'], 4, `tsrt-*-${token}-*`);
    if (states.length) leaks.push(`container state: ${states.join(' ')}`);
    rmSync(work, { recursive: true, force: true });
    if (leaks.length) throw new Error(`tests left things behind: ${leaks.join(', ')}`);
  };
}

/** Directories named like pattern; find's complaints (a root that does not exist, a cgroup removed meanwhile) do not matter. */
function findDirs(roots: string[], depth: number, pattern: string): string[] {
  const existing = roots.filter((d) => existsSync(d));
  if (!existing.length) return [];
  const r = spawnSync('find', [...existing, '-maxdepth', String(depth), '-type', 'd', '-name', pattern], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean);
}

declare module 'vitest' {
  export interface ProvidedContext {
    work: string;
    isRoot: boolean;
  }
}
