import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    rmSync(work, { recursive: true, force: true });
    if (leaks.length) throw new Error(`tests left things behind: ${leaks.join(', ')}`);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    work: string;
    isRoot: boolean;
  }
}
