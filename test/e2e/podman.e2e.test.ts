/**
 * podman 4.3 with conmon: private storage (--root/--runroot), a
 * containers.conf of its own (default_ulimits, cgroupfs, no network), and
 * `podman --runtime RUNTIME`. podman calls the runtime without --root, so
 * the runtime keeps podman's containers in its default root.
 */
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type CliEngine, cliEngineHelpers, registerCliEngineFlows } from './cli-engine-flows';
import { Podman } from './engines';
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
});
