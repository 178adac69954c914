/**
 * tsrunc is daemonless: every call is one short-lived process in its caller's
 * context, and nothing of it remains but tsrunc-shim supervising a standalone
 * container. These tests drive the compiled binary as engines and people do.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Harness, TSRUNC, exec, isRoot, waitFor } from '../helpers/harness';

const h = new Harness('daemonless');

/**
 * Processes of tsrunc (the executable itself, tsrunc-shim, tsrunc-init) that
 * belong to this file: their command line names its state root, or they
 * descend from one that does. Other test files and other checkouts run
 * containers at the same time.
 */
function tsruncProcesses(): { pid: number; exe: string; args: string }[] {
  const all: { pid: number; ppid: number; exe: string; args: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let exe = '';
    let args = '';
    try {
      // Only this runner's user: test/rootless runs tsrunc as another user at the same time.
      if (/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1] !== String(process.getuid?.())) continue;
      exe = readlinkSync(`/proc/${name}/exe`);
      args = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const ppid = Number(/\) \S+ (\d+)/.exec(readFileSync(`/proc/${name}/stat`, 'utf8'))?.[1]);
    if (exe === TSRUNC || /^tsrunc-(shim|init)/.test(args) || exe.endsWith('/tsrunc-shim')) all.push({ pid: Number(name), ppid, exe, args });
  }
  const ours = new Set(all.filter((p) => p.args.includes(h.root)).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) if (!ours.has(p.pid) && ours.has(p.ppid)) { ours.add(p.pid); grew = true; }
  }
  return all.filter((p) => ours.has(p.pid)).map(({ pid, exe, args }) => ({ pid, exe, args }));
}

/** Unix sockets in the listening state, by inode (/proc/net/unix: flags 00010000 = __SO_ACCEPTCON). */
function listeningSocketInodes(): Set<string> {
  const lines = readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
  return new Set(lines.map((l) => l.trim().split(/\s+/)).filter((f) => f[3] === '00010000').map((f) => f[6]));
}

function socketInodesOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    }).map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1]).filter((i): i is string => !!i);
  } catch {
    return [];
  }
}

/** A cgroup of this test in the pids hierarchy (v1 on the hybrid hosts here, or the unified one). */
function testCgroup(name: string): string {
  const base = existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids' : '/sys/fs/cgroup';
  const dir = join(base, `tsrunc-test-${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe.skipIf(!isRoot())('daemonless tsrunc (root)', () => {
  it('after each command returns, only tsrunc-shim remains for a standalone container, and nothing listens', async () => {
    const before = new Set(tsruncProcesses().map((p) => p.pid));
    const { id } = await h.create(h.spec(['sleep', '30']), ['--shim']);
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    expect((await h.tsrunc(['state', id])).code).toBe(0);
    const now = tsruncProcesses().filter((p) => !before.has(p.pid));
    expect(now.map((p) => p.args.split(' ')[0])).toEqual(['tsrunc-shim']);
    expect(now.some((p) => p.exe === TSRUNC)).toBe(false);
    const listening = listeningSocketInodes();
    expect(socketInodesOf(now[0].pid).filter((i) => listening.has(i))).toEqual([]);
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    await waitFor(() => tsruncProcesses().filter((p) => !before.has(p.pid)).length === 0);
  });

  it('hooks run in the caller\'s own cgroup, and each caller\'s cgroup can be removed as soon as its call returns', async () => {
    for (const name of ['a', 'b']) {
      const cgroup = testCgroup(name);
      const log = join(h.dir, `cgroup-${name}.log`);
      const spec = h.spec(['true'], (s) => {
        s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `grep pids /proc/self/cgroup > ${log}; umask >> ${log}`] }] };
      });
      const bundle = h.bundle(spec);
      const id = h.id();
      // The caller: a shell that moves itself into its cgroup and sets its umask, then becomes tsrunc.
      const r = await exec('/bin/sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && umask 0027 && exec ${TSRUNC} --root ${h.root} run -b ${bundle} ${id}`]);
      expect(r.code, r.stderr).toBe(0);
      const [line, umask] = readFileSync(log, 'utf8').trim().split('\n');
      expect(line.endsWith(cgroup.replace(/^\/sys\/fs\/cgroup(\/pids)?/, ''))).toBe(true);
      expect(umask).toBe('0027');
      rmdirSync(cgroup); // nothing of tsrunc stayed in it
    }
  });

  it('--pid-file follows the caller\'s umask (0666 less it, as runc)', async () => {
    for (const [umask, mode] of [['077', 0o600], ['022', 0o644], ['000', 0o666]] as const) {
      const bundle = h.bundle(h.spec(['sleep', '30']));
      const id = h.id();
      const pidFile = join(h.dir, `pid-${umask}`);
      const r = await exec('/bin/sh', ['-c', `umask ${umask} && exec ${TSRUNC} --root ${h.root} create --no-shim -b ${bundle} --pid-file ${pidFile} ${id}`], { stdin: 'null' });
      expect(r.code, r.stderr).toBe(0);
      expect(statSync(pidFile).mode & 0o777).toBe(mode);
    }
  });

  it('a relative exec --process path is the caller\'s, not some other directory', async () => {
    const { id, bundle } = await h.create(h.spec(['sleep', '30']));
    await h.tsrunc(['start', id]);
    writeFileSync(join(bundle, 'p.json'), JSON.stringify({ args: ['/bin/echo', 'from p.json'], cwd: '/', user: { uid: 0, gid: 0 } }));
    const r = await h.tsrunc(['exec', '-p', 'p.json', id], { cwd: bundle });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from p.json\n');
  });
});

describe.skipIf(!isRoot())('--preserve-fds (root)', () => {
  it('passes fds 3..3+N-1 the caller really has', async () => {
    const file = join(h.dir, 'preserved');
    writeFileSync(file, 'from the host\n');
    const fd = openSync(file, 'r');
    try {
      const bundle = h.bundle(h.spec(['sh', '-c', 'cat <&3']));
      const r = await h.tsrunc(['run', '--preserve-fds', '1', '-b', bundle, h.id()], { extraFds: [fd] });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('from the host\n');
    } finally {
      closeSync(fd);
    }
  });

  it('refuses fds the caller does not have, naming the fd, and leaves nothing behind', async () => {
    const file = join(h.dir, 'one-fd');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      const cases: [string[], number[], RegExp][] = [
        // fd 3 only: the 4th is missing (and may be the runtime's own).
        [['--preserve-fds', '2'], [fd], /--preserve-fds 2: file descriptor 4 is not open/],
        // No fd at all: fd 3 is then the runtime's epoll, which must not count as the caller's.
        [['--preserve-fds', '1'], [], /--preserve-fds 1: file descriptor 3 is not open/],
        // Huge counts: never "every fd of the caller", never stdio closed.
        [['--preserve-fds', '99999999999'], [fd], /--preserve-fds 99999999999: file descriptor 4 is not open/],
        [['--preserve-fds', '4294967293'], [fd], /--preserve-fds 4294967293: file descriptor 4 is not open/],
        [['--preserve-fds', '-1'], [fd], /--preserve-fds -1: must be a non-negative integer/],
      ];
      for (const [flags, extraFds, message] of cases) {
        for (const command of ['run', 'create']) {
          const id = h.id();
          const r = await h.tsrunc([command, ...flags, '-b', h.bundle(h.spec(['true'])), id], { extraFds, stdin: 'null' });
          expect(r.code, `${command} ${flags.join(' ')}`).toBe(1);
          expect(r.stderr).toMatch(message);
          expect(h.leftovers()).not.toContain(id);
        }
      }
      const { id } = await h.create(h.spec(['sleep', '30']));
      await h.tsrunc(['start', id]);
      const r = await h.tsrunc(['exec', '--preserve-fds', '3', id, 'true'], { extraFds: [fd] });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/--preserve-fds 3: file descriptor 4 is not open/);
    } finally {
      closeSync(fd);
    }
  });
});

describe.skipIf(!isRoot())('session keyring (root)', () => {
  const keyringOf = (id: string) => new RegExp(`keyring\\s+_ses\\.${id.replace(/[.+]/g, '\\$&')}:`);
  // /proc/keys is one of the default masked paths: these containers may read it.
  const keysVisible = (args: string[]) => h.spec(args, (s) => { s.linux!.maskedPaths = s.linux!.maskedPaths!.filter((p) => p !== '/proc/keys'); });

  it('each container joins a new session keyring _ses.<id>, exec joins the same; --no-new-keyring keeps the caller\'s', async () => {
    const { id } = await h.create(keysVisible(['sleep', '30']));
    await h.tsrunc(['start', id]);
    expect((await h.tsrunc(['exec', id, 'cat', '/proc/keys'])).stdout).toMatch(keyringOf(id));
    const run = await h.run(keysVisible(['cat', '/proc/keys']));
    expect(run.stdout).toMatch(keyringOf(run.id));
    const other = await h.create(keysVisible(['sleep', '30']), ['--no-shim', '--no-new-keyring']);
    await h.tsrunc(['start', other.id]);
    expect((await h.tsrunc(['exec', other.id, 'cat', '/proc/keys'])).stdout).not.toMatch(keyringOf(other.id));
  });

  it('the keyring goes with the container', async () => {
    const { id } = await h.create(h.spec(['sleep', '30']));
    await h.tsrunc(['start', id]);
    expect(readFileSync('/proc/keys', 'utf8')).toMatch(keyringOf(id));
    expect((await h.tsrunc(['delete', '--force', id])).code).toBe(0);
    // Keys are garbage-collected a little after their last reference goes.
    await waitFor(() => !keyringOf(id).test(readFileSync('/proc/keys', 'utf8')), 30_000);
  });
});

describe.skipIf(!isRoot())('configs the kernel or seccomp would make impossible (root)', () => {
  it('a seccomp profile that denies everything is a clear error, not a crashed init', async () => {
    const spec = h.spec(['true'], (s) => { s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ERRNO' }; });
    const r = await h.run(spec);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/linux\.seccomp: the profile denies execve/);
    expect(h.leftovers()).not.toContain(r.id);
  });

  it('more environment than execve takes: the field and the limit are named', async () => {
    const spec = h.spec(['true'], (s) => { s.process!.env = Array.from({ length: 70000 }, (_, i) => `VAR${i}=${'v'.repeat(100)}`); });
    const r = await h.run(spec);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/process\/args: 1 arguments and 70000 environment variables take \d+ bytes: more than the \d+ the kernel allows a program \(E2BIG\)/);
    expect(h.leftovers()).not.toContain(r.id);
  });
});

describe.skipIf(!isRoot())('delete --force and tsrunc-shim (root)', () => {
  it('never race over the state directory: every delete succeeds and leaves nothing', async () => {
    const bundle = h.bundle(h.spec(['true']));
    for (let i = 0; i < 40; i++) {
      const id = h.id();
      expect((await h.tsrunc(['run', '-d', '--shim', '-b', bundle, id])).code).toBe(0);
      const r = await h.tsrunc(['delete', '--force', id]);
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(h.root, id))).toBe(false);
    }
  });
});
