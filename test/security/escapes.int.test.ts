import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, fstatSync, writeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, repo, waitFor } from '../helpers/harness';
import type { Spec } from '../../src/spec/types';

const h = new Harness('escapes');
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const BINARIES = ['tsrunc', 'tsrunc-init', 'tsrunc-shim'].map((b) => join(repo, 'addon', 'build', b));

async function runningContainer(edit?: (s: Spec) => void, args = ['sleep', '300']): Promise<{ id: string; pid: number; bundle: string }> {
  const c = await h.create(h.spec(args, edit));
  await h.tsrunc(['start', c.id]);
  await waitFor(async () => (await h.state(c.id)).status === 'running');
  return c;
}

describe.skipIf(!isRoot())('escapes that must be impossible (root)', () => {
  it('CVE-2019-5736: the init a container could reach is a sealed copy; the binaries on disk cannot be written through it', async () => {
    const before = BINARIES.map(sha);
    // A created container's process is still tsrunc-init, waiting on exec.fifo.
    const { id, pid } = await h.create(h.spec(['sleep', '300']));
    const exe = openSync(`/proc/${pid}/exe`, 'r');
    try {
      const st = fstatSync(exe);
      expect(st.ino).not.toBe(statSync(join(repo, 'addon', 'build', 'tsrunc-init')).ino);
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Name:\s+tsrunc-init$/m);
      await h.tsrunc(['start', id]);
      await waitFor(async () => (await h.state(id)).status === 'running');
      // The process has exec'd away: nothing runs the image any more, and still it cannot be written (F_SEAL_WRITE).
      const rw = openSync(`/proc/self/fd/${exe}`, 'r+');
      try {
        expect(() => writeSync(rw, 'overwritten')).toThrow(/EPERM/);
      } finally {
        closeSync(rw);
      }
    } finally {
      closeSync(exe);
    }
    expect(BINARIES.map(sha)).toEqual(before);
  });

  it('CVE-2019-5736: a container (with CAP_SYS_PTRACE) racing to open /proc/<joining pid>/exe for writing never succeeds', async () => {
    const before = BINARIES.map(sha);
    // The attacker notes every tsrunc-init it sees (its comm: the exe link of a non-dumpable process is
    // not readable) and every /proc/<pid>/exe it manages to open for writing. Builtins only: forks are slow.
    const attack =
      'while :; do for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] && continue; ' +
      'read -r c < "$p/comm" 2>/dev/null && [ "$c" = tsrunc-init ] && echo "$p" >> /tmp/seen; ' +
      '( exec 3<>"$p/exe" ) 2>/dev/null && readlink "$p/exe" >> /tmp/opened; done; done';
    const { id, bundle } = await runningContainer((s) => {
      s.process!.capabilities = Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, ['CAP_SYS_PTRACE', 'CAP_DAC_OVERRIDE', 'CAP_KILL']]));
    }, ['sh', '-c', attack]);
    const seenFile = join(bundle, 'rootfs', 'tmp', 'seen');
    // Enough execs that the attacker's loop catches at least a few of them between clone and execve.
    let execs = 0;
    while (execs < 15 || (execs < 80 && (!existsSync(seenFile) || readFileSync(seenFile, 'utf8').trim().split('\n').length < 3))) {
      expect((await h.tsrunc(['exec', id, 'true'])).code).toBe(0);
      execs++;
    }
    const seen = existsSync(seenFile) ? readFileSync(seenFile, 'utf8').trim().split('\n').filter(Boolean) : [];
    // The race was really run: the attacker saw tsrunc-init processes inside the container.
    expect(seen.length, `the attacker never saw a tsrunc-init in ${execs} execs`).toBeGreaterThan(0);
    const opened = existsSync(join(bundle, 'rootfs', 'tmp', 'opened')) ? readFileSync(join(bundle, 'rootfs', 'tmp', 'opened'), 'utf8') : '';
    // Whatever it opened, none of it was tsrunc's: its own busybox is the only writable-openable exe it could see.
    expect(opened.split('\n').filter((l) => l && !l.includes('busybox'))).toEqual([]);
    expect(BINARIES.map(sha)).toEqual(before);
  });

  it('CVE-2024-21626: the container gets no host fd, and the channel to tsrunc-init is gone before its program runs', async () => {
    const c = await h.create(h.spec(['sleep', '300']), ['--no-shim'], { stdin: 'null' });
    const id = c.id;
    await h.tsrunc(['start', id]);
    const fds = await h.tsrunc(['exec', id, 'ls', '/proc/1/fd']);
    expect(fds.stdout.trim().split('\n').sort()).toEqual(['0', '1', '2']);
    // Its stdio is what the caller gave (here /dev/null and the test's files): no socket to tsrunc-init remains.
    const links = await h.tsrunc(['exec', id, 'sh', '-c', 'ls -l /proc/1/fd/ /proc/self/fd/ | grep -c -E "socket:|anon_inode:"'], { stdin: 'null' });
    expect(links.stdout.trim()).toBe('0');
  });

  it('CVE-2024-21626: a cwd that resolves outside the root through /proc/self/fd is refused', async () => {
    // At create, the cwd is made inside the root first, where /proc magic links are not followed.
    for (const fd of [3, 4, 5, 6, 7, 8]) {
      const r = await h.run(h.spec(['pwd'], (s) => { s.process!.cwd = `/proc/self/fd/${fd}`; }));
      expect(r.code, `cwd /proc/self/fd/${fd}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr).toMatch(/create directory \/proc\/self\/fd\/\d+: mkdir: (ELOOP|ENOENT)|cwd is outside the container root|chdir to cwd/);
    }
    // The attack itself: a host directory fd leaks into the process (here on purpose, --preserve-fds) and the cwd goes through it.
    const { id } = await runningContainer();
    const hostDir = openSync(h.dir, 'r');
    try {
      const r = await h.tsrunc(['exec', '--preserve-fds', '1', '--cwd', '/proc/self/fd/3', id, 'pwd'], { extraFds: [hostDir] });
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/cwd is outside the container root/);
    } finally {
      closeSync(hostDir);
    }
    for (const fd of [3, 4, 5, 6]) {
      const r = await h.tsrunc(['exec', '--cwd', `/proc/self/fd/${fd}`, id, 'pwd']);
      expect(r.code, r.stdout).toBe(1);
    }
  });

  it('CVE-2021-30465: symlinks in the rootfs never redirect a mount, device or masked path to the host', async () => {
    const victim = join(h.dir, `victim-${Date.now()}`);
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep'), 'host file\n');
    // No /dev mount: devices are made in the rootfs's own /dev, which is a symlink to the victim.
    const spec = h.spec(['true'], (s) => {
      s.mounts = s.mounts!.filter((m) => !m.destination.startsWith('/dev'));
      s.mounts.push({ destination: '/etc/conf', type: 'tmpfs', source: 'tmpfs' }, { destination: '/up/x', type: 'tmpfs', source: 'tmpfs' });
      s.linux!.devices = [{ type: 'c', path: '/dev/evil', major: 1, minor: 3 }];
      s.linux!.maskedPaths = ['/proc/kcore', '/masked/file'];
    });
    const bundle = h.bundle(spec);
    const rootfs = join(bundle, 'rootfs');
    rmSync(join(rootfs, 'etc'), { recursive: true });
    rmSync(join(rootfs, 'dev'), { recursive: true });
    symlinkSync(victim, join(rootfs, 'etc'));
    symlinkSync(victim, join(rootfs, 'dev'));
    symlinkSync(`../../../../../../../../..${victim}`, join(rootfs, 'up'));
    mkdirSync(join(rootfs, 'masked'));
    symlinkSync(join(victim, 'keep'), join(rootfs, 'masked', 'file'));
    const r = await h.tsrunc(['run', '-b', bundle, h.id()]);
    expect(readdirSync(victim)).toEqual(['keep']);
    expect(readFileSync(join(victim, 'keep'), 'utf8')).toBe('host file\n');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(victim);
    // A masked path that is a symlink (or a /dev/null reached through one) is refused rather than followed.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mask \/masked\/file: (is a symlink|open \/dev\/null): ELOOP/);
    // With a real /dev, the symlinked masked file itself is what is refused.
    const bundle2 = h.bundle(h.spec(['true'], (s) => { s.linux!.maskedPaths = ['/masked/file']; s.linux!.readonlyPaths = []; }));
    mkdirSync(join(bundle2, 'rootfs', 'masked'));
    symlinkSync(join(victim, 'keep'), join(bundle2, 'rootfs', 'masked', 'file'));
    const r2 = await h.tsrunc(['run', '-b', bundle2, h.id()]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/mask \/masked\/file: is a symlink: ELOOP/);
    const bundle3 = h.bundle(h.spec(['true'], (s) => { s.linux!.maskedPaths = ['/masked']; s.linux!.readonlyPaths = ['/ro']; }));
    symlinkSync(victim, join(bundle3, 'rootfs', 'masked'));
    const r3 = await h.tsrunc(['run', '-b', bundle3, h.id()]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/mask \/masked: is a symlink: ELOOP/);
    // A read-only path that is a symlink to a host directory is refused too, not remounted.
    const bundle4 = h.bundle(h.spec(['true'], (s) => { s.linux!.maskedPaths = []; s.linux!.readonlyPaths = ['/ro']; }));
    symlinkSync(victim, join(bundle4, 'rootfs', 'ro'));
    const r4 = await h.tsrunc(['run', '-b', bundle4, h.id()]);
    expect(r4.code).toBe(1);
    expect(r4.stderr).toMatch(/make \/ro read-only: is a symlink: ELOOP/);
    expect(readdirSync(victim)).toEqual(['keep']);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(victim);
  });

  it('runc 2025 advisories: a /dev/null swapped for a symlink to a procfs file is never bound over a masked path', async () => {
    const fakeDev = join(h.dir, `fakedev-${Date.now()}`);
    mkdirSync(fakeDev);
    symlinkSync('/proc/sysrq-trigger', join(fakeDev, 'null'));
    const r = await h.run(h.spec(['sh', '-c', 'cat /proc/keys; echo unreachable'], (s) => {
      s.mounts = s.mounts!.filter((m) => m.destination !== '/dev' && !m.destination.startsWith('/dev/'));
      s.mounts.push({ destination: '/dev', type: 'bind', source: fakeDev, options: ['rbind'] });
    }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mask \/proc\/\w+: open \/dev\/null: ELOOP|is not the null device/);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(fakeDev);
  });

  it('noNewPrivileges stops a setuid binary from gaining root; without it the binary does', async () => {
    const src = join(h.dir, 'euid.c');
    writeFileSync(src, '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("%d\\n", (int)geteuid()); return 0; }\n');
    const bin = join(h.dir, 'euid');
    execFileSync('cc', ['-static', '-o', bin, src]);
    const run = async (nnp: boolean) => {
      const bundle = h.bundle(h.spec(['/euid'], (s) => {
        s.process!.user = { uid: 1000, gid: 1000 };
        s.process!.noNewPrivileges = nnp;
      }));
      execFileSync('cp', [bin, join(bundle, 'rootfs', 'euid')]);
      chmodSync(join(bundle, 'rootfs', 'euid'), 0o4755);
      return (await h.tsrunc(['run', '-b', bundle, h.id()])).stdout.trim();
    };
    expect(await run(false)).toBe('0');
    expect(await run(true)).toBe('1000');
  });
});
