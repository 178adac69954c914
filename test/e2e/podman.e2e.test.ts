/**
 * podman 4.3 with conmon: private storage (--root/--runroot), a
 * containers.conf of its own (default_ulimits, cgroupfs, no network), and
 * `podman --runtime RUNTIME`. podman calls the runtime without --root, so
 * the runtime keeps podman's containers in its default root.
 */
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Podman } from './engines';
import { RUNTIME, alive, catches, cgroupDir, commOf, cpuShares, frozen, memoryLimit, mountsUnder, onTerminal, ppidOf, processesMentioning, runtimeIds, scratch, show, start, waitFor } from './lib';

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

const podman = (args: string[], timeoutMs?: number) => pm.podman(args, { timeoutMs });
const podmanRun = (flags: string[], cmd: string[], input?: string) => pm.podman(['run', '--pull=never', ...flags, pm.image, ...cmd], { input });

async function inspect(name: string, format: string): Promise<string> {
  const r = await podman(['inspect', '-f', format, name]);
  expect(r.code, show(r)).toBe(0);
  return r.stdout.trim();
}

async function runDetached(name: string, cmd: string[] = ['sleep', '1000'], flags: string[] = []): Promise<number> {
  const r = await podmanRun(['-d', '--name', name, ...flags], cmd);
  expect(r.code, show(r)).toBe(0);
  expect(await inspect(name, '{{.State.Status}}')).toBe('running');
  return Number(await inspect(name, '{{.State.Pid}}'));
}

async function waitExited(name: string): Promise<number> {
  await waitFor(`${name} to exit`, async () => ['exited', 'stopped'].includes(await inspect(name, '{{.State.Status}}')), 20_000);
  return Number(await inspect(name, '{{.State.ExitCode}}'));
}

/** Nothing of podman's containers is left: podman ps -a, the runtime's state, mounts, conmon. */
async function expectNoTrace(): Promise<void> {
  expect((await podman(['ps', '-aq'])).stdout.trim()).toBe('');
  const ours = (await runtimeIds(defaultRoot)).filter((id) => /^[0-9a-f]{64}$/.test(id));
  expect(ours).toEqual([]);
  expect(mountsUnder(join(pm.dir, 'storage')).filter((m) => /\/merged$|\/userdata\/shm$/.test(m))).toEqual([]);
  await waitFor('conmon to exit', () => processesMentioning(pm.dir).filter((p) => commOf(p.pid) === 'conmon').length === 0, 5_000);
}

describe('podman (--runtime)', () => {
  test('run --rm: stdout, exit codes 0 and 3, nothing left', async () => {
    const r = await podmanRun(['--rm'], ['sh', '-c', 'echo hello from $(cat /proc/1/comm)']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('hello from sh\n');
    const r3 = await podmanRun(['--rm'], ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r3.code, show(r3)).toBe(3);
    expect(r3.stdout).toBe('out\n');
    expect(r3.stderr).toBe('err\n');
    await expectNoTrace();
  });

  test('killed → 137: podman kill of a detached and of a foreground container', async () => {
    const a = newName();
    await runDetached(a);
    const k = await podman(['kill', a]);
    expect(k.code, show(k)).toBe(0);
    expect(await waitExited(a)).toBe(137);
    const b = newName();
    const fg = start('/usr/bin/podman', pm.args(['run', '--rm', '--name', b, pm.image, 'sleep', '1000']), { env: pm.env });
    await waitFor(`${b} to run`, async () => (await podman(['inspect', '-f', '{{.State.Status}}', b])).stdout.trim() === 'running');
    await podman(['kill', b]);
    const f = await fg.result;
    expect(f.code, show(f)).toBe(137);
  });

  test('stdin: podman run -i', async () => {
    const r = await podmanRun(['--rm', '-i'], ['sh', '-c', 'read x; echo got $x; cat; echo EOF'], 'hello\nline 2\nline 3\n');
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe('got hello\nline 2\nline 3\nEOF\n');
  });

  test('tty: podman run -t on a terminal', async () => {
    const r = await onTerminal(['/usr/bin/podman', ...pm.args(['run', '--rm', '-t', pm.image, 'sh', '-c', 'tty; stty size; exit 3'])], { env: pm.env, timeoutMs: 30_000 });
    expect(r.stdout, show(r)).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(r.code, show(r)).toBe(3);
  });

  test('detached: podman ps, the container is a child of conmon', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const ps = await podman(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(new RegExp(`^${name} Up`, 'm'));
    // The runtime keeps the container's state where the engine asked (so the no-trace checks look in the right place).
    const id = await inspect(name, '{{.Id}}');
    expect(await runtimeIds(defaultRoot)).toContain(id);
    expect(commOf(pid)).toBe('sleep');
    expect(commOf(ppidOf(pid))).toBe('conmon');
  });

  test('exec: exit code, stdout, -i, -t, detached', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const r = await podman(['exec', name, 'sh', '-c', 'echo in $(cat /proc/1/comm); exit 4']);
    expect(r.code, show(r)).toBe(4);
    expect(r.stdout).toBe('in sleep\n');
    const i = await pm.podman(['exec', '-i', name, 'cat'], { input: 'piped\n' });
    expect(i.code, show(i)).toBe(0);
    expect(i.stdout).toBe('piped\n');
    const t = await onTerminal(['/usr/bin/podman', ...pm.args(['exec', '-t', name, 'sh', '-c', 'tty; exit 5'])], { env: pm.env, timeoutMs: 30_000 });
    expect(t.stdout, show(t)).toMatch(/\/dev\/pts\/\d+/);
    expect(t.code, show(t)).toBe(5);
    const d = await podman(['exec', '-d', name, 'sleep', '999']);
    expect(d.code, show(d)).toBe(0);
    await waitFor('the detached exec', () => processesMentioning('sleep 999').some((p) => alive(p.pid) && cgroupDir(p.pid, 'pids').dir === cgroupDir(pid, 'pids').dir));
  });

  test('top', async () => {
    const name = newName();
    await runDetached(name, ['sleep', '1000']);
    const top = await podman(['top', name]);
    expect(top.code, show(top)).toBe(0);
    expect(top.stdout).toContain('sleep 1000');
  });

  test('pause and unpause', async () => {
    const name = newName();
    const pid = await runDetached(name);
    const p = await podman(['pause', name]);
    expect(p.code, show(p)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('paused');
    expect(frozen(pid)).toBe(true);
    const u = await podman(['unpause', name]);
    expect(u.code, show(u)).toBe(0);
    expect(await inspect(name, '{{.State.Status}}')).toBe('running');
    expect(frozen(pid)).toBe(false);
  });

  test('update: memory and cpu shares', async () => {
    const name = newName();
    const pid = await runDetached(name, ['sleep', '1000'], ['--memory', '128m', '--memory-swap', '256m', '--cpu-shares', '1024']);
    expect(memoryLimit(pid)).toBe(String(128 << 20));
    const u = await podman(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', name]);
    expect(u.code, show(u)).toBe(0);
    expect(memoryLimit(pid)).toBe(String(64 << 20));
    expect(cpuShares(pid)).toBe(cgroupDir(pid, 'cpu').v2 ? '20' : '512');
  });

  test('stop: SIGTERM, then SIGKILL after the timeout', async () => {
    const a = newName();
    await runDetached(a, ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
    const t0 = Date.now();
    const s = await podman(['stop', '-t', '20', a], 30_000);
    expect(s.code, show(s)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(Number(await inspect(a, '{{.State.ExitCode}}'))).toBe(0);
    const b = newName();
    await runDetached(b, ['sleep', '1000']);
    const t1 = Date.now();
    const s2 = await podman(['stop', '-t', '1', b], 30_000);
    expect(s2.code, show(s2)).toBe(0);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
    expect(Number(await inspect(b, '{{.State.ExitCode}}'))).toBe(137);
  });

  test('kill with a signal', async () => {
    const name = newName();
    const pid = await runDetached(name, ['sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.1; done']);
    await waitFor('the trap', () => catches(pid, 10));
    const k = await podman(['kill', '-s', 'USR1', name]);
    expect(k.code, show(k)).toBe(0);
    expect(await waitExited(name)).toBe(7);
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

  test('restart: podman start of a stopped container, podman restart', async () => {
    const name = newName();
    const r = await podmanRun(['--name', name], ['sh', '-c', 'echo run; exit 2']);
    expect(r.code, show(r)).toBe(2);
    const s = await podman(['start', '-a', name]);
    expect(s.code, show(s)).toBe(2);
    expect(s.stdout).toBe('run\n');
    const logs = await podman(['logs', name]);
    expect(logs.stdout).toBe('run\nrun\n');
    const b = newName();
    const pid = await runDetached(b, ['sleep', '1000']);
    const rs = await podman(['restart', '-t', '1', b], 30_000);
    expect(rs.code, show(rs)).toBe(0);
    expect(await inspect(b, '{{.State.Status}}')).toBe('running');
    expect(Number(await inspect(b, '{{.State.Pid}}'))).not.toBe(pid);
    expect(alive(pid)).toBe(false);
  });

  test("a bad mount: podman shows the runtime's message, nothing is left", async () => {
    const r = await podmanRun(['--rm', '--mount', 'type=bind,src=/etc/hostname,dst=/bin'], ['true']);
    expect(r.code, show(r)).not.toBe(0);
    expect([125, 126, 127]).toContain(r.code);
    expect(r.stderr).toContain('/etc/hostname');
    await expectNoTrace();
  });

  test("a missing binary: podman shows the runtime's message (exit 127), nothing is left", async () => {
    const r = await podmanRun(['--rm'], ['/no/such/binary']);
    expect(r.code, show(r)).toBe(127);
    expect(r.stderr).toContain('/no/such/binary');
    await expectNoTrace();
  });
});
