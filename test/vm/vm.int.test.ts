import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, repo } from '../helpers/harness';
import { ensureVm, runInVm } from './vm';

/**
 * The VM harness itself (test/vm/vm.sh): what other tests rely on. The plain
 * guest passes the command's exit code, output, environment and working
 * directory through, runs on cgroup2 alone with every controller enabled,
 * and writes reach the host only through -w shares. The systemd guest boots
 * systemd as PID 1 to a running system, runs the command in its own service
 * unit, and has cgroup2 with controllers (what the systemd cgroup driver
 * needs).
 */
describe.skipIf(!isRoot())('test/vm harness (root)', () => {
  it('plain guest: exit code, output, env, cwd, pure cgroup v2, -w shares', async () => {
    await ensureVm();
    const share = mkdtempSync('/tmp/tsrunc-vm-share-');
    // Not shared: the guest sees the host's files, /tmp included (a checkout may live there), read-only.
    const hostDir = mkdtempSync('/tmp/tsrunc-vm-host-');
    writeFileSync(join(hostDir, 'f'), 'host file\n');
    try {
      const cmd = [
        `cat ${hostDir}/f`,
        `echo changed > ${hostDir}/f`,
        'echo "cwd=$PWD x=$X"',
        'echo "fs=$(stat -fc %T /sys/fs/cgroup) v1=$(grep -c " cgroup " /proc/mounts)"',
        'echo "subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control)"',
        'echo "kernel=$(uname -r) pid1=$(cat /proc/1/comm)"',
        `echo written > ${share}/from-guest`,
        'touch /etc/tsrunc-vm-scratch',
        'exit 7',
      ].join('; ');
      const r = await runInVm(cmd, { cwd: join(repo, 'test'), env: { X: 'a b' }, shares: [share], timeoutSec: 300 });
      expect(r.code, r.output).toBe(7);
      expect(r.output).toContain(`cwd=${join(repo, 'test')} x=a b`);
      expect(r.output).toContain('fs=cgroup2fs v1=0');
      for (const c of ['cpu', 'memory', 'pids', 'io']) expect(r.output).toMatch(new RegExp(`subtree=.*\\b${c}\\b`));
      expect(readFileSync(join(share, 'from-guest'), 'utf8')).toBe('written\n');
      expect(r.output).toContain('host file\n');
      expect(readFileSync(join(hostDir, 'f'), 'utf8')).toBe('host file\n');
    } finally {
      rmSync(share, { recursive: true, force: true });
      rmSync(hostDir, { recursive: true, force: true });
    }
    // The guest wrote /etc on its overlay, never on the host.
    expect(() => readFileSync('/etc/tsrunc-vm-scratch')).toThrow();
  }, 30 * 60_000);

  it('plain guest: a command that outlives -t is killed with exit 124', async () => {
    await ensureVm();
    const r = await runInVm('sleep 600', { timeoutSec: 40 });
    expect(r.code, r.output).toBe(124);
  }, 5 * 60_000);

  it('systemd guest: boots to running, the command in its own unit, cgroup2 with controllers', async () => {
    await ensureVm({ systemd: true });
    const share = mkdtempSync('/tmp/tsrunc-vm-share-');
    try {
      writeFileSync(join(share, 'in'), 'from the host\n');
      const cmd = [
        'echo "state=$(systemctl is-system-running --wait)"',
        'echo "pid1=$(cat /proc/1/comm)"',
        'echo "cgroup=$(cat /proc/self/cgroup)"',
        'echo "fs=$(stat -fc %T /sys/fs/cgroup)"',
        'echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"',
        'echo "dbus=$(systemctl is-active dbus.service)"',
        `cat ${share}/in`,
        'echo "node=$(node -e "process.stdout.write(process.version)")"',
        'echo "runc=$(runc --version | head -1)"',
        // The checkout shared with -w: the built tsrunc runs (with the host's node where it expects it).
        'echo "tsrunc=$(addon/build/tsrunc --version | head -1)"',
        'exit 5',
      ].join('; ');
      const r = await runInVm(cmd, { systemd: true, shares: [share, repo], cwd: repo, timeoutSec: 300 });
      expect(r.code, r.output).toBe(5);
      expect(r.output).toMatch(/^state=(running|degraded)$/m);
      expect(r.output).toMatch(/^pid1=systemd$/m);
      expect(r.output).toMatch(/^cgroup=0::\/system\.slice\/vm-run\.service$/m);
      expect(r.output).toMatch(/^fs=cgroup2fs$/m);
      for (const c of ['cpu', 'memory', 'pids', 'io']) expect(r.output).toMatch(new RegExp(`^controllers=.*\\b${c}\\b`, 'm'));
      expect(r.output).toMatch(/^dbus=active$/m);
      expect(r.output).toContain('from the host');
      expect(r.output).toContain(`node=${process.version}`);
      expect(r.output).toMatch(/^runc=runc version \d/m);
      expect(r.output).toMatch(/^tsrunc=tsrunc version \d/m);
    } finally {
      rmSync(share, { recursive: true, force: true });
    }
  }, 30 * 60_000);
});
