import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, TSRUNC, gone, isRoot, waitFor, exec } from '../helpers/harness';

const h = new Harness('shim');

function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

async function runningPid(id: string): Promise<number> {
  await waitFor(async () => (await h.state(id)).status === 'running');
  return (await h.state(id)).pid as number;
}

describe.skipIf(!isRoot())('tsrunc-shim (root)', () => {
  it('supervises a container created from a shell or a script: it is the container\'s parent, and records how it ended', async () => {
    const { id, pid } = await h.create(h.spec(['sh', '-c', 'sleep 0.3; exit 42']), []);
    expect(comm(ppidOf(pid))).toBe('tsrunc-shim');
    await h.tsrunc(['start', id]);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const state = await h.state(id);
    expect(state).toMatchObject({ status: 'stopped', exitCode: 42 });
    expect(new Date(state.exitedAt as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const table = (await h.tsrunc(['list'])).stdout;
    expect(table).toMatch(new RegExp(`${id}\\s+0\\s+stopped \\(42\\)`));
  });

  it('records a signal: killed by SIGKILL is exit code 137, signal 9', async () => {
    const bundle = h.bundle(h.spec(['sleep', '300']));
    const id = h.id();
    expect((await h.tsrunc(['run', '-d', '--shim', '-b', bundle, id])).code).toBe(0);
    await runningPid(id);
    await h.tsrunc(['kill', id, 'KILL']);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    expect(await h.state(id)).toMatchObject({ exitCode: 137, exitSignal: 9 });
  });

  it('is not used under an engine that reaps containers itself (conmon, containerd\'s shim), nor with --no-shim or TSRUNC_SHIM=0', async () => {
    // A parent whose executable is named conmon: tsrunc must leave the container to it.
    const conmon = join(h.dir, 'conmon');
    copyFileSync('/bin/sh', conmon);
    const bundle = h.bundle(h.spec(['sleep', '300']));
    const viaEngine = h.id();
    const r = await exec(conmon, ['-c', `${TSRUNC} --root ${h.root} --debug create -b ${bundle} ${viaEngine}; true`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/supervision: the caller \(started by conmon, which reaps the container\)/);
    const pid = (await h.state(viaEngine)).pid as number;
    expect(comm(ppidOf(pid))).not.toBe('tsrunc-shim');
    for (const [flags, env] of [[['--no-shim'], {}], [[], { TSRUNC_SHIM: '0' }]] as const) {
      const id = h.id();
      expect((await h.tsrunc(['create', ...flags, '-b', bundle, id], { env: { ...process.env, ...env } })).code).toBe(0);
      expect(comm(ppidOf((await h.state(id)).pid as number))).not.toBe('tsrunc-shim');
    }
    const forced = h.id();
    expect((await exec(conmon, ['-c', `${TSRUNC} --root ${h.root} create --shim -b ${bundle} ${forced}; true`])).code).toBe(0);
    expect(comm(ppidOf((await h.state(forced)).pid as number))).toBe('tsrunc-shim');
  });

  it('if the shim is killed, the container keeps running and delete --force still cleans up', async () => {
    const bundle = h.bundle(h.spec(['sleep', '300']));
    const id = h.id();
    await h.tsrunc(['run', '-d', '--shim', '-b', bundle, id]);
    const pid = await runningPid(id);
    const shim = ppidOf(pid);
    expect(comm(shim)).toBe('tsrunc-shim');
    process.kill(shim, 'SIGKILL');
    await waitFor(() => gone(shim));
    expect((await h.state(id)).status).toBe('running');
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    await waitFor(() => gone(pid));
  });

  it('a foreground run forwards signals to the container and exits with its status', async () => {
    const bundle = h.bundle(h.spec(['sh', '-c', 'trap "exit 9" TERM; while :; do sleep 0.1; done']));
    const id = h.id();
    const child = spawn(TSRUNC, ['--root', h.root, 'run', '-b', bundle, id], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await runningPid(id);
    // The process that ran `tsrunc run` is now tsrunc-shim itself (same pid).
    expect(comm(child.pid!)).toBe('tsrunc-shim');
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toBe(9);
    await waitFor(() => !h.leftovers().includes(id));
  });

  it('if the foreground run is killed outright, the container survives it and delete --force cleans up', async () => {
    const bundle = h.bundle(h.spec(['sleep', '300']));
    const id = h.id();
    const child = spawn(TSRUNC, ['--root', h.root, 'run', '-b', bundle, id], { stdio: 'ignore' });
    const pid = await runningPid(id);
    process.kill(child.pid!, 'SIGKILL');
    await waitFor(() => gone(child.pid!));
    expect((await h.state(id)).status).toBe('running');
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    await waitFor(() => gone(pid));
  });

  it('--shim-log sends the container\'s stdout and stderr to a file', async () => {
    const bundle = h.bundle(h.spec(['sh', '-c', 'echo to-stdout; echo to-stderr >&2']));
    const id = h.id();
    const log = join(h.dir, `${id}.log`);
    expect((await h.tsrunc(['run', '-d', '--shim', '--shim-log', log, '-b', bundle, id])).code).toBe(0);
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe('to-stdout\nto-stderr\n');
  });

  it('stays under 1 MiB of RSS while it supervises', async () => {
    const bundle = h.bundle(h.spec(['sleep', '300']));
    const id = h.id();
    await h.tsrunc(['run', '-d', '--shim', '-b', bundle, id]);
    const shim = ppidOf(await runningPid(id));
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${shim}/status`, 'utf8'))![1]);
    expect(rssKb).toBeLessThan(1024);
  });
});
