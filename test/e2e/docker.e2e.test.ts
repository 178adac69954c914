/**
 * Docker 20.10: dockerd with its own data-root, exec-root and socket, on a
 * containerd of its own, RUNTIME registered as "tsrunc" in daemon.json
 * (`runtimes`), containers run with `--runtime tsrunc --network none`.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Containerd, Dockerd } from './engines';
import { DOCKER, IMAGE, RUNTIME_NAME, alive, catches, cgroupDir, commOf, cpuShares, frozen, memoryLimit, mountsUnder, onTerminal, ppidOf, processesMentioning, runtimeIds, scratch, show, sleep, start, waitFor } from './lib';

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

const docker = (args: string[], timeoutMs?: number) => dockerd.docker(args, { timeoutMs });
const dockerRun = (flags: string[], cmd: string[], input?: string) => dockerd.docker(['run', ...dockerd.runFlags(), ...flags, IMAGE, ...cmd], { input });

async function inspect(name: string, format: string): Promise<string> {
  const r = await docker(['inspect', '-f', format, name]);
  expect(r.code, show(r)).toBe(0);
  return r.stdout.trim();
}

async function runDetached(name: string, cmd: string[] = ['sleep', '1000'], flags: string[] = []): Promise<number> {
  const r = await dockerRun(['-d', '--name', name, ...flags], cmd);
  expect(r.code, `${show(r)}\n${dockerd.logTail()}`).toBe(0);
  expect(await inspect(name, '{{.State.Status}}')).toBe('running');
  return Number(await inspect(name, '{{.State.Pid}}'));
}

async function waitExited(name: string): Promise<number> {
  await waitFor(`${name} to exit`, async () => (await inspect(name, '{{.State.Status}}')) === 'exited', 20_000);
  return Number(await inspect(name, '{{.State.ExitCode}}'));
}

/** Nothing of the container is left: not in docker ps -a, no task in containerd, no runtime state, no mounts. */
async function expectNoTrace(): Promise<void> {
  const ps = await docker(['ps', '-aq']);
  expect(ps.stdout.trim()).toBe('');
  await waitFor('containerd to drop the task', async () => (await ctd.tasks('moby')).size === 0, 5_000);
  expect(await runtimeIds(dockerd.runtimeRoot)).toEqual([]);
  expect(mountsUnder(join(dir, 'data')).filter((m) => !m.endsWith('/data/overlay2') && m !== join(dir, 'data'))).toEqual([]);
}

describe('Docker (--runtime tsrunc)', () => {
  test('run --rm: stdout, exit codes 0 and 3, nothing left', async () => {
    const r = await dockerRun(['--rm'], ['sh', '-c', 'echo hello from $(cat /proc/1/comm)']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('hello from sh\n');
    const r3 = await dockerRun(['--rm'], ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r3.code, show(r3)).toBe(3);
    expect(r3.stdout).toBe('out\n');
    expect(r3.stderr).toBe('err\n');
    await expectNoTrace();
  });

  test('killed → 137: docker kill of a detached and of a foreground container', async () => {
    const a = newName();
    await runDetached(a);
    const k = await docker(['kill', a]);
    expect(k.code, show(k)).toBe(0);
    expect(await waitExited(a)).toBe(137);
    const b = newName();
    const fg = start(DOCKER, ['run', '--rm', '--name', b, ...dockerd.runFlags(), IMAGE, 'sleep', '1000'], { env: dockerd.env });
    await waitFor(`${b} to run`, async () => (await docker(['inspect', '-f', '{{.State.Status}}', b])).stdout.trim() === 'running');
    await docker(['kill', b]);
    const f = await fg.result;
    expect(f.code, show(f)).toBe(137);
  });

  test('stdin: docker run -i', async () => {
    const r = await dockerRun(['--rm', '-i'], ['sh', '-c', 'read x; echo got $x; cat; echo EOF'], 'hello\nline 2\nline 3\n');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('got hello\nline 2\nline 3\nEOF\n');
  });

  test('tty: docker run -t on a terminal', async () => {
    const r = await onTerminal([DOCKER, '-H', `unix://${dockerd.sock}`, 'run', '--rm', '-t', ...dockerd.runFlags(), IMAGE, 'sh', '-c', 'tty; stty size; exit 3'], { env: dockerd.env, timeoutMs: 30_000 });
    expect(r.stdout, show(r)).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(r.code, show(r)).toBe(3);
  });

  test('detached: docker ps, the container is a child of the shim', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const ps = await docker(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(new RegExp(`^${name} Up`, 'm'));
    // The runtime keeps the container's state where the engine asked (so the no-trace checks look in the right place).
    const id = await inspect(name, '{{.Id}}');
    expect(await runtimeIds(dockerd.runtimeRoot)).toContain(id);
    expect(commOf(pid)).toBe('sleep');
    expect(commOf(ppidOf(pid))).toMatch(/^containerd-shim/);
  });

  test('exec: exit code, stdout, -i, -t, detached', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const r = await docker(['exec', name, 'sh', '-c', 'echo in $(cat /proc/1/comm); exit 4']);
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toBe('in sleep\n');
    const i = await dockerd.docker(['exec', '-i', name, 'cat'], { input: 'piped\n' });
    expect(i.code, show(i)).toBe(0);
    expect(i.stdout).toBe('piped\n');
    const t = await onTerminal([DOCKER, '-H', `unix://${dockerd.sock}`, 'exec', '-t', name, 'sh', '-c', 'tty; exit 5'], { env: dockerd.env, timeoutMs: 30_000 });
    expect(t.stdout, show(t)).toMatch(/\/dev\/pts\/\d+/);
    expect(t.code, show(t)).toBe(5);
    const d = await docker(['exec', '-d', name, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    await waitFor('the detached exec', () => processesMentioning('sleep 999').some((p) => alive(p.pid) && cgroupDir(p.pid, 'pids').dir === cgroupDir(pid, 'pids').dir));
  });

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

  test('pause and unpause', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const p = await docker(['pause', name]);
    expect(p.code, show(p)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('paused');
    expect(frozen(pid)).toBe(true);
    const u = await docker(['unpause', name]);
    expect(u.code, show(u)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('running');
    expect(frozen(pid)).toBe(false);
  });

  test('update: memory and cpu shares', async () => {
    const name = newName();
    const pid = await runDetached(name, ['sleep', '1000'], ['--memory', '128m', '--memory-swap', '256m', '--cpu-shares', '1024']);
    expect(memoryLimit(pid)).toBe(String(128 << 20));
    const u = await docker(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', name]);
    expect(u.code, show(u)).toBe(0);
    expect(memoryLimit(pid)).toBe(String(64 << 20));
    expect(cpuShares(pid)).toBe(cgroupDir(pid, 'cpu').v2 ? '20' : '512');
  });

  test('stop: SIGTERM, then SIGKILL after the timeout', async () => {
    const a = newName();
    await runDetached(a, ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    const s = await docker(['stop', '-t', '20', a], 30_000);
    expect(s.code, show(s)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(Number(await inspect(a, '{{.State.ExitCode}}'))).toBe(0);
    // sleep as pid 1 has no SIGTERM handler, so the kernel drops SIGTERM: SIGKILL after -t.
    const b = newName();
    await runDetached(b, ['sleep', '1000']);
    const t1 = Date.now();
    const s2 = await docker(['stop', '-t', '1', b], 30_000);
    expect(s2.code, show(s2)).toBe(0);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
    expect(Number(await inspect(b, '{{.State.ExitCode}}'))).toBe(137);
  });

  test('kill with a signal', async () => {
    const name = newName();
    const pid = await runDetached(name, ['sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.1; done']);
    await waitFor('the trap', () => catches(pid, 10));
    const k = await docker(['kill', '-s', 'USR1', name]);
    expect(k.code, show(k)).toBe(0);
    expect(await waitExited(name)).toBe(7);
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

  test('restart: docker start of a stopped container, docker restart', async () => {
    const name = newName();
    const r = await dockerRun(['--name', name], ['sh', '-c', 'echo run; exit 2']);
    expect(r.code, show(r)).toBe(2);
    const s = await docker(['start', '-a', name]);
    expect(s.code, show(s)).toBe(2);
    expect(s.stdout).toBe('run\n');
    const logs = await docker(['logs', name]);
    expect(logs.stdout).toBe('run\nrun\n');
    const b = newName();
    const pid = await runDetached(b, ['sleep', '1000']);
    const rs = await docker(['restart', '-t', '1', b], 30_000);
    expect(rs.code, show(rs)).toBe(0);
    expect(await inspect(b, '{{.State.Status}}')).toBe('running');
    const pid2 = Number(await inspect(b, '{{.State.Pid}}'));
    expect(pid2).not.toBe(pid);
    expect(alive(pid)).toBe(false);
  });

  test("a bad mount: docker shows the runtime's message, nothing is left", async () => {
    // A file onto a directory of the image: only the runtime finds out.
    const r = await dockerRun(['--rm', '--mount', 'type=bind,src=/etc/hostname,dst=/bin'], ['true']);
    // docker's own exit codes for a container that could not start: 125 (126, 127 when the message says so).
    expect([125, 126, 127], show(r)).toContain(r.code);
    expect(r.stderr).toMatch(/OCI runtime create failed/);
    expect(r.stderr).toContain('/etc/hostname');
    await expectNoTrace();
  });

  test("a missing binary: docker shows the runtime's message (exit 127), nothing is left", async () => {
    const r = await dockerRun(['--rm'], ['/no/such/binary']);
    expect(r.code, show(r)).toBe(127);
    expect(r.stderr).toMatch(/OCI runtime (create|start) failed/);
    expect(r.stderr).toContain('/no/such/binary');
    await expectNoTrace();
  });
});
