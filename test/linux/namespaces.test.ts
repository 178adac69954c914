import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLONE } from '../../src/linux/constants';
import { NAMESPACE_FLAGS, NSFS_NAMES, checkNamespacePath, planNamespaces } from '../../src/linux/namespaces';
import { TsruncError } from '../../src/sys/errors';

describe('NAMESPACE_FLAGS', () => {
  it('maps each spec type to its CLONE_NEW* flag', () => {
    expect(NAMESPACE_FLAGS).toEqual({
      pid: 0x20000000, network: 0x40000000, mount: 0x20000, ipc: 0x8000000, uts: 0x4000000,
      user: 0x10000000, cgroup: 0x2000000, time: 0x80,
    });
  });

  it('names types as nsfs does', () => {
    expect(NSFS_NAMES.network).toBe('net');
    expect(NSFS_NAMES.mount).toBe('mnt');
    expect(NSFS_NAMES.pid).toBe('pid');
  });
});

describe('planNamespaces', () => {
  it('has nothing for no namespaces', () => {
    const p = planNamespaces();
    expect(p).toMatchObject({ cloneFlags: 0, unshareCgroup: false, unshareTime: false, join: [] });
    expect(p.has('mount')).toBe(false);
    expect(p.isNew('mount')).toBe(false);
  });

  it('creates new namespaces with clone, except cgroup and time', () => {
    const p = planNamespaces([{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }, { type: 'cgroup' }, { type: 'time' }]);
    expect(p.cloneFlags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWUSER);
    expect(p.unshareCgroup).toBe(true);
    expect(p.unshareTime).toBe(true);
    expect(p.join).toEqual([]);
    expect(p.isNew('cgroup')).toBe(true);
    expect(p.has('time')).toBe(true);
  });

  it('joins namespaces given by path: user first; a cgroup one (and then mount) after the cgroup join', () => {
    const p = planNamespaces([
      { type: 'mount', path: '/ns/mnt' }, { type: 'network', path: '/ns/net' }, { type: 'pid' },
      { type: 'time', path: '/ns/time' }, { type: 'user', path: '/ns/user' }, { type: 'cgroup', path: '/ns/cgroup' },
      { type: 'uts', path: '/ns/uts' }, { type: 'ipc', path: '/ns/ipc' },
    ]);
    expect(p.join.map((j) => j.type)).toEqual(['user', 'ipc', 'uts', 'network', 'time']);
    expect(p.join[0]).toEqual({ type: 'user', flag: CLONE.NEWUSER, path: '/ns/user' });
    // A cgroup namespace by path is joined after the cgroup, and the mount namespace waits for it.
    expect(p.joinAfterCgroup).toEqual([{ flag: CLONE.NEWCGROUP, path: '/ns/cgroup' }, { flag: CLONE.NEWNS, path: '/ns/mnt' }]);
    expect(p.cloneFlags).toBe(CLONE.NEWPID);
    expect(p.unshareCgroup).toBe(false);
    expect(p.unshareTime).toBe(false);
    expect(p.has('network')).toBe(true);
    expect(p.isNew('network')).toBe(false);
    expect(p.isNew('pid')).toBe(true);
    expect(p.has('user')).toBe(true);
  });

  it('treats an empty path as a new namespace', () => {
    const p = planNamespaces([{ type: 'network', path: '' }]);
    expect(p.cloneFlags).toBe(CLONE.NEWNET);
    expect(p.join).toEqual([]);
    expect(p.isNew('network')).toBe(true);
  });
});

describe('checkNamespacePath', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-ns-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a namespace file of the right type', () => {
    expect(() => checkNamespacePath('network', '/proc/self/ns/net', 'ns[0]')).not.toThrow();
    expect(() => checkNamespacePath('mount', '/proc/self/ns/mnt', 'ns[0]')).not.toThrow();
    expect(() => checkNamespacePath('pid', '/proc/self/ns/pid_for_children', 'ns[0]')).not.toThrow();
    expect(() => checkNamespacePath('uts', `/proc/${process.pid}/ns/uts`, 'ns[0]')).not.toThrow();
  });

  it('refuses a namespace of another type', () => {
    expect(() => checkNamespacePath('uts', '/proc/self/ns/net', 'linux.namespaces[2] (uts)'))
      .toThrow(new TsruncError('linux.namespaces[2] (uts): "/proc/self/ns/net" is a net namespace, not uts'));
    expect(() => checkNamespacePath('network', '/proc/self/ns/mnt', 'w')).toThrow('w: "/proc/self/ns/mnt" is a mnt namespace, not network');
  });

  it('refuses a file or directory that is not a namespace', () => {
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    expect(() => checkNamespacePath('network', file, 'w')).toThrow(`w: ${JSON.stringify(file)} is not a namespace file`);
    expect(() => checkNamespacePath('network', dir, 'w')).toThrow(`w: ${JSON.stringify(dir)} is not a namespace file`);
  });

  // What CNI, podman and the CRI pass: a namespace bind-mounted on a file (as `ip netns add` does).
  it.skipIf(process.getuid?.() !== 0)('accepts a bind mount of a namespace and checks its type (root)', () => {
    const file = join(dir, 'netns');
    writeFileSync(file, '');
    execFileSync('mount', ['--bind', '/proc/self/ns/net', file]);
    try {
      expect(() => checkNamespacePath('network', file, 'w')).not.toThrow();
      expect(() => checkNamespacePath('ipc', file, 'w')).toThrow(`w: ${JSON.stringify(file)} is a net namespace, not ipc`);
    } finally {
      execFileSync('umount', [file]);
    }
  });

  it('names the errno when the path cannot be opened', () => {
    const missing = join(dir, 'missing');
    expect(() => checkNamespacePath('network', missing, 'w')).toThrow(`w: cannot open namespace ${JSON.stringify(missing)}: ENOENT`);
  });
});
