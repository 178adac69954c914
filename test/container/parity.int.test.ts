/**
 * What Docker, podman, Kubernetes and runc users hit: configs runc 1.1.5 runs
 * and tsrunc must run the same way (each case was checked against runc on
 * the same config; where the two differ on purpose, README says why).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, TSRUNC, exec, isRoot, repo, waitFor } from '../helpers/harness';
import type { Spec } from '../../src/spec/types';

const h = new Harness('parity');

/** Runs sh -c script in a container built from edit(spec) and a rootfs changed by prepare; returns the result. */
async function runIn(script: string, edit?: (s: Spec) => void, prepare?: (rootfs: string) => void, flags: string[] = []) {
  const bundle = h.bundle(h.spec(['sh', '-c', script], edit));
  prepare?.(join(bundle, 'rootfs'));
  const id = h.id();
  const r = await h.tsrunc(['run', '-b', bundle, ...flags, id]);
  return { ...r, id, bundle };
}

describe.skipIf(!isRoot())('runc parity (root)', () => {
  it('a bind mount onto a symlink lands on its target inside the rootfs (docker -v /etc/localtime:/etc/localtime)', async () => {
    const host = join(h.dir, 'zone');
    writeFileSync(host, 'host-zone\n');
    const outside = join(h.dir, 'outside-target');
    const r = await runIn('cat /etc/localtime /usr/share/zoneinfo/UTC /etc/nginx/default /srv/site/default; ls /etc/nginx', (s) => {
      s.mounts!.push(
        { destination: '/etc/localtime', type: 'bind', source: host, options: ['bind', 'ro'] },
        // A dangling relative link: its target is created inside the rootfs, then mounted over.
        { destination: '/etc/nginx/default', type: 'bind', source: host, options: ['bind'] },
        // An absolute link that "points" at a host path: resolved with the rootfs as /.
        { destination: '/etc/escape', type: 'bind', source: host, options: ['bind'] },
      );
    }, (rootfs) => {
      mkdirSync(join(rootfs, 'usr/share/zoneinfo'), { recursive: true });
      writeFileSync(join(rootfs, 'usr/share/zoneinfo/UTC'), 'image-zone\n');
      symlinkSync('/usr/share/zoneinfo/UTC', join(rootfs, 'etc/localtime'));
      mkdirSync(join(rootfs, 'etc/nginx'), { recursive: true });
      mkdirSync(join(rootfs, 'srv/site'), { recursive: true });
      symlinkSync('../../srv/site/default', join(rootfs, 'etc/nginx/default'));
      symlinkSync(outside, join(rootfs, 'etc/escape'));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('host-zone\nhost-zone\nhost-zone\nhost-zone\ndefault\n');
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(r.bundle, 'rootfs', outside))).toBe(true);
  });

  it('joins a network namespace bind-mounted under /run/netns (ip netns add, CNI, CRI)', async () => {
    const name = `tsrt-${process.pid}`;
    execFileSync('ip', ['netns', 'add', name]);
    try {
      const ino = statSync(`/run/netns/${name}`).ino;
      const r = await runIn('readlink /proc/self/ns/net', (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${name}` } : n));
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`net:[${ino}]\n`);
    } finally {
      execFileSync('ip', ['netns', 'delete', name]);
    }
  });

  it('a new network namespace has lo up: 127.0.0.1 answers (healthchecks, redis-cli)', async () => {
    // busybox nc listens and a client connects to it, all inside the container.
    const r = await runIn('cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; nc -l -p 8080 >/tmp/got & sleep 0.3; echo ping | nc -w 2 127.0.0.1 8080; sleep 0.3; cat /tmp/got', (s) => {
      s.mounts = s.mounts!.map((m) => (m.destination === '/sys' ? { ...m, options: ['nosuid', 'noexec', 'nodev', 'ro'] } : m));
    });
    expect(r.stderr).toBe('');
    const [operstate, flags, got] = r.stdout.trim().split('\n');
    expect(operstate).toBe('unknown'); // lo's operstate when up ("down" otherwise)
    expect(Number(flags) & 1).toBe(1); // IFF_UP
    expect(got).toBe('ping');
  });

  it('a read-only /dev tmpfs still gets its devices and /dev/pts, and is read-only to the process', async () => {
    const r = await runIn('grep " /dev " /proc/self/mountinfo | cut -d" " -f6; ls /dev/pts/ptmx && echo hi >/dev/null && echo null-ok; touch /dev/x 2>/dev/null || echo ro', (s) => {
      s.mounts = s.mounts!.map((m) => (m.destination === '/dev' ? { ...m, options: [...(m.options ?? []), 'ro'] } : m));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ro,nosuid\n/dev/pts/ptmx\nnull-ok\nro\n');
  });

  it('kill ID 0 checks a live container; exec works in a created one (as runc)', async () => {
    const { id, pid } = await h.create(h.spec(['sleep', '30']));
    const ex = await h.tsrunc(['exec', id, 'readlink', '/proc/self/ns/pid']);
    expect(ex.stderr).toBe('');
    expect(ex.stdout).toBe(`${readlinkSync(`/proc/${pid}/ns/pid`)}\n`);
    expect((await h.state(id)).status).toBe('created');
    expect((await h.tsrunc(['kill', id, '0'])).code).toBe(0);
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    const k = await h.tsrunc(['kill', id, '0']);
    expect(k.stderr).toBe('');
    expect(k.code).toBe(0);
    expect((await h.state(id)).status).toBe('running');
    expect((await h.tsrunc(['kill', id, 'KILL'])).code).toBe(0);
  });

  it('createContainer hooks run with the rootfs as working directory: relative paths land in the container', async () => {
    const r = await runIn('cat /hook-cwd', (s) => {
      s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'pwd > hook-cwd'] }] };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${join(r.bundle, 'rootfs')}\n`);
    expect(existsSync(join(r.bundle, 'hook-cwd'))).toBe(false);
  });

  it('tsrunc spec adds a cgroup namespace only on a cgroup v2 host (as runc spec)', async () => {
    const dir = join(h.dir, `spec-${Date.now()}`);
    mkdirSync(dir);
    expect((await exec(TSRUNC, ['spec', '-b', dir])).code).toBe(0);
    const types = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).linux.namespaces.map((n: { type: string }) => n.type);
    const v2 = execFileSync('stat', ['-f', '-c', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).trim() === 'cgroup2fs';
    expect(types.includes('cgroup')).toBe(v2);
  });

  it('tmpcopyup fills the new tmpfs with what the image had there (podman --tmpfs, --read-only)', async () => {
    const r = await runIn('grep " /var/cache " /proc/self/mountinfo | grep -c tmpfs; cd /var/cache; cat f sub/g; readlink link; stat -c "%n %u:%g %a" f sub sub/g; echo new > made', (s) => {
      s.mounts!.push({ destination: '/var/cache', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid', 'mode=755'] });
    }, (rootfs) => {
      const d = join(rootfs, 'var/cache');
      mkdirSync(join(d, 'sub'), { recursive: true });
      writeFileSync(join(d, 'f'), 'image-f\n');
      writeFileSync(join(d, 'sub/g'), 'image-g\n');
      symlinkSync('/etc/passwd', join(d, 'link'));
      execFileSync('chown', ['-h', '1000:1001', join(d, 'f'), join(d, 'sub')]);
      execFileSync('chmod', ['0751', join(d, 'sub')]);
      execFileSync('chmod', ['0604', join(d, 'sub/g')]);
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\nimage-f\nimage-g\n/etc/passwd\nf 1000:1001 644\nsub 1000:1001 751\nsub/g 0:0 604\n');
    // The writes went to the tmpfs, not the image.
    expect(readFileSync(join(r.bundle, 'rootfs/var/cache/f'), 'utf8')).toBe('image-f\n');
    expect(existsSync(join(r.bundle, "rootfs/var/cache/made"))).toBe(false);
  });

  it('user namespace: bind sources under a directory only the host root may enter still mount (runc opens them first)', async () => {
    const locked = join(h.dir, `locked-${Date.now()}`);
    mkdirSync(join(locked, 'vol'), { recursive: true, mode: 0o700 });
    execFileSync('chmod', ['0700', locked]);
    execFileSync('chmod', ['0755', join(locked, 'vol')]);
    writeFileSync(join(locked, 'vol', 'data'), 'volume\n');
    writeFileSync(join(locked, 'file'), 'file\n');
    try {
      // Existing targets: the userns root may not create files in a rootfs owned by the host's root.
      const r = await runIn('cat /home/data /etc/hostname; touch /home/x 2>/dev/null || echo ro', (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup').concat({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.mounts!.push(
          { destination: '/home', type: 'bind', source: join(locked, 'vol'), options: ['rbind', 'ro'] },
          { destination: '/etc/hostname', type: 'bind', source: join(locked, 'file'), options: ['bind'] },
        );
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('volume\nfile\nro\n');
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  });

  it('--no-pivot leaves no whole host proc or sysfs in the mount namespace: a nested user+pid namespace cannot mount proc', async () => {
    // As uid 1000, so the nested namespace maps a non-root id (mapping host root needs CAP_SETFCAP).
    const script = 'unshare -U -r -m -p -f sh -c "mount -t proc proc /tmp 2>/dev/null && echo mounted || echo refused"';
    const r = await runIn(script, (s) => { s.process!.user = { uid: 1000, gid: 1000 }; }, undefined, ['--no-pivot']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toBe('refused');
  });

  it('SCMP_ACT_NOTIFY with a listenerPath: exec sends the new process\'s notify fd to the agent as create does', async () => {
    const socket = join(h.dir, `listener-${Date.now()}.sock`);
    const listener = spawn('python3', [join(repo, 'test', 'helpers', 'seccomp-listener.py'), socket, '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    listener.stdout!.on('data', (d) => (out += d));
    const done = new Promise<void>((resolve) => listener.on('close', () => resolve()));
    try {
      await waitFor(() => out.startsWith('ready'));
      const { id, pid } = await h.create(h.spec(['sleep', '30'], (s) => {
        s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
      }));
      expect((await h.tsrunc(['start', id])).code).toBe(0);
      const ex = await h.tsrunc(['exec', id, 'sh', '-c', 'mkdir /tmp/x 2>&1; echo done']);
      expect(ex.stdout).toMatch(/Invalid cross-device link\ndone\n$/);
      await done;
      const got = JSON.parse(out.slice('ready\n'.length));
      expect(got.fds).toBe(1);
      expect(got.state).toMatchObject({ fds: ['seccompFd'], state: { id, status: 'running', pid } });
      expect(got.state.pid).not.toBe(pid); // the exec'd process, beside the container's state
      expect(got.handled.length).toBeGreaterThan(0);
    } finally {
      listener.kill();
    }
  });

  it('recursive mount attributes (rro, rnoexec) reach the mounts below a bind; an id-mapped bind shows files as mapped', async () => {
    const src = join(h.dir, `rec-${Date.now()}`);
    mkdirSync(join(src, 'sub'), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(src, 'sub')]);
    try {
      writeFileSync(join(src, 'sub', 'f'), 'x');
      writeFileSync(join(src, 'owned'), 'x');
      const r = await runIn('touch /rec/sub/n 2>/dev/null || echo sub-ro; touch /rec/n 2>/dev/null || echo top-ro; grep " /rec/sub " /proc/self/mountinfo | cut -d" " -f6; stat -c %u:%g /mapped/owned; touch /plain/sub/ok && echo plain-rw', (s) => {
        s.mounts!.push(
          { destination: '/rec', type: 'bind', source: src, options: ['rbind', 'rro', 'rnoexec'] },
          { destination: '/plain', type: 'bind', source: src, options: ['rbind', 'ro'] },
          { destination: '/mapped', type: 'bind', source: src, options: ['bind'], uidMappings: [{ containerID: 0, hostID: 1234, size: 1 }], gidMappings: [{ containerID: 0, hostID: 4321, size: 1 }] },
        );
      });
      expect(r.stderr).toBe('');
      // "ro" alone leaves the mount below writable; rro does not.
      expect(r.stdout).toBe('sub-ro\ntop-ro\nro,noexec,relatime\n1234:4321\nplain-rw\n');
      expect(existsSync(join(src, 'sub', 'ok'))).toBe(true);
    } finally {
      execFileSync('umount', ['-l', join(src, 'sub')]);
    }
  });

  it('a terminal belongs to a non-root process.user (tty group kept), with run -t and exec -t', async () => {
    const script = 'stat -c "%u:%g %a" $(tty); exit';
    const bundle = h.bundle(h.spec(['sh', '-c', script], (s) => {
      s.process!.terminal = true;
      s.process!.user = { uid: 1000, gid: 1000 };
    }));
    const run = await underScript(`${TSRUNC} --root ${h.root} run -b ${bundle} ${h.id()}`);
    expect(run.output).toMatch(/(^|\n|\^@)1000:5 620\n$/);
    const { id } = await h.create(h.spec(['sleep', '30']));
    expect((await h.tsrunc(['start', id])).code).toBe(0);
    const ex = await underScript(`${TSRUNC} --root ${h.root} exec -t -u 1001:1001 ${id} sh -c '${script}'`);
    expect(ex.output).toMatch(/(^|\n|\^@)1001:5 620\n$/);
  });
});

/** Runs a command line under `script`, so that tsrunc's stdin/stdout are a real terminal. */
async function underScript(commandLine: string): Promise<{ code: number | null; output: string }> {
  const r = await exec('script', ['-qfec', commandLine, '/dev/null'], { timeoutMs: 30_000 });
  return { code: r.code, output: r.stdout.replace(/\r/g, '') };
}
