/**
 * Docker 20.10: dockerd with its own data-root, exec-root and socket, on a
 * containerd of its own, RUNTIME registered as "tsrunc" in daemon.json
 * (`runtimes`), containers run with `--runtime tsrunc --network none`.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type CliEngine, cliEngineHelpers, registerCliEngineFlows } from './cli-engine-flows';
import { Containerd, Dockerd } from './engines';
import { DOCKER, IMAGE, RUNTIME_NAME, alive, commOf, mountsUnder, processesMentioning, runtimeIds, scratch, show, sleep, waitFor } from './lib';

const dir = scratch('docker');
const ctd = new Containerd(join(dir, 'containerd'));
const dockerd = new Dockerd(dir, ctd);
let n = 0;
const newName = () => `e2e-docker-${process.pid}-${++n}`;

beforeAll(async () => {
  await ctd.start();
  await dockerd.start();
  await dockerd.loadImage();
});

afterEach(async () => {
  await dockerd.clean();
});

afterAll(async () => {
  await dockerd.stop();
  await ctd.stop();
});

/** Docker for the flows shared with podman (cli-engine-flows.ts). */
const engine: CliEngine = {
  cliName: 'docker',
  runCli: (args, o) => dockerd.docker(args, o),
  commandLine: (args) => [DOCKER, '-H', `unix://${dockerd.sock}`, ...args],
  env: dockerd.env,
  runArgs: (flags, cmd) => ['run', ...dockerd.runFlags(), ...flags, IMAGE, ...cmd],
  newName,
  runtimeRoot: dockerd.runtimeRoot,
  monitor: { name: 'the shim', comm: /^containerd-shim/ },
  exitedStatuses: ['exited'],
  runtimeFailure: (command) => new RegExp(`OCI runtime ${command} failed`),
  expectNoTrace,
  logTail: () => dockerd.logTail(),
};
const { cli: docker, runDetached, waitExited } = cliEngineHelpers(engine);

/** Nothing of the container is left: not in docker ps -a, no task in containerd, no runtime state, no mounts. */
async function expectNoTrace(): Promise<void> {
  const ps = await docker(['ps', '-aq']);
  expect(ps.stdout.trim()).toBe('');
  await waitFor('containerd to drop the task', async () => (await ctd.tasks('moby')).size === 0, 5_000);
  expect(await runtimeIds(dockerd.runtimeRoot)).toEqual([]);
  expect(mountsUnder(join(dir, 'data')).filter((m) => !m.endsWith('/data/overlay2') && m !== join(dir, 'data'))).toEqual([]);
}

describe('Docker (--runtime tsrunc)', () => {
  registerCliEngineFlows(engine);

  // docker top lists the container's processes through the runtime's `ps` (the shim's Pids), exec'd ones included.
  test('top (runtime ps)', async () => {
    const name = newName();
    await runDetached(name, ['sleep', '1000']);
    const d = await docker(['exec', '-d', name, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    await sleep(200);
    const top = await docker(['top', name]);
    expect(top.code, show(top)).toBe(0);
    expect(top.stdout).toContain('sleep 1000');
    expect(top.stdout).toContain('sleep 999');
  });

  test('kill --all: the processes left when pid 1 of a --pid host container exits are killed', async () => {
    // Without a pid namespace, the shim runs `kill --all <id> 9` when the first process exits (checked in the runtime's call log).
    const name = newName();
    const r = await docker(['run', '-d', '--name', name, '--runtime', `${RUNTIME_NAME}-logged`, '--network', 'none', '--pid', 'host', IMAGE, 'sh', '-c', 'sleep 4711 & sleep 1; exit 0']);
    expect(r.code, show(r)).toBe(0);
    const id = r.stdout.trim();
    let orphan = 0;
    await waitFor('the background sleep', () => {
      orphan = processesMentioning('sleep 4711').find((p) => commOf(p.pid) === 'sleep')?.pid ?? 0;
      return orphan > 0;
    });
    expect(await waitExited(name)).toBe(0);
    await waitFor(`the background sleep ${orphan} to be killed`, () => !alive(orphan), 10_000);
    expect(dockerd.logged.calls().some((c) => c.endsWith(`kill --all ${id} 9`))).toBe(true);
  });
});
