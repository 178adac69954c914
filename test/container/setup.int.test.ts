import { describe, expect, it } from 'vitest';
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from '../helpers/harness';

const h = new Harness('setup');

/** Runs `script` in a container built from edit(spec) and returns its stdout (failing on a non-zero exit). */
async function inside(script: string, edit?: Parameters<Harness['spec']>[1], flags: string[] = []): Promise<string> {
  const r = await h.run(h.spec(['sh', '-c', script], edit), { flags });
  if (r.code !== 0) throw new Error(`container exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function mountLine(mountinfo: string, target: string): string | undefined {
  return mountinfo.split('\n').find((l) => l.split(' ')[4] === target);
}

describe.skipIf(!isRoot())('what the container gets (root)', () => {
  it('is pid 1 of its own pid namespace, with its hostname and a new set of namespaces', async () => {
    const out = await inside('echo $$; hostname; for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done', (s) => {
      s.hostname = 'inside-test';
    });
    const [pid, hostname, ...ns] = out.trim().split('\n');
    expect(pid).toBe('1');
    expect(hostname).toBe('inside-test');
    for (const link of ns) {
      const type = link.split(':')[0];
      expect(link).not.toBe(readlinkSync(`/proc/self/ns/${type}`));
    }
  });

  it('runs args found on PATH with env, cwd, uid, gid, additional gids and umask', async () => {
    const out = await inside('echo "$FOO"; pwd; id -u; id -g; id -G; umask', (s) => {
      s.process!.env!.push('FOO=bar baz');
      s.process!.cwd = '/work/dir';
      s.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 1002], umask: 0o027 };
    });
    expect(out.trim().split('\n')).toEqual(['bar baz', '/work/dir', '1000', '1001', '1001 5 1002', '0027']);
  });

  it('sets HOME from the container /etc/passwd when the config does not', async () => {
    expect((await inside('echo $HOME')).trim()).toBe('/root');
    expect((await inside('echo $HOME', (s) => { s.process!.user = { uid: 4242, gid: 4242 }; })).trim()).toBe('/');
  });

  it('gets only fds 0-2, and --preserve-fds passes more', async () => {
    expect((await inside('ls /proc/self/fd')).trim().split('\n').sort()).toEqual(['0', '1', '2', '3']); // 3: ls's own dir fd
    const file = join(h.dir, 'preserved');
    writeFileSync(file, 'from the host\n');
    const fd = openSync(file, 'r');
    try {
      const bundle = h.bundle(h.spec(['sh', '-c', 'cat <&3; ls /proc/self/fd | sort | tr "\\n" " "']));
      const id = h.id();
      const r = await h.tsrunc(['run', '--preserve-fds', '1', '-b', bundle, id], { extraFds: [fd] });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('from the host\n0 1 2 3 4 ');
    } finally {
      closeSync(fd);
    }
  });

  it('mounts the default filesystems with their flags', async () => {
    const info = await inside('cat /proc/self/mountinfo', (s) => { s.root!.readonly = true; });
    expect(mountLine(info, '/')).toMatch(/ ro[, ]/);
    expect(mountLine(info, '/proc')).toMatch(/ - proc /);
    expect(mountLine(info, '/dev')).toMatch(/nosuid.* - tmpfs .*mode=755/);
    expect(mountLine(info, '/dev/pts')).toMatch(/nosuid,noexec.* - devpts .*ptmxmode=666/);
    expect(mountLine(info, '/dev/shm')).toMatch(/nosuid,nodev,noexec.* - tmpfs .*size=65536k/);
    expect(mountLine(info, '/dev/mqueue')).toMatch(/ - mqueue /);
    expect(mountLine(info, '/sys')).toMatch(/^\S+ \S+ \S+ \S+ \/sys ro,/);
    expect(mountLine(info, '/sys/fs/cgroup')).toMatch(/ - tmpfs /);
    expect(mountLine(info, '/sys/fs/cgroup/memory')).toMatch(/ - cgroup \S+ \S*\bmemory\b/);
    expect(mountLine(info, '/proc/sys')).toMatch(/ ro,/);
    expect(mountLine(info, '/proc/keys')).toMatch(/ \/null \/proc\/keys /); // masked by /dev/null
    expect(mountLine(info, '/proc/acpi')).toMatch(/ - tmpfs .* ro,/); // masked by an empty read-only tmpfs
  });

  it('read-only root refuses writes; a writable one allows them', async () => {
    const ro = await h.run(h.spec(['touch', '/x'], (s) => { s.root!.readonly = true; }));
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);
    expect((await inside('touch /x && echo ok')).trim()).toBe('ok');
  });

  it('bind mounts (file and directory, ro, relative source), tmpfs with size and mode, in order', async () => {
    const hostDir = join(h.dir, 'shared');
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, 'hello'), 'hi\n');
    const out = await inside('cat /mnt/ro/hello; touch /mnt/ro/nope 2>&1 || echo denied; cat /etc/injected; stat -c %a /scratch; grep " /scratch " /proc/self/mountinfo', (s) => {
      s.mounts!.push(
        { destination: '/mnt/ro', type: 'bind', source: hostDir, options: ['rbind', 'ro'] },
        { destination: '/etc/injected', type: 'none', source: join(hostDir, 'hello'), options: ['bind'] },
        { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1770', 'noexec'] },
      );
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('hi');
    expect(lines.some((l) => l.includes('Read-only file system'))).toBe(true);
    expect(lines).toContain('denied');
    expect(lines[lines.length - 3]).toBe('hi');
    expect(lines[lines.length - 2]).toBe('1770');
    expect(lines[lines.length - 1]).toMatch(/noexec.* - tmpfs .*size=1024k,mode=1770/);
    expect(existsSync(join(hostDir, 'nope'))).toBe(false);
  });

  it('creates the default devices and /dev links', async () => {
    const out = await inside('for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done; for l in fd stdin ptmx; do readlink /dev/$l; done');
    expect(out).toContain('/dev/null character special file 1:3 666');
    expect(out).toContain('/dev/zero character special file 1:5 666');
    expect(out).toContain('/dev/full character special file 1:7 666');
    expect(out).toContain('/dev/urandom character special file 1:9 666');
    expect(out).toContain('/dev/tty character special file 5:0 666');
    expect(out).toContain('/proc/self/fd\n/proc/self/fd/0\npts/ptmx');
  });

  it('resolves mount targets inside the rootfs, never through a symlink out of it', async () => {
    const victim = join(h.dir, 'victim');
    mkdirSync(victim, { recursive: true });
    const spec = h.spec(['sh', '-c', 'grep " /escape " /proc/self/mountinfo >/dev/null && echo mounted-inside; ls /escape']);
    spec.mounts!.push({ destination: '/escape', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    const bundle = h.bundle(spec);
    // The rootfs points /escape at a host directory, absolutely and through "..".
    symlinkSync(victim, join(bundle, 'rootfs', 'escape'));
    const id = h.id();
    const r = await h.tsrunc(['run', '-b', bundle, id]);
    expect(r.code).toBe(0);
    expect(readdirSync(victim)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(victim);
    const spec2 = h.spec(['true']);
    spec2.mounts!.push({ destination: '/up/x', type: 'tmpfs', source: 'tmpfs' });
    const bundle2 = h.bundle(spec2);
    symlinkSync('../../../../../../../..' + victim, join(bundle2, 'rootfs', 'up'));
    expect((await h.tsrunc(['run', '-b', bundle2, h.id()])).code).toBe(0);
    expect(readdirSync(victim)).toEqual([]);
  });

  it('joins namespaces given by path and checks their type', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    const out = await inside('readlink /proc/self/ns/net; readlink /proc/self/ns/ipc', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' || n.type === 'ipc' ? { ...n, path: `/proc/${pid}/ns/${n.type === 'network' ? 'net' : 'ipc'}` } : n));
    });
    expect(out.trim().split('\n')).toEqual([readlinkSync(`/proc/${pid}/ns/net`), readlinkSync(`/proc/${pid}/ns/ipc`)]);
    const wrong = await h.run(h.spec(['true'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: `/proc/${pid}/ns/ipc` } : n));
    }));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/is a ipc namespace, not network/);
    expect(h.leftovers()).not.toContain(wrong.id);
    await h.tsrunc(['delete', '--force', id]);
  });

  it('with --no-pivot the container still gets its root', async () => {
    const out = await inside('ls / | head -3; cat /proc/self/mountinfo | wc -l', undefined, ['--no-pivot']);
    expect(out).toContain('bin');
  });

  it('the rootfs may be given relative to the bundle or absolute', async () => {
    const abs = join(h.dir, 'abs-rootfs-bundle');
    const spec = h.spec(['true']);
    const bundle = h.bundle(spec);
    spec.root!.path = join(bundle, 'rootfs');
    mkdirSync(abs, { recursive: true });
    writeFileSync(join(abs, 'config.json'), JSON.stringify(spec));
    expect((await h.tsrunc(['run', '-b', abs, h.id()])).code).toBe(0);
    rmSync(abs, { recursive: true });
  });

  it('a container that runs until killed keeps running after tsrunc exits (re-parented)', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    await h.tsrunc(['start', id]);
    await waitFor(async () => (await h.state(id)).status === 'running');
    expect(statSync(`/proc/${pid}`).isDirectory()).toBe(true);
  });
});

