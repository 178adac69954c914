import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, cgroupDirsOf, isRoot } from '../helpers/harness';
import type { Spec } from '../../src/spec/types';

const h = new Harness('badconfig');

/** Processes whose command line mentions this bundle or id: a failed create must leave none. */
function processesOf(...needles: string[]): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return ps.filter((l) => needles.some((n) => l.includes(n)) && !l.includes('ps -eo'));
}

type Case = [name: string, edit: (s: Spec) => void, message: RegExp];

const cases: Case[] = [
  ['negative uid', (s) => { s.process!.user.uid = -1; }, /config\.json: \/process\/user\/uid: must be >= 0/],
  ['relative cwd', (s) => { s.process!.cwd = 'tmp'; }, /config\.json: \/process\/cwd: /],
  ['no args', (s) => { s.process!.args = []; }, /config\.json: \/process\/args: /],
  ['unknown namespace type', (s) => { s.linux!.namespaces!.push({ type: 'bogus' as never }); }, /config\.json: \/linux\/namespaces\/6\/type: is "bogus", must be equal to one of the allowed values/],
  ['a namespace type twice', (s) => { s.linux!.namespaces!.push({ type: 'pid' }); }, /config\.json: \/linux\/namespaces\/6\/type: namespace type "pid" given more than once/],
  ['relative namespace path', (s) => { s.linux!.namespaces![1] = { type: 'network', path: 'proc/1/ns/net' }; }, /config\.json: \/linux\/namespaces\/1\/path: /],
  ['a namespace path that does not exist', (s) => { s.linux!.namespaces![1] = { type: 'network', path: '/nonexistent/ns/net' }; }, /linux\.namespaces\[1\] \(network\): cannot open namespace "\/nonexistent\/ns\/net"/],
  ['a namespace path that is not a namespace', (s) => { s.linux!.namespaces![1] = { type: 'network', path: '/etc/hostname' }; }, /"\/etc\/hostname" is not a namespace file/],
  ['hostname without a uts namespace', (s) => { s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts'); s.hostname = 'x'; }, /config\.json: \/hostname: can only be set with a uts namespace/],
  ['unknown rlimit', (s) => { s.process!.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }]; }, /config\.json: \/process\/rlimits\/0\/type: unknown rlimit "RLIMIT_BOGUS"/],
  ['rlimit soft above hard', (s) => { s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }]; }, /config\.json: \/process\/rlimits\/0: soft limit must not exceed the hard limit/],
  ['unknown capability', (s) => { s.process!.capabilities!.bounding!.push('CAP_BOGUS'); }, /config\.json: \/process\/capabilities\/bounding\/3: unknown capability "CAP_BOGUS"/],
  ['lower-case capability', (s) => { s.process!.capabilities!.effective!.push('cap_kill'); }, /config\.json: \/process\/capabilities\/effective\/3: must match pattern/],
  ['relative hook path', (s) => { s.hooks = { prestart: [{ path: 'bin/true' }] }; }, /config\.json: \/hooks\/prestart\/0\/path: /],
  ['unknown seccomp action', (s) => { s.linux!.seccomp = { defaultAction: 'SCMP_ACT_MAYBE' }; }, /config\.json: \/linux\/seccomp\/defaultAction: is "SCMP_ACT_MAYBE", must be equal to one of the allowed values/],
  ['missing ociVersion', (s) => { delete (s as Partial<Spec>).ociVersion; }, /config\.json: \/: must have required property 'ociVersion'/],
  ['a string where a number goes', (s) => { (s.process!.user as unknown as Record<string, unknown>).gid = '0'; }, /config\.json: \/process\/user\/gid: must be integer/],
  ['root.path that is not a directory', (s) => { s.root!.path = 'config.json'; }, /root\.path: ".*\/config\.json" is not a directory/],
  ['a bind mount of a missing source', (s) => { s.mounts!.push({ destination: '/data', type: 'bind', source: '/nonexistent/data', options: ['bind'] }); }, /mounts \/data: bind source "\/nonexistent\/data" does not exist/],
  ['a mount the kernel refuses', (s) => { s.mounts!.push({ destination: '/bad', type: 'nosuchfs', source: 'none' }); }, /mount none on \/bad: mount: ENODEV/],
  ['a program path that is not there', (s) => { s.process!.args = ['/no/such/program']; }, /exec: stat \/no\/such\/program: ENOENT/],
  ['a program name not on PATH', (s) => { s.process!.args = ['no-such-program']; }, /exec: "no-such-program": executable file not found in \$PATH/],
  ['a missing console socket for a terminal', (s) => { s.process!.terminal = true; }, /process\.terminal is true: --console-socket is required/],
];

describe.skipIf(!isRoot())('a bad config: exit 1, a message naming what is wrong, nothing left behind (root)', () => {
  it.each(cases)('%s', async (_name, edit, message) => {
    const bundle = h.bundle(h.spec(['true'], edit));
    const id = h.id();
    const r = await h.tsrunc(['create', '--no-shim', '-b', bundle, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(5);
    expect(h.leftovers()).not.toContain(id);
    expect(cgroupDirsOf(id)).toEqual([]);
    expect(processesOf(bundle, id)).toEqual([]);
    expect(require('node:fs').readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(bundle);
  });

  it('invalid JSON', async () => {
    const bundle = h.bundle('{"ociVersion": "1.3.0", ');
    const r = await h.tsrunc(['create', '-b', bundle, h.id()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/config\.json: \/: invalid JSON: /);
  });

  it('a bundle without config.json or rootfs', async () => {
    const bundle = h.bundle(h.spec(['true']));
    rmSync(join(bundle, 'rootfs'), { recursive: true });
    const r = await h.tsrunc(['create', '-b', bundle, h.id()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/root\.path: ".*rootfs" is not a directory/);
    const r2 = await h.tsrunc(['create', '-b', join(bundle, 'missing'), h.id()]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/cannot read .*missing\/config\.json: no such file/);
  });
});
