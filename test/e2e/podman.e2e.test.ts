/**
 * podman 4.3 with conmon: private storage (--root/--runroot), a
 * containers.conf of its own (default_ulimits, cgroupfs, no network), and
 * `podman --runtime RUNTIME`. podman calls the runtime without --root, so
 * the runtime keeps podman's containers in its default root.
 */
import { readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type CliEngine, cliEngineHelpers, registerCliEngineFlows } from './cli-engine-flows';
import { Podman } from './engines';
import { hostNetworkUndo } from './cni';
import { RUNTIME, alive, commOf, mountsUnder, processesMentioning, runtimeIds, scratch, show, waitFor } from './lib';

const pm = new Podman(scratch('podman'));
/** The runtime's default --root (runc: /run/runc; tsrunc: /run/tsrunc). */
const defaultRoot = `/run/${basename(RUNTIME)}`;
let n = 0;
const newName = () => `e2e-podman-${process.pid}-${++n}`;

beforeAll(async () => {
  await pm.setup();
  await pm.loadImage();
});

afterEach(async () => {
  await pm.clean();
});

afterAll(async () => {
  await pm.stop();
});

/** podman for the flows shared with Docker (cli-engine-flows.ts). */
const engine: CliEngine = {
  cliName: 'podman',
  runCli: (args, o) => pm.podman(args, o),
  commandLine: (args) => ['/usr/bin/podman', ...pm.args(args)],
  env: pm.env,
  // pm.image is known once loadImage has run.
  runArgs: (flags, cmd) => ['run', '--pull=never', ...flags, pm.image, ...cmd],
  newName,
  runtimeRoot: defaultRoot,
  monitor: { name: 'conmon', comm: /^conmon$/ },
  exitedStatuses: ['exited', 'stopped'],
  expectNoTrace,
};
const { cli: podman, runDetached } = cliEngineHelpers(engine);

/** Nothing of podman's containers is left: podman ps -a, the runtime's state, mounts, conmon. */
async function expectNoTrace(): Promise<void> {
  expect((await podman(['ps', '-aq'])).stdout.trim()).toBe('');
  const ours = (await runtimeIds(defaultRoot)).filter((id) => /^[0-9a-f]{64}$/.test(id));
  expect(ours).toEqual([]);
  expect(mountsUnder(join(pm.dir, 'storage')).filter((m) => /\/merged$|\/userdata\/shm$/.test(m))).toEqual([]);
  await waitFor('conmon to exit', () => processesMentioning(pm.dir).filter((p) => commOf(p.pid) === 'conmon').length === 0, 5_000);
}

describe('podman (--runtime)', () => {
  registerCliEngineFlows(engine);

  // podman top reads the container's processes itself; it does not call the runtime's `ps`.
  test('top', async () => {
    const name = newName();
    await runDetached(name, ['sleep', '1000']);
    const top = await podman(['top', name]);
    expect(top.code, show(top)).toBe(0);
    expect(top.stdout).toContain('sleep 1000');
  });

  test('kill --all: podman stop of a --pid host container signals every process', async () => {
    // Without a pid namespace, podman stops a container with `kill --all` (checked in the runtime's call log).
    const name = newName();
    const runtime = pm.logged.path;
    const r = await pm.podman(['run', '--pull=never', '-d', '--name', name, '--pid', 'host', pm.image, 'sh', '-c', 'sleep 4712 & exec sleep 1000'], { runtime });
    expect(r.code, show(r)).toBe(0);
    const id = r.stdout.trim();
    const pid = Number((await pm.podman(['inspect', '-f', '{{.State.Pid}}', name], { runtime })).stdout.trim());
    let other = 0;
    await waitFor('the background sleep', () => {
      other = processesMentioning('sleep 4712').find((p) => commOf(p.pid) === 'sleep')?.pid ?? 0;
      return other > 0;
    });
    const s = await pm.podman(['stop', '-t', '5', name], { runtime, timeoutMs: 30_000 });
    expect(s.code, show(s)).toBe(0);
    await waitFor('both processes to end', () => !alive(pid) && !alive(other), 10_000);
    expect(pm.logged.calls()).toContain(`kill --all ${id} 15`);
  });

  // podman's default network: a CNI bridge (podman 4.3 on Debian 12 uses CNI when netavark is absent).
  test('the default network: eth0 on the bridge with an address, lo up', async () => {
    const undo = hostNetworkUndo('cni-podman0');
    let r: Awaited<ReturnType<typeof podman>>;
    try {
      r = await podman(['run', '--rm', '--pull=never', '--network', 'podman', pm.image, 'sh', '-c',
        'ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"; cat /sys/class/net/lo/operstate; readlink /proc/self/ns/net']);
    } finally {
      await undo();
    }
    expect(r.code, show(r)).toBe(0);
    const [inet, lo, ns] = r.stdout.trim().split('\n');
    expect(inet).toMatch(/^inet 10\.88\./);
    expect(lo).toBe('unknown'); // up (a loopback's operstate is "unknown" when up, "down" otherwise)
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/net'));
  });

  test('a healthcheck on 127.0.0.1 (network none): podman healthcheck run execs it in the container', async () => {
    const name = newName();
    await runDetached(name, ['sh', '-c', 'echo ok > /tmp/index.html; exec httpd -f -p 127.0.0.1:8080 -h /tmp'],
      ['--health-cmd', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1', '--health-interval', '0']);
    let h = await podman(['healthcheck', 'run', name]);
    for (let i = 0; i < 20 && h.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250)); // httpd may not listen yet
      h = await podman(['healthcheck', 'run', name]);
    }
    expect(h.code, show(h)).toBe(0);
    expect(await inspectHealth(name)).toBe('healthy');
  });
});

async function inspectHealth(name: string): Promise<string> {
  return (await podman(['inspect', '-f', '{{.State.Health.Status}}', name])).stdout.trim();
}
