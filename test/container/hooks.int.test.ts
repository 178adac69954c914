import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, cgroupDirsOf, isRoot, waitFor } from '../helpers/harness';
import type { Hook, Spec } from '../../src/spec/types';

const h = new Harness('hooks');

/** A host hook that appends "<tag> <mnt ns> <state json>" to log. */
function hostHook(tag: string, log: string, extra: Partial<Hook> = {}): Hook {
  return { path: '/bin/sh', args: ['sh', '-c', `echo "${tag} $(readlink /proc/self/ns/mnt) $(cat)" >> ${log}`], ...extra };
}

function readLog(log: string): { tag: string; mnt: string; state: Record<string, unknown> }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const [tag, mnt, ...rest] = line.split(' ');
    return { tag, mnt, state: JSON.parse(rest.join(' ')) };
  });
}

describe.skipIf(!isRoot())('hooks (root)', () => {
  it('run at their moments, in their namespaces, in order, with the state on stdin', async () => {
    const log = join(h.dir, `hooks-${Date.now()}.log`);
    const spec = h.spec(['sh', '-c', 'echo program >> /hooklog'], (s) => {
      s.hooks = {
        prestart: [hostHook('prestart', log)],
        createRuntime: [hostHook('createRuntime1', log), hostHook('createRuntime2', log)],
        createContainer: [hostHook('createContainer', log)],
        // startContainer runs in the container, after pivot_root: its path and its files are the container's.
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo "startContainer $(readlink /proc/self/ns/mnt) $(cat)" >> /hooklog'] }],
        poststart: [hostHook('poststart', log)],
        poststop: [hostHook('poststop', log)],
      };
    });
    const bundle = h.bundle(spec);
    const id = h.id();
    const hostMnt = readlinkSync('/proc/self/ns/mnt');
    expect((await h.tsrunc(['create', '--no-shim', '-b', bundle, id])).code).toBe(0);
    const pid = (await h.state(id)).pid as number;
    const containerMnt = readlinkSync(`/proc/${pid}/ns/mnt`);
    const created = readLog(log);
    expect(created.map((e) => e.tag)).toEqual(['prestart', 'createRuntime1', 'createRuntime2', 'createContainer']);
    expect(created.map((e) => e.mnt)).toEqual([hostMnt, hostMnt, hostMnt, containerMnt]);
    for (const e of created) expect(e.state).toMatchObject({ ociVersion: '1.3.0', id, status: 'creating', pid, bundle });

    expect((await h.tsrunc(['start', id])).code).toBe(0);
    const started = readLog(log);
    expect(started.map((e) => e.tag)).toEqual(['prestart', 'createRuntime1', 'createRuntime2', 'createContainer', 'poststart']);
    expect(started[4].state).toMatchObject({ status: 'running', pid });
    await waitFor(async () => (await h.state(id)).status === 'stopped');
    const inContainer = readFileSync(join(bundle, 'rootfs', 'hooklog'), 'utf8').trim().split('\n');
    expect(inContainer[0]).toMatch(new RegExp(`^startContainer ${containerMnt.replace(/[[\]]/g, '\\$&')} `));
    expect(JSON.parse(inContainer[0].split(' ').slice(2).join(' '))).toMatchObject({ id, status: 'created' });
    expect(inContainer[1]).toBe('program');

    expect((await h.tsrunc(['delete', id])).code).toBe(0);
    const all = readLog(log);
    expect(all[all.length - 1]).toMatchObject({ tag: 'poststop', state: { id, status: 'stopped' } });
  });

  it('get exactly their args and env', async () => {
    const out = join(h.dir, `args-${Date.now()}`);
    const r = await h.run(h.spec(['true'], (s) => {
      // The kernel's view of argv and environ: a shell would add a PATH of its own to what it shows.
      s.hooks = { prestart: [{ path: '/bin/sh', args: ['my-hook-name', '-c', `tr '\\0' ' ' < /proc/$$/cmdline > ${out}; echo >> ${out}; tr '\\0' ' ' < /proc/$$/environ >> ${out}`, 'first'], env: ['FOO=bar', 'EMPTY='] }] };
    }));
    expect(r.code).toBe(0);
    const [argv, environ] = readFileSync(out, 'utf8').split('\n');
    expect(argv).toMatch(/^my-hook-name -c .* first $/);
    expect(environ).toBe('FOO=bar EMPTY= ');
  });

  it.each(['prestart', 'createRuntime', 'createContainer'] as const)('a failing %s hook fails create, runs poststop, and leaves nothing', async (kind) => {
    const log = join(h.dir, `fail-${kind}-${Date.now()}.log`);
    const spec = h.spec(['true'], (s) => {
      s.hooks = { [kind]: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 3'] }, hostHook('never', log)], poststop: [hostHook('poststop', log)] };
    });
    const bundle = h.bundle(spec);
    const id = h.id();
    const r = await h.tsrunc(['create', '--no-shim', '-b', bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(kind === 'createContainer' ? /run hook \/bin\/sh: .*exit status 3/ : new RegExp(`${kind} hook #0 \\(/bin/sh\\) failed: exit status 3: nope`));
    expect(readLog(log).map((e) => e.tag)).toEqual(['poststop']);
    expect(h.leftovers()).not.toContain(id);
    expect(cgroupDirsOf(id)).toEqual([]);
  });

  it('a hook that outlives its timeout is killed and fails create', async () => {
    const started = Date.now();
    const r = await h.run(h.spec(['true'], (s) => { s.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }; }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/createRuntime hook #0 \(\/bin\/sleep\) failed: timed out after 1s/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const r2 = await h.run(h.spec(['true'], (s) => { s.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }; }));
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/timed out after 1s/);
  });

  it('a failing startContainer or poststart hook fails start and destroys the container', async () => {
    for (const hooks of [
      { startContainer: [{ path: '/bin/false' }] },
      { poststart: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 4'] }] },
    ] as Spec['hooks'][]) {
      const { id } = await h.create(h.spec(['sleep', '30'], (s) => { s.hooks = hooks; }));
      const r = await h.tsrunc(['start', id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/startContainer hook failed: \/bin\/false: exit status 1|poststart hook #0 \(\/bin\/sh\) failed: exit status 4/);
      expect(h.leftovers()).not.toContain(id);
      expect(cgroupDirsOf(id)).toEqual([]);
    }
  });

  it('a failing poststop hook is a warning; the remaining poststop hooks still run and delete succeeds', async () => {
    const log = join(h.dir, `poststop-${Date.now()}.log`);
    const { id } = await h.create(h.spec(['true'], (s) => {
      s.hooks = { poststop: [{ path: '/bin/false' }, hostHook('second', log)] };
    }));
    const r = await h.tsrunc(['delete', id]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/level=warning msg="poststop hook #0 \(\/bin\/false\) failed: exit status 1"/);
    expect(readLog(log).map((e) => e.tag)).toEqual(['second']);
  });

  it('the hooks of the config at create time are the ones that run', async () => {
    const log = join(h.dir, `frozen-${Date.now()}.log`);
    const spec = h.spec(['true'], (s) => { s.hooks = { poststart: [hostHook('original', log)] }; });
    const { id, bundle } = await h.create(spec);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ...spec, hooks: { poststart: [hostHook('edited', log)] } }));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    expect(readLog(log).map((e) => e.tag)).toEqual(['original']);
  });
});
