import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, repo } from '../helpers/harness';

/**
 * Real cgroup v2: this machine is hybrid, so the v2 manager runs in a VM
 * (../shared/vm: Debian's kernel under QEMU, pure cgroup2 with every
 * controller, the host's root shared read-only). One boot runs
 * test/cgroups/vm/v2-checks.cjs: a handful of containers checked for
 * memory.max, memory.swap.max, pids.max, cpu.max, cpu.weight, io.max,
 * hugetlb, the eBPF device filter (deny, allow, replaced on update),
 * CLONE_INTO_CGROUP, update, freeze, ps, events (stats and OOM), nested
 * cgroups and cleanup. Without the VM set up, the test sets it up (apt
 * packages and a kernel); if that cannot be done it fails, loudly.
 */
const VM = '/tmp/vm';
const SHARED_VM = resolve(repo, '..', 'shared', 'vm');

function ensureVm(): void {
  if (['run-in-vm.sh', 'vmlinux-amd64', 'initramfs.cpio.gz'].every((f) => existsSync(join(VM, f)))) return;
  const setup = join(SHARED_VM, 'setup.sh');
  if (!existsSync(setup)) throw new Error(`the cgroup v2 VM is not set up (${VM}) and ${setup} is missing: cannot test cgroup v2`);
  // By absolute path: setup.sh copies itself to /tmp/vm only when started from elsewhere.
  const r = spawnSync(setup, [], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) throw new Error(`${setup} failed (${r.status ?? r.signal}):\n${(r.stdout ?? '').slice(-2000)}\n${(r.stderr ?? '').slice(-2000)}`);
}

function runInVm(command: string, timeoutSeconds: number): Promise<{ code: number | null; output: string }> {
  return new Promise((res, rej) => {
    const child = spawn(join(VM, 'run-in-vm.sh'), ['-t', String(timeoutSeconds), '-m', '2048', '-c', '2', '-C', repo, command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', rej);
    child.on('exit', (code) => res({ code, output }));
  });
}

// The checks every run must report (a run that stops early cannot pass by saying less).
const REQUIRED = [
  'host is pure cgroup v2', 'limits: memory.max', 'limits: memory.swap.max is memory+swap minus memory', 'limits: pids.max', 'limits: cpu.max',
  'limits: cpu.weight from shares 1024', 'limits: io.max', 'limits: one device filter attached', 'created process is in the cgroup (CLONE_INTO_CGROUP)',
  'update: memory.max', 'update: cpu.max keeps the period', 'events --stats', 'pause: cgroup.freeze, cgroup.events frozen 1, status paused',
  'pause: the container does not run', 'resume: it runs again', 'kill --all 9: nothing left in the cgroup', 'delete removes the cgroup',
  'devices: a disk outside the rules is denied (EPERM)', 'devices: mknod is allowed, the default devices work', 'devices: the new filter replaced the old one',
  'devices: after the update the disk can be read, defaults still work', 'oom: events reports {"type":"oom"}', 'oom + nested: delete --force removes everything',
  'pids: pids.current stays at pids.max', 'oom of the init: delete removes the cgroup', 'cleanup: no container cgroups left', 'cleanup: no state left',
];

describe.skipIf(!isRoot())('cgroup v2 in a VM (root)', () => {
  it('limits, devices, freeze, OOM, cleanup on a pure cgroup v2 kernel', async () => {
    ensureVm();
    const { code, output } = await runInVm('node test/cgroups/vm/v2-checks.cjs', 480);
    const lines = output.split('\n');
    const failures = lines.filter((l) => l.startsWith('not ok'));
    const passed = new Set(lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3).replace(/ # [\d.]+s$/, '')));
    expect(failures, output.slice(-4000)).toEqual([]);
    expect(REQUIRED.filter((name) => !passed.has(name)), output.slice(-4000)).toEqual([]);
    expect(lines.some((l) => /^summary \d+ 0$/.test(l)), output.slice(-4000)).toBe(true);
    expect(code, output.slice(-4000)).toBe(0);
  }, 20 * 60_000);
});
