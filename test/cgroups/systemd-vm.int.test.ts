import { describe, expect, it } from 'vitest';
import { isRoot, repo } from '../helpers/harness';
import { ensureVm, runInVm } from '../vm/vm';

/**
 * The systemd cgroup driver (--systemd-cgroup) for real: this machine's PID 1
 * is not systemd, so it runs in a guest that boots systemd as PID 1 on pure
 * cgroup v2 (the project's VM harness, test/vm/, systemd mode). One boot runs
 * test/cgroups/vm/systemd-checks.sh twice, with runc as the reference and
 * with tsrunc (the compiled addon/build/tsrunc: the guest has no node): a
 * scope with limits in `systemctl show` and in the files, update, pause,
 * exec, kill --all, delete, a kubelet-style nested slice, the default path,
 * malformed paths refused with nothing left, Docker with
 * native.cgroupdriver=systemd and containerd (ctr --runc-systemd-cgroup).
 */
const CHECKS = [
  'guest: systemd', 'create and start with --systemd-cgroup', 'scope: systemctl show has the unit with its limits',
  'scope: the limits are in the scope\'s cgroup files', 'scope: the container\'s process is directly in the scope', 'update runs',
  'update: systemctl show and the files have the new limits', 'pause/resume freeze and thaw the scope',
  'exec joins the scope; ps lists both processes', 'kill --all empties the scope', 'delete runs', 'delete: the unit and its cgroup are gone',
  'nested slice: the scope is in kubepods.slice/kubepods-burstable.slice/', 'nested slice: delete --force removes the unit and its cgroup',
  'nested slice: gone', 'no cgroupsPath: unit', 'malformed path /not/slice:prefix:name refused, nothing left',
  'malformed slice notaslice:p:name refused, nothing left', 'docker: dockerd with native.cgroupdriver=systemd',
  'docker: a container in docker-<id>.scope with its limits, exec, update, rm',
  'containerd: ctr --runc-systemd-cgroup runs a container in its scope; task delete removes it', 'cleanup: no unit or state left',
];

describe.skipIf(!isRoot())('the systemd cgroup driver in a systemd guest (root)', () => {
  it('runc and tsrunc pass the same checks, directly and under Docker and containerd', async () => {
    await ensureVm({ systemd: true });
    const { code, output } = await runInVm(
      'RUNTIME=runc bash test/cgroups/vm/systemd-checks.sh; a=$?; RUNTIME=tsrunc bash test/cgroups/vm/systemd-checks.sh; b=$?; [ $a = 0 ] && [ $b = 0 ]',
      { systemd: true, shares: [repo], cwd: repo, timeoutSec: 1500, memMb: 2048 },
    );
    const lines = output.split('\n');
    const tail = output.slice(-6000);
    expect(lines.filter((l) => l.startsWith('not ok')), tail).toEqual([]);
    for (const runtime of ['runc', 'tsrunc']) {
      const passed = lines.filter((l) => l.startsWith(`ok ${runtime}: `)).map((l) => l.slice(`ok ${runtime}: `.length));
      expect(CHECKS.filter((c) => !passed.some((p) => p.startsWith(c))), `${runtime}\n${tail}`).toEqual([]);
      expect(lines.some((l) => new RegExp(`^summary ${runtime} \\d+ 0 `).test(l)), tail).toBe(true);
    }
    expect(code, tail).toBe(0);
  }, 30 * 60_000);
});
