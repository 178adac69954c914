import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, cgroupDirsOf, gone, isRoot, waitFor } from '../helpers/harness';

const h = new Harness('lifecycle');

describe.skipIf(!isRoot())('container lifecycle (root)', () => {
  it('create leaves the process waiting; start runs it; state follows; delete removes everything', async () => {
    const marker = '/tmp/started';
    const { id, bundle, pid } = await h.create(h.spec(['sh', '-c', `touch ${marker}; sleep 30`]));
    expect(pid).toBeGreaterThan(0);
    let state = await h.state(id);
    expect(state).toMatchObject({ ociVersion: '1.3.0', id, status: 'created', pid, bundle });
    // Not started yet: the program has not run.
    expect(existsSync(join(bundle, 'rootfs', marker))).toBe(false);
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    state = await h.state(id);
    expect(state.status).toBe('running');
    await waitFor(() => existsSync(join(bundle, 'rootfs', marker)));
    // A running container is not deleted without --force.
    const refused = await h.tsrunc(['delete', id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not stopped: running/);
    expect((await h.tsrunc(['kill', id, 'KILL'])).code).toBe(0);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    expect((await h.state(id)).pid).toBeUndefined();
    expect((await h.tsrunc(['delete', id])).code).toBe(0);
    expect(h.leftovers()).not.toContain(id);
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(gone(pid)).toBe(true);
  });

  it('start twice, start a stopped container, and state of a missing one are errors', async () => {
    const { id } = await h.create(h.spec(['true']));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const again = await h.tsrunc(['start', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/stopped/);
    const missing = await h.tsrunc(['state', 'no-such-container']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
  });

  it('delete of a created container kills its process; delete --force of a missing id succeeds', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    expect((await h.tsrunc(['delete', id])).code).toBe(0);
    expect(gone(pid)).toBe(true);
    expect((await h.tsrunc(['delete', '--force', 'never-existed'])).code).toBe(0);
    expect((await h.tsrunc(['delete', 'never-existed'])).code).toBe(1);
  });

  it('delete --force kills a running container', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    await h.tsrunc(['start', id]);
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    expect(h.leftovers()).not.toContain(id);
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(gone(pid)).toBe(true);
  });

  it('kill takes signal names with or without SIG, and numbers; rejects unknown signals', async () => {
    const { id } = await h.create(h.spec(['sh', '-c', 'trap "echo got-usr1 >> /tmp/sig" USR1; trap "echo got-hup >> /tmp/sig" HUP; while :; do sleep 0.1; done']));
    await h.tsrunc(['start', id]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.tsrunc(['kill', id, 'SIGUSR1'])).code).toBe(0);
    expect((await h.tsrunc(['kill', id, 'hup'])).code).toBe(0);
    const bad = await h.tsrunc(['kill', id, 'SIGNOPE']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid signal/);
    expect((await h.tsrunc(['kill', id, '9'])).code).toBe(0);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const stopped = await h.tsrunc(['kill', id, 'KILL']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/not running/);
  });

  it('kill without a signal sends SIGTERM', async () => {
    const { id, bundle } = await h.create(h.spec(['sh', '-c', 'trap "echo term > /tmp/t; exit 0" TERM; while :; do sleep 0.1; done']));
    await h.tsrunc(['start', id]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await h.tsrunc(['kill', id])).code).toBe(0);
    await waitFor(() => existsSync(join(bundle, 'rootfs', 'tmp', 't')));
  });

  it('run in the foreground returns the exit code, 128+signal when killed, and deletes the container', async () => {
    const ok = await h.run(h.spec(['sh', '-c', 'echo out; echo err >&2; exit 3']));
    expect(ok.code).toBe(3);
    expect(ok.stdout).toBe('out\n');
    expect(ok.stderr).toBe('err\n');
    expect(h.leftovers()).not.toContain(ok.id);
    // Killed from outside (inside its pid namespace, pid 1 cannot be sent SIGKILL).
    const bundle = h.bundle(h.spec(['sleep', '30']));
    const id = h.id();
    const running = h.tsrunc(['run', '-b', bundle, id]);
    await waitFor(async () => (await h.tsrunc(['state', id])).stdout.includes('"running"'));
    expect((await h.tsrunc(['kill', id, 'KILL'])).code).toBe(0);
    expect((await running).code).toBe(137);
    expect(h.leftovers()).not.toContain(id);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it('run --keep leaves the stopped container with its exit recorded', async () => {
    const r = await h.run(h.spec(['sh', '-c', 'exit 7']), { flags: ['--keep'] });
    expect(r.code).toBe(7);
    const state = await h.state(r.id);
    expect(state).toMatchObject({ status: 'stopped', exitCode: 7 });
  });

  it('run -d returns at once and the shim records how the container ended', async () => {
    const bundle = h.bundle(h.spec(['sh', '-c', 'sleep 3; exit 5']));
    const id = h.id();
    const r = await h.tsrunc(['run', '-d', '--shim', '-b', bundle, id]);
    expect(r.code).toBe(0);
    expect((await h.state(id)).status).toBe('running');
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    expect(await h.state(id)).toMatchObject({ exitCode: 5 });
    const list = JSON.parse((await h.tsrunc(['list', '--format', 'json'])).stdout);
    expect(list.find((c: { id: string }) => c.id === id)).toMatchObject({ status: 'stopped', exitCode: 5 });
  });

  it('writes the pid file atomically with the host pid of the container process', async () => {
    const bundle = h.bundle(h.spec(['sleep', '30']));
    const id = h.id();
    const pidFile = join(h.dir, `${id}.pid`);
    expect((await h.tsrunc(['create', '--no-shim', '--pid-file', pidFile, '-b', bundle, id])).code).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBe((await h.state(id)).pid);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);
  });

  it('the container ignores edits to config.json after create', async () => {
    const spec = h.spec(['sh', '-c', 'hostname']);
    const { id, bundle } = await h.create(spec);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ...spec, hostname: 'changed' }));
    const r = await h.tsrunc(['start', id]);
    expect(r.code).toBe(0);
  });

  it('two creates of one id: one wins, the other fails cleanly', async () => {
    const bundle = h.bundle(h.spec(['sleep', '30']));
    const id = h.id();
    const [a, b] = await Promise.all([
      h.tsrunc(['create', '--no-shim', '-b', bundle, id]),
      h.tsrunc(['create', '--no-shim', '-b', bundle, id]),
    ]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect((a.code ? a : b).stderr).toMatch(/already exists/);
    expect((await h.state(id)).status).toBe('created');
  });

  it('concurrent creates of different ids all succeed', async () => {
    const ids = Array.from({ length: 4 }, () => h.id());
    const bundle = h.bundle(h.spec(['sleep', '30']));
    const results = await Promise.all(ids.map((id) => h.tsrunc(['create', '--no-shim', '-b', bundle, id])));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const list = JSON.parse((await h.tsrunc(['list', '--format', 'json'])).stdout) as { id: string; status: string }[];
    for (const id of ids) expect(list.find((c) => c.id === id)?.status).toBe('created');
  });
});
