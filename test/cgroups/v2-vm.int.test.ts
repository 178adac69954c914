import { describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/harness';
import { ensureVm, runInVm } from '../vm/vm';

/**
 * Real cgroup v2: this machine is hybrid, so the v2 manager runs in a VM
 * (test/vm: Debian's kernel under QEMU, pure cgroup2 with every controller,
 * the host's root shared read-only). One boot runs
 * test/cgroups/vm/v2-checks.cjs: a handful of containers checked for
 * memory.max, memory.swap.max, pids.max, cpu.max, cpu.weight, io.max,
 * hugetlb, the eBPF device filter (deny, allow, replaced on update),
 * CLONE_INTO_CGROUP, update, freeze, ps, events (stats and OOM), nested
 * cgroups and cleanup. The guest images are built first if missing
 * (test/vm/vm.sh setup); if that cannot be done the test fails, loudly.
 */
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
    await ensureVm();
    const { code, output } = await runInVm('node test/cgroups/vm/v2-checks.cjs', { timeoutSec: 480 });
    const lines = output.split('\n');
    const failures = lines.filter((l) => l.startsWith('not ok'));
    const passed = new Set(lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3).replace(/ # [\d.]+s$/, '')));
    expect(failures, output.slice(-4000)).toEqual([]);
    expect(REQUIRED.filter((name) => !passed.has(name)), output.slice(-4000)).toEqual([]);
    expect(lines.some((l) => /^summary \d+ 0$/.test(l)), output.slice(-4000)).toBe(true);
    expect(code, output.slice(-4000)).toBe(0);
  }, 20 * 60_000);
});
