/**
 * Container setup (src/container/setup.ts) against recording fakes of
 * tsrunc-init and the host side: the exact, ordered list of requests for a
 * few configs, and the ordering rules any config must keep. Line format: see
 * test/fakes/recording-ops.ts (MS_* and CLONE_* flags print lowest bit first).
 */
import { describe, expect, it } from 'vitest';
import { setupContainer, type SetupOptions } from '../../src/container/setup';
import type { CgroupRecord } from '../../src/cgroups/types';
import { defaultSpec } from '../../src/spec/defaults';
import type { Spec } from '../../src/spec/types';
import { silentLogger } from '../../src/sys/log';
import { SyscallError, TsruncError } from '../../src/sys/errors';
import { recorders, type RecordingHost, type RecordingOps } from '../fakes/recording-ops';
import { recordingLogger } from '../fakes/logger';

const PID = 4242;

interface Run {
  log: string[];
  ops: RecordingOps;
  host: RecordingHost;
}

/** Runs the setup; `prepare` configures the fakes first (bind sources, mount points, failures). */
async function setup(spec: Spec, options: Partial<SetupOptions> = {}, prepare?: (r: Run) => void): Promise<Run> {
  const r = recorders();
  prepare?.(r);
  const pid = await setupContainer(r.ops, r.host, {
    spec, bundle: '/b', rootfs: '/b/rootfs', stateDir: '/run/tsrunc/ctr', noPivot: false, preserveFds: 0, log: silentLogger, ...options,
  });
  expect(pid).toBe(PID);
  return r;
}

/** Like setup, but expects it to throw; returns the error and what was done before. */
async function setupFails(spec: Spec, options: Partial<SetupOptions> = {}, prepare?: (r: Run) => void): Promise<{ error: Error; log: string[] }> {
  const r = recorders();
  prepare?.(r);
  try {
    await setupContainer(r.ops, r.host, {
      spec, bundle: '/b', rootfs: '/b/rootfs', stateDir: '/run/tsrunc/ctr', noPivot: false, preserveFds: 0, log: silentLogger, ...options,
    });
  } catch (error) {
    return { error: error as Error, log: r.log };
  }
  throw new Error('setupContainer did not throw');
}

/** The smallest useful config: a mount namespace and a process. */
function minimal(edit?: (s: Spec) => void): Spec {
  const s: Spec = {
    ociVersion: '1.3.0',
    root: { path: 'rootfs' },
    process: { user: { uid: 0, gid: 0 }, args: ['true'], cwd: '/' },
    linux: { namespaces: [{ type: 'mount' }] },
  };
  edit?.(s);
  return s;
}

/** runc's default config (`tsrunc spec`), without a terminal. */
function runcDefault(): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  return s;
}

const unifiedCgroup: CgroupRecord = { mode: 'unified', path: '/ctr', dirs: { '': '/sys/fs/cgroup/ctr' }, created: [] };

const hybridCgroup: CgroupRecord = {
  mode: 'hybrid',
  path: '/ctr',
  dirs: {
    'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/ctr',
    memory: '/sys/fs/cgroup/memory/ctr',
    'name=systemd': '/sys/fs/cgroup/systemd/ctr',
    '': '/sys/fs/cgroup/unified/ctr',
  },
  created: [],
};

const hybridHierarchies: SetupOptions['cgroupHierarchies'] = [
  { key: 'cpu,cpuacct', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'], version: 1 },
  { key: 'memory', mountPoint: '/sys/fs/cgroup/memory', controllers: ['memory'], version: 1 },
  // Mounted on the host, but not one of the container's: skipped.
  { key: 'rdma', mountPoint: '/sys/fs/cgroup/rdma', controllers: ['rdma'], version: 1 },
  { key: 'name=systemd', mountPoint: '/sys/fs/cgroup/systemd', controllers: ['name=systemd'], version: 1 },
  { key: '', mountPoint: '/sys/fs/cgroup/unified', controllers: [], version: 2 },
];

const cgroupMount = { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] };

// Blocks of requests that many configs share.
/** The first request of every setup: the state directory is opened while host paths resolve, as the host's root. */
const FIFO = 'setStartFifo /run/tsrunc/ctr';
const ROOTFS = [
  'mount - / - REC|SLAVE -',
  'mount - / - PRIVATE -',
  'mount /b/rootfs /b/rootfs - BIND|REC -',
  'setRoot /b/rootfs',
];
const DEV_NODES = [
  'mknod /dev/null c 1:3 0666 0:0',
  'mknod /dev/zero c 1:5 0666 0:0',
  'mknod /dev/full c 1:7 0666 0:0',
  'mknod /dev/random c 1:8 0666 0:0',
  'mknod /dev/urandom c 1:9 0666 0:0',
  'mknod /dev/tty c 5:0 0666 0:0',
];
const DEV_BINDS = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'].map((d) => `bindDevice ${d} ${d}`);
const DEV_LINKS = [
  'symlink /dev/fd -> /proc/self/fd',
  'symlink /dev/stdin -> /proc/self/fd/0',
  'symlink /dev/stdout -> /proc/self/fd/1',
  'symlink /dev/stderr -> /proc/self/fd/2',
  'symlink /dev/ptmx -> pts/ptmx',
];
const RUNTIME_HOOKS = [`host.runRuntimeHooks prestart ${PID}`, `host.runRuntimeHooks createRuntime ${PID}`];
const PIVOT = ['mkdirAll / 0755 @root', 'pivotRoot /b/rootfs'];
const TRUE_PROCESS = ['setExec ["true"] env=[] cwd=/', 'setUser 0:0 umask=- groups=[] setgroups=true', 'finish'];

describe('setupContainer: request sequences', () => {
  it("runc's default config (terminal false) on a cgroup v2 host", async () => {
    const { log } = await setup(runcDefault(), { cgroup: unifiedCgroup, cgroupHierarchies: [{ key: '', mountPoint: '/sys/fs/cgroup', controllers: [], version: 2 }] });
    expect(log).toEqual([
      FIFO,
      'setCloneCgroup /sys/fs/cgroup/ctr',
      'clone NEWNS|NEWUTS|NEWIPC|NEWPID|NEWNET',
      `host.onPid ${PID}`,
      'unshare NEWCGROUP',
      // A new network namespace: lo up before anything configured runs, as runc does.
      'loopbackUp',
      ...ROOTFS,
      'mkdirAll /proc 0755 @root',
      'mount proc /proc proc 0 - @root',
      'mkdirAll /dev 0755 @root',
      'mount tmpfs /dev tmpfs NOSUID|STRICTATIME mode=755,size=65536k @root',
      'mkdirAll /dev/pts 0755 @root',
      'mount devpts /dev/pts devpts NOSUID|NOEXEC newinstance,ptmxmode=0666,mode=0620,gid=5 @root',
      'mkdirAll /dev/shm 0755 @root',
      'mount shm /dev/shm tmpfs NOSUID|NODEV|NOEXEC mode=1777,size=65536k @root',
      'mkdirAll /dev/mqueue 0755 @root',
      'mount mqueue /dev/mqueue mqueue NOSUID|NODEV|NOEXEC - @root',
      'mkdirAll /sys 0755 @root',
      'mount sysfs /sys sysfs RDONLY|NOSUID|NODEV|NOEXEC - @root',
      'mkdirAll /sys/fs/cgroup 0755 @root',
      'mount cgroup /sys/fs/cgroup cgroup2 RDONLY|NOSUID|NODEV|NOEXEC|RELATIME - @root',
      ...DEV_NODES,
      ...DEV_LINKS,
      ...RUNTIME_HOOKS,
      ...PIVOT,
      'readonlyPath /',
      'sethostname "tsrunc"',
      'readonlyPath /proc/bus',
      'readonlyPath /proc/fs',
      'readonlyPath /proc/irq',
      'readonlyPath /proc/sys',
      'readonlyPath /proc/sysrq-trigger',
      'maskPath /proc/acpi',
      'maskPath /proc/asound',
      'maskPath /proc/kcore',
      'maskPath /proc/keys',
      'maskPath /proc/latency_stats',
      'maskPath /proc/timer_list',
      'maskPath /proc/timer_stats',
      'maskPath /proc/sched_debug',
      'maskPath /sys/firmware',
      'maskPath /proc/scsi',
      'setExec ["sh"] env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"] cwd=/',
      'setUser 0:0 umask=- groups=[] setgroups=true',
      // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29); no ambient: none is inheritable.
      'setCaps 0x20000420 0x20000420 0x0 0x20000420 0x0',
      'setRlimit RLIMIT_NOFILE 1024 1024',
      'setNoNewPrivs',
      'finish',
    ]);
  });

  it('the smallest config', async () => {
    expect((await setup(minimal())).log).toEqual([
      FIFO, 'clone NEWNS', `host.onPid ${PID}`, ...ROOTFS, ...DEV_NODES, ...DEV_LINKS, ...RUNTIME_HOOKS, ...PIVOT, ...TRUE_PROCESS,
    ]);
  });

  it('a new user namespace: maps written from outside, the init becomes its root, host devices bound', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 1 }];
    });
    expect((await setup(spec)).log).toEqual([
      FIFO,
      'clone NEWNS|NEWUSER',
      `host.onPid ${PID}`,
      `host.writeIdMaps ${PID} uid="0 100000 65536\\n" gid="0 200000 1000\\n1000 300000 1\\n"`,
      'becomeRoot',
      ...ROOTFS,
      ...DEV_BINDS,
      ...DEV_LINKS,
      ...RUNTIME_HOOKS,
      ...PIVOT,
      ...TRUE_PROCESS,
    ]);
  });

  it('a new user namespace: bind sources are cloned as detached mounts before clone, attached in place of a bind', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts = [
        { destination: '/data', type: 'bind', source: '/srv/private/vol', options: ['rbind', 'ro'] },
        { destination: '/etc/motd', type: 'none', source: 'motd', options: ['bind'] },
      ];
    });
    const { log } = await setup(spec, {}, ({ host }) => {
      host.sources = { '/srv/private/vol': 'dir', '/b/motd': 'file' };
    });
    expect(log.slice(0, 6)).toEqual([
      FIFO, 'openTree /srv/private/vol recursive', 'openTree /b/motd', 'clone NEWNS|NEWUSER', `host.onPid ${PID}`, expect.stringMatching(/^host.writeIdMaps/),
    ]);
    expect(log.filter((l) => /data|motd/.test(l) && !l.startsWith('openTree'))).toEqual([
      'mkdirAll /data 0755 @root', 'moveMount 20 /data @root',
      'mount - /data - RDONLY|REMOUNT|BIND|REC - @root',
      'mkfile /etc/motd 0644 @root', 'moveMount 21 /etc/motd @root',
    ]);
  });

  it('rootless (not host root): dumpable only while the maps are written; devices bound even without a new user namespace', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    });
    expect((await setup(spec, { rootless: true })).log.slice(0, 7)).toEqual([
      FIFO, 'clone NEWNS|NEWUSER', `host.onPid ${PID}`, 'setDumpable true', `host.writeIdMaps ${PID} uid="0 1000 1\\n" gid="0 1000 1\\n"`, 'setDumpable false', 'becomeRoot',
    ]);
    // Binds are made inside, not cloned before with privileges the caller does not have.
    const withBind = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.mounts = [{ destination: '/data', type: 'bind', source: '/home/u/vol', options: ['rbind'] }];
    });
    const binds = (await setup(withBind, { rootless: true }, ({ host }) => { host.sources = { '/home/u/vol': 'dir' }; })).log;
    expect(binds.filter((l) => l.startsWith('openTree'))).toEqual([]);
    expect(binds).toContain('mount /home/u/vol /data - BIND|REC - @root');
    // Root of a user namespace (rootless podman): no new one, no maps, but mknod is still refused there.
    const { log } = await setup(minimal(), { rootless: true });
    expect(log).not.toContain('setDumpable true');
    expect(log.filter((l) => l.startsWith('bindDevice '))).toEqual(DEV_BINDS);
    expect(log.some((l) => l.startsWith('mknod '))).toBe(false);
  });

  it('a new user namespace that does not map root: no becomeRoot', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 1000, hostID: 100000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 1 }];
    });
    const { log } = await setup(spec);
    expect(log.slice(0, 5)).toEqual([FIFO, 'clone NEWNS|NEWUSER', `host.onPid ${PID}`, `host.writeIdMaps ${PID} uid="1000 100000 1\\n" gid="0 100000 1\\n"`, ROOTFS[0]]);
    expect(log).not.toContain('becomeRoot');
  });

  it('namespaces joined by path: one join request (user first), clone creates the rest', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces = [
        { type: 'mount' }, { type: 'network', path: '/run/netns/n' }, { type: 'ipc', path: '/proc/77/ns/ipc' },
        { type: 'user', path: '/proc/77/ns/user' }, { type: 'pid' },
      ];
    });
    expect((await setup(spec)).log).toEqual([
      FIFO,
      'joinNamespaces NEWUSER=/proc/77/ns/user NEWIPC=/proc/77/ns/ipc NEWNET=/run/netns/n',
      'clone NEWNS|NEWPID',
      `host.onPid ${PID}`,
      // A joined user namespace has its maps already; the init becomes its root.
      'becomeRoot',
      ...ROOTFS,
      ...DEV_BINDS,
      ...DEV_LINKS,
      ...RUNTIME_HOOKS,
      ...PIVOT,
      ...TRUE_PROCESS,
    ]);
  });

  it('bind mounts: relative sources from the bundle, flags by remount, propagation last', async () => {
    const spec = minimal((s) => {
      s.mounts = [
        { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rslave'] },
        { destination: '/etc/resolv.conf', type: 'none', source: '/etc/resolv.conf', options: ['bind', 'nosuid', 'nodev', 'private'] },
        { destination: '/opt//x/', source: '/src', options: ['rbind'] },
      ];
    });
    const r = await setup(spec, {}, ({ host }) => {
      host.sources = { '/b/data': 'dir', '/etc/resolv.conf': 'file', '/src': 'dir' };
    });
    expect(r.log).toEqual([
      FIFO,
      'clone NEWNS',
      `host.onPid ${PID}`,
      ...ROOTFS,
      'mkdirAll /data 0755 @root',
      'mount /b/data /data - BIND|REC - @root',
      'mount - /data - RDONLY|REMOUNT|BIND|REC - @root',
      'mount - /data - REC|SLAVE - @root',
      'mkfile /etc/resolv.conf 0644 @root',
      'mount /etc/resolv.conf /etc/resolv.conf - BIND - @root',
      'mount - /etc/resolv.conf - NOSUID|NODEV|REMOUNT|BIND - @root',
      'mount - /etc/resolv.conf - PRIVATE - @root',
      'mkdirAll /opt/x 0755 @root',
      'mount /src /opt/x - BIND|REC - @root',
      ...DEV_NODES,
      ...DEV_LINKS,
      ...RUNTIME_HOOKS,
      ...PIVOT,
      ...TRUE_PROCESS,
    ]);
    expect(r.host.queries.filter((q) => q.startsWith('statSource'))).toEqual(['statSource /b/data', 'statSource /etc/resolv.conf', 'statSource /src']);
  });

  it('--no-pivot: the host\'s whole proc and sysfs mounts outside the rootfs are detached, then chroot after moving the rootfs onto /', async () => {
    expect((await setup(minimal(), { noPivot: true }, ({ host }) => {
      host.procSysfs = ['/b/rootfs/proc', '/sys', '/proc'];
    })).log).toEqual([
      FIFO, 'clone NEWNS', `host.onPid ${PID}`, ...ROOTFS, ...DEV_NODES, ...DEV_LINKS, ...RUNTIME_HOOKS,
      'mkdirAll / 0755 @root',
      'mount - /sys - REC|SLAVE -', 'umount /sys 2',
      'mount - /proc - REC|SLAVE -', 'umount /proc 2',
      'chroot /b/rootfs move', ...TRUE_PROCESS,
    ]);
  });

  it('--no-pivot: a host proc that cannot be unmounted is covered by a tmpfs', async () => {
    const { log } = await setup(minimal(), { noPivot: true }, ({ host, ops }) => {
      host.procSysfs = ['/proc'];
      ops.failures.umount = new SyscallError('unmount /proc', 1);
    });
    expect(log.slice(log.indexOf('umount /proc 2'), log.indexOf('chroot /b/rootfs move') + 1)).toEqual([
      'umount /proc 2', 'mount tmpfs /proc tmpfs 0 -', 'chroot /b/rootfs move',
    ]);
  });

  it('no mount namespace: no propagation change or rootfs bind, a plain chroot', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces = [{ type: 'pid' }];
    });
    expect((await setup(spec)).log).toEqual([
      FIFO,
      'clone NEWPID', `host.onPid ${PID}`, 'setRoot /b/rootfs', ...DEV_NODES, ...DEV_LINKS, ...RUNTIME_HOOKS,
      'mkdirAll / 0755 @root', 'chroot /b/rootfs', ...TRUE_PROCESS,
    ]);
  });

  it('rootfsPropagation shared: / rshared, the mount holding the rootfs private before the bind, / shared at the end', async () => {
    const spec = minimal((s) => {
      s.linux!.rootfsPropagation = 'shared';
    });
    const r = await setup(spec, {}, ({ host }) => {
      host.mountPoints = { '/b/rootfs': '/b' };
    });
    expect(r.log.slice(0, 7)).toEqual([
      FIFO,
      'clone NEWNS',
      `host.onPid ${PID}`,
      'mount - / - REC|SHARED -',
      'mount - /b - PRIVATE -',
      'mount /b/rootfs /b/rootfs - BIND|REC -',
      'setRoot /b/rootfs',
    ]);
    // The root's own propagation is set last, after pivot_root and every bind of masked and read-only paths.
    const shared = r.log.indexOf('mount - / - SHARED -');
    expect(shared).toBeGreaterThan(r.log.indexOf('pivotRoot /b/rootfs'));
    expect(r.log.slice(shared + 1).filter((l) => /^(mount|maskPath|readonlyPath) /.test(l))).toEqual([]);
    expect(r.host.queries).toContain('mountPointOf /b/rootfs');
  });

  it('rootfsPropagation rshared with a rootfs that is a mount point itself: that mount is made private', async () => {
    // The bind of the rootfs onto itself stacks on the rootfs' own mount, which pivot_root then checks.
    const spec = minimal((s) => {
      s.linux!.rootfsPropagation = 'rshared';
    });
    const r = await setup(spec, {}, ({ host }) => {
      host.mountPoints = { '/b/rootfs': '/b/rootfs', '/b': '/' };
    });
    expect(r.log.slice(3, 6)).toEqual(['mount - / - REC|SHARED -', 'mount - /b/rootfs - PRIVATE -', 'mount /b/rootfs /b/rootfs - BIND|REC -']);
    expect(r.log.lastIndexOf('mount - / - REC|SHARED -')).toBeGreaterThan(r.log.indexOf('pivotRoot /b/rootfs'));
  });

  it.each([
    ['private', 'PRIVATE'], ['rprivate', 'REC|PRIVATE'], ['slave', 'SLAVE'], ['rslave', 'REC|SLAVE'], ['unbindable', 'UNBINDABLE'], ['runbindable', 'REC|UNBINDABLE'],
  ])('rootfsPropagation %s: rslave first (the rootfs bind must work), the value on the new root at the end', async (propagation, flags) => {
    const r = await setup(minimal((s) => {
      s.linux!.rootfsPropagation = propagation;
    }));
    expect(r.log.slice(3, 6)).toEqual(['mount - / - REC|SLAVE -', 'mount - / - PRIVATE -', 'mount /b/rootfs /b/rootfs - BIND|REC -']);
    const last = r.log.lastIndexOf(`mount - / - ${flags} -`);
    expect(last).toBeGreaterThan(r.log.indexOf('pivotRoot /b/rootfs'));
    expect(r.log.slice(last + 1).filter((l) => /^(mount|maskPath|readonlyPath) /.test(l))).toEqual([]);
  });

  it('a read-only root, hostname, domainname, sysctl, read-only and masked paths: in that order, after pivot_root', async () => {
    const spec = minimal((s) => {
      s.root!.readonly = true;
      s.hostname = 'box';
      s.domainname = 'example.org';
      s.linux!.namespaces!.push({ type: 'uts' });
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '8192' };
      s.linux!.readonlyPaths = ['/proc/sys'];
      s.linux!.maskedPaths = ['/proc/kcore', '/sys/firmware'];
    });
    expect((await setup(spec)).log).toEqual([
      FIFO,
      'clone NEWNS|NEWUTS', `host.onPid ${PID}`, ...ROOTFS, ...DEV_NODES, ...DEV_LINKS, ...RUNTIME_HOOKS, ...PIVOT,
      'readonlyPath /',
      'sethostname "box"',
      'setdomainname "example.org"',
      'writeFile /proc/sys/net/ipv4/ip_forward "1" @root',
      'writeFile /proc/sys/kernel/msgmax "8192" @root',
      'readonlyPath /proc/sys',
      'maskPath /proc/kcore',
      'maskPath /sys/firmware',
      ...TRUE_PROCESS,
    ]);
  });

  it('an empty hostname or domainname leaves the names alone', async () => {
    // Without a uts namespace, sethostname("") would clear the host's name.
    const { log } = await setup(minimal((s) => {
      s.hostname = '';
      s.domainname = '';
    }));
    expect(log.filter((l) => /^set(host|domain)name/.test(l))).toEqual([]);
  });

  it('a cgroup mount on a hybrid host, without a cgroup namespace: binds of the own cgroups on a tmpfs', async () => {
    const spec = minimal((s) => {
      s.mounts = [cgroupMount];
    });
    const ro = 'RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND|RELATIME';
    expect((await setup(spec, { cgroup: hybridCgroup, cgroupHierarchies: hybridHierarchies })).log).toEqual([
      FIFO,
      'clone NEWNS',
      `host.onPid ${PID}`,
      `host.joinCgroup ${PID}`,
      ...ROOTFS,
      'mkdirAll /sys/fs/cgroup 0755 @root',
      'mount tmpfs /sys/fs/cgroup tmpfs NOSUID|NODEV|NOEXEC|RELATIME mode=755 @root',
      'mkdirAll /sys/fs/cgroup/cpu,cpuacct 0755 @root',
      'mount /sys/fs/cgroup/cpu,cpuacct/ctr /sys/fs/cgroup/cpu,cpuacct - BIND|REC - @root',
      `mount - /sys/fs/cgroup/cpu,cpuacct - ${ro} - @root`,
      'symlink /sys/fs/cgroup/cpu -> cpu,cpuacct',
      'symlink /sys/fs/cgroup/cpuacct -> cpu,cpuacct',
      'mkdirAll /sys/fs/cgroup/memory 0755 @root',
      'mount /sys/fs/cgroup/memory/ctr /sys/fs/cgroup/memory - BIND|REC - @root',
      `mount - /sys/fs/cgroup/memory - ${ro} - @root`,
      'mkdirAll /sys/fs/cgroup/systemd 0755 @root',
      'mount /sys/fs/cgroup/systemd/ctr /sys/fs/cgroup/systemd - BIND|REC - @root',
      `mount - /sys/fs/cgroup/systemd - ${ro} - @root`,
      'mkdirAll /sys/fs/cgroup/unified 0755 @root',
      'mount /sys/fs/cgroup/unified/ctr /sys/fs/cgroup/unified - BIND|REC - @root',
      `mount - /sys/fs/cgroup/unified - ${ro} - @root`,
      `mount - /sys/fs/cgroup - ${ro} - @root`,
      ...DEV_NODES,
      ...DEV_LINKS,
      ...RUNTIME_HOOKS,
      ...PIVOT,
      ...TRUE_PROCESS,
    ]);
  });

  it('a cgroup mount on a hybrid host, with a cgroup namespace: fresh cgroup filesystems on a tmpfs', async () => {
    const spec = minimal((s) => {
      s.mounts = [cgroupMount];
      s.linux!.namespaces!.push({ type: 'cgroup' });
    });
    const flags = 'RDONLY|NOSUID|NODEV|NOEXEC|RELATIME';
    expect((await setup(spec, { cgroup: hybridCgroup, cgroupHierarchies: hybridHierarchies })).log).toEqual([
      FIFO,
      'clone NEWNS',
      `host.onPid ${PID}`,
      `host.joinCgroup ${PID}`,
      'unshare NEWCGROUP',
      ...ROOTFS,
      'mkdirAll /sys/fs/cgroup 0755 @root',
      'mount tmpfs /sys/fs/cgroup tmpfs NOSUID|NODEV|NOEXEC|RELATIME mode=755 @root',
      'mkdirAll /sys/fs/cgroup/cpu,cpuacct 0755 @root',
      `mount cgroup /sys/fs/cgroup/cpu,cpuacct cgroup ${flags} cpu,cpuacct @root`,
      'symlink /sys/fs/cgroup/cpu -> cpu,cpuacct',
      'symlink /sys/fs/cgroup/cpuacct -> cpu,cpuacct',
      'mkdirAll /sys/fs/cgroup/memory 0755 @root',
      `mount cgroup /sys/fs/cgroup/memory cgroup ${flags} memory @root`,
      'mkdirAll /sys/fs/cgroup/systemd 0755 @root',
      `mount cgroup /sys/fs/cgroup/systemd cgroup ${flags} name=systemd @root`,
      'mkdirAll /sys/fs/cgroup/unified 0755 @root',
      `mount cgroup /sys/fs/cgroup/unified cgroup2 ${flags} - @root`,
      'mount - /sys/fs/cgroup - RDONLY|NOSUID|NODEV|NOEXEC|REMOUNT|BIND|RELATIME - @root',
      ...DEV_NODES,
      ...DEV_LINKS,
      ...RUNTIME_HOOKS,
      ...PIVOT,
      ...TRUE_PROCESS,
    ]);
  });

  it('a read-write cgroup mount on a cgroup v2 host without a cgroup namespace: one bind, no read-only remount of a tmpfs', async () => {
    const spec = minimal((s) => {
      s.mounts = [{ destination: '/sys/fs/cgroup', type: 'cgroup2', source: 'cgroup', options: ['nosuid', 'rw'] }];
    });
    const { log } = await setup(spec, { cgroup: unifiedCgroup });
    expect(log.slice(0, 1 + 1 + 1 + 1 + ROOTFS.length + 3)).toEqual([
      FIFO,
      'setCloneCgroup /sys/fs/cgroup/ctr',
      'clone NEWNS',
      `host.onPid ${PID}`,
      ...ROOTFS,
      'mkdirAll /sys/fs/cgroup 0755 @root',
      'mount /sys/fs/cgroup/ctr /sys/fs/cgroup - BIND|REC - @root',
      'mount - /sys/fs/cgroup - NOSUID|REMOUNT|BIND - @root',
    ]);
    expect(log).not.toContain(`host.joinCgroup ${PID}`);
  });

  it('a time namespace: unshared by the init before clone, offsets written there', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { monotonic: { secs: 86400 }, boottime: { secs: 1, nanosecs: 5 } };
    });
    expect((await setup(spec)).log.slice(0, 5)).toEqual([
      FIFO,
      'unshare NEWTIME',
      'writeFile /proc/self/timens_offsets "monotonic 86400 0\\nboottime 1 5\\n"',
      'clone NEWNS',
      `host.onPid ${PID}`,
    ]);
  });

  it('oomScoreAdj is set from outside, after the cgroup join, before the cgroup namespace', async () => {
    const spec = minimal((s) => {
      s.process!.oomScoreAdj = -500;
      s.linux!.namespaces!.push({ type: 'cgroup' });
    });
    expect((await setup(spec, { cgroup: hybridCgroup })).log.slice(0, 6)).toEqual([
      FIFO,
      'clone NEWNS', `host.onPid ${PID}`, `host.joinCgroup ${PID}`, `host.setOomScoreAdj ${PID} -500`, 'unshare NEWCGROUP',
    ]);
  });

  it('a session keyring of its own, joined in the container before its root filesystem, searchable after the user changes', async () => {
    const spec = minimal((s) => s.linux!.namespaces!.push({ type: 'cgroup' }));
    expect((await setup(spec, { cgroup: hybridCgroup, sessionKeyring: '_ses.ctr' })).log.slice(0, 6)).toEqual([
      FIFO,
      'clone NEWNS', `host.onPid ${PID}`, `host.joinCgroup ${PID}`, 'joinSessionKeyring _ses.ctr +0x80000', 'unshare NEWCGROUP',
    ]);
    // In a user namespace the process's uid is not the key's: "other" gets search.
    const userns = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect((await setup(userns, { sessionKeyring: '_ses.ctr' })).log).toContain('joinSessionKeyring _ses.ctr +0x8');
    // --no-new-keyring: none.
    expect((await setup(spec, { cgroup: hybridCgroup })).log.filter((l) => l.includes('Keyring'))).toEqual([]);
  });

  it('hooks: createContainer runs in the container before pivot_root, startContainer is queued before finish', async () => {
    const spec = minimal((s) => {
      s.hooks = {
        createContainer: [{ path: '/bin/cc', args: ['cc', '-x'], env: ['A=1'], timeout: 3 }],
        startContainer: [{ path: '/bin/sc' }],
      };
    });
    expect((await setup(spec)).log.slice(-9)).toEqual([
      `host.runRuntimeHooks prestart ${PID}`,
      `host.runRuntimeHooks createRuntime ${PID}`,
      `runHook /bin/cc args=["cc","-x"] env=["A=1"] timeout=3 stdin=state(${PID},creating)`,
      'mkdirAll / 0755 @root',
      'pivotRoot /b/rootfs',
      'setExec ["true"] env=[] cwd=/',
      'setUser 0:0 umask=- groups=[] setgroups=true',
      `addHook /bin/sc args=[] env=[] timeout=0 stdin=state(${PID},created)`,
      'finish',
    ]);
  });

  it('no process (allowed at create): the init only holds the namespaces', async () => {
    const spec = minimal((s) => {
      delete s.process;
    });
    expect((await setup(spec)).log.slice(-3)).toEqual([...RUNTIME_HOOKS.slice(1), 'pivotRoot /b/rootfs', 'finish']);
  });
});

describe('setupContainer: devices', () => {
  it('adds the config\'s devices after the default ones; pipes get no device number', async () => {
    const spec = minimal((s) => {
      s.linux!.devices = [
        { type: 'b', path: '/dev/sda', major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
        { type: 'p', path: '/dev/fifo', fileMode: 0o600 },
        { type: 'c', path: '/dev/fuse', major: 10, minor: 229 },
      ];
    });
    const { log } = await setup(spec);
    const devices = log.filter((l) => l.startsWith('mknod'));
    expect(devices).toEqual([...DEV_NODES, 'mknod /dev/sda b 8:0 0660 0:6', 'mknod /dev/fifo p 0:0 0600 0:0', 'mknod /dev/fuse c 10:229 0666 0:0']);
  });

  it('a config entry for a default device path replaces the default', async () => {
    const spec = minimal((s) => {
      s.linux!.devices = [{ type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600, uid: 0, gid: 0 }];
    });
    const devices = (await setup(spec)).log.filter((l) => l.startsWith('mknod'));
    expect(devices.filter((l) => l.startsWith('mknod /dev/null'))).toEqual(['mknod /dev/null c 1:3 0600 0:0']);
    expect(devices).toHaveLength(DEV_NODES.length);
  });

  it('creates a path listed twice once', async () => {
    const spec = minimal((s) => {
      s.linux!.devices = [
        { type: 'c', path: '/dev/fuse', major: 10, minor: 229 },
        { type: 'c', path: '/dev//fuse', major: 10, minor: 229 },
      ];
    });
    expect((await setup(spec)).log.filter((l) => l.startsWith('mknod /dev/fuse'))).toHaveLength(1);
  });

  it('in a user namespace binds host nodes, but still makes pipes', async () => {
    const spec = minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user', path: '/proc/1/ns/user' });
      s.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }, { type: 'p', path: '/dev/fifo' }];
    });
    const { log } = await setup(spec);
    expect(log.filter((l) => /^(mknod|bindDevice)/.test(l))).toEqual([...DEV_BINDS, 'bindDevice /dev/fuse /dev/fuse', 'mknod /dev/fifo p 0:0 0666 0:0']);
  });

  it('makes no default devices or /dev links when /dev is bind-mounted', async () => {
    const spec = minimal((s) => {
      s.mounts = [{ destination: '/dev/', type: 'bind', source: '/dev', options: ['rbind'] }];
    });
    const { log } = await setup(spec, {}, ({ host }) => {
      host.sources = { '/dev': 'dir' };
    });
    expect(log.filter((l) => /^(mknod|bindDevice|symlink)/.test(l))).toEqual([]);
  });

  it('tmpcopyup: the tmpfs mount asks the init to copy the directory it covers', async () => {
    const { log } = await setup(minimal((s) => {
      s.mounts = [{ destination: '/var/cache', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid'] }];
    }));
    expect(log.filter((l) => l.includes('/var/cache'))).toEqual(['mkdirAll /var/cache 0755 @root', 'mount tmpfs /var/cache tmpfs NOSUID - @root copyup']);
  });

  it('recursive attributes: mount_setattr on the mount after it is made (and remounted), before propagation', async () => {
    const { log } = await setup(minimal((s) => {
      s.mounts = [{ destination: '/host', type: 'bind', source: '/srv', options: ['rbind', 'nosuid', 'rro', 'rnoexec', 'rslave'] }];
    }), {}, ({ host }) => { host.sources = { '/srv': 'dir' }; });
    expect(log.filter((l) => l.includes('/host'))).toEqual([
      'mkdirAll /host 0755 @root',
      'mount /srv /host - BIND|REC - @root',
      'mount - /host - NOSUID|REMOUNT|BIND|REC - @root',
      'mountSetattr /host set=0x9 clear=0x0 @root',
      'mount - /host - REC|SLAVE - @root',
    ]);
  });

  it('an id-mapped bind mount: cloned and id-mapped before clone, attached in place', async () => {
    const map = [{ containerID: 0, hostID: 1000, size: 10 }];
    const { log } = await setup(minimal((s) => {
      s.mounts = [
        { destination: '/own', type: 'bind', source: '/srv/a', options: ['rbind'], uidMappings: map, gidMappings: map },
        { destination: '/flat', type: 'bind', source: '/srv/b', options: ['rbind', 'idmap'], uidMappings: map, gidMappings: map },
      ];
    }), {}, ({ host }) => { host.sources = { '/srv/a': 'dir', '/srv/b': 'dir' }; });
    expect(log.slice(0, 4)).toEqual([
      FIFO,
      'openTree /srv/a recursive ridmap uid="0 1000 10\\n" gid="0 1000 10\\n"',
      'openTree /srv/b recursive idmap uid="0 1000 10\\n" gid="0 1000 10\\n"',
      'clone NEWNS',
    ]);
    expect(log).toContain('moveMount 20 /own @root');
    expect(log).toContain('moveMount 21 /flat @root');
  });

  it('idmap without mappings of its own takes the user namespace\'s, and needs some', async () => {
    const { error } = await setupFails(minimal((s) => {
      s.mounts = [{ destination: '/d', type: 'bind', source: '/srv/a', options: ['bind', 'idmap'] }];
    }), {}, ({ host }) => { host.sources = { '/srv/a': 'dir' }; });
    expect(error).toEqual(new TsruncError('mounts /d: an id-mapped mount needs uidMappings and gidMappings (its own, or the user namespace\'s)'));
  });

  it('a read-only /dev tmpfs is mounted writable, populated (devices, /dev/pts), then made read-only after pivot_root', async () => {
    const spec = minimal((s) => {
      s.mounts = [
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k', 'ro'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance'] },
      ];
    });
    const { log } = await setup(spec);
    expect(log).toEqual([
      FIFO, 'clone NEWNS', `host.onPid ${PID}`, ...ROOTFS,
      'mkdirAll /dev 0755 @root',
      'mount tmpfs /dev tmpfs NOSUID|STRICTATIME mode=755,size=65536k @root',
      'mkdirAll /dev/pts 0755 @root',
      'mount devpts /dev/pts devpts NOSUID|NOEXEC newinstance @root',
      ...DEV_NODES, ...DEV_LINKS, ...RUNTIME_HOOKS, ...PIVOT,
      'mount - /dev - RDONLY|NOSUID|REMOUNT|BIND|STRICTATIME - @root',
      ...TRUE_PROCESS,
    ]);
  });
});

describe('setupContainer: the process', () => {
  it('asks the container process\'s user namespace whether setgroups is allowed, and says so to the init', async () => {
    const r = await setup(minimal(), {}, (run) => { run.host.setgroupsDenied = true; });
    expect(r.host.queries).toContain(`setgroupsAllowed ${PID}`);
    expect(r.log).toContain('setUser 0:0 umask=- groups=[] setgroups=false');
  });

  it('refuses additional groups where setgroups is denied, as runc does, before the process is configured', async () => {
    const spec = minimal((s) => { s.process!.user.additionalGids = [5]; });
    const { error, log } = await setupFails(spec, {}, (run) => { run.host.setgroupsDenied = true; });
    expect(error).toBeInstanceOf(TsruncError);
    expect(error.message).toBe('process.user.additionalGids: setgroups(2) is denied in this user namespace (only your own gid is mapped); map a range of /etc/subgid in linux.gidMappings to use additional groups');
    expect(log.some((l) => l.startsWith('setUser'))).toBe(false);
  });

  it('passes user, umask, groups, capabilities, rlimits, preserved fds, console and seccomp, in that order', async () => {
    const spec = minimal((s) => {
      s.process = {
        terminal: true,
        consoleSize: { height: 24, width: 80 },
        user: { uid: 1000, gid: 1001, umask: 0o27, additionalGids: [5, 1002] },
        args: ['sh', '-c', 'echo hi'],
        env: ['A=1'],
        cwd: '/work',
        capabilities: { bounding: ['CAP_KILL', 'CAP_CHOWN'], inheritable: ['CAP_KILL'], permitted: ['CAP_KILL', 'CAP_CHOWN'], ambient: ['CAP_KILL', 'CAP_CHOWN'] },
        rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }, { type: 'RLIMIT_CORE', soft: 0, hard: 0 }],
        noNewPrivileges: true,
      };
    });
    const { log } = await setup(spec, { preserveFds: 2, console: { fd: 7 }, seccomp: { program: Buffer.alloc(16), flags: 0, notify: false } });
    expect(log.slice(-12)).toEqual([
      'mkdirAll /work 0755 @root',
      'pivotRoot /b/rootfs',
      'setExec ["sh","-c","echo hi"] env=["A=1"] cwd=/work',
      'setUser 1000:1001 umask=027 groups=[5,1002] setgroups=true',
      // Ambient CAP_CHOWN is dropped: it is not inheritable.
      'setCaps 0x21 0x0 0x20 0x21 0x20',
      'setRlimit RLIMIT_NOFILE 1024 4096',
      'setRlimit RLIMIT_CORE 0 0',
      'setNoNewPrivs',
      'setPreserveFds 2',
      'setConsole fd=7 24x80',
      'setSeccomp 16 bytes flags=0',
      'finish',
    ]);
  });

  it('logs ambient capabilities it cannot raise (debug) and unknown ones (warning)', async () => {
    const { log, lines } = recordingLogger();
    const spec = minimal((s) => {
      s.process!.capabilities = { bounding: ['CAP_KILL', 'CAP_NOPE'], ambient: ['CAP_KILL'] };
    });
    const r = await setup(spec, { log });
    expect(r.log).toContain('setCaps 0x20 0x0 0x0 0x0 0x0');
    expect(lines).toEqual([
      'warning: capabilities not supported by this kernel, dropped: CAP_NOPE',
      'debug: ambient capabilities not also inheritable and permitted are not raised (mask 0x20)',
    ]);
  });

  it('sends RLIM_INFINITY (18446744073709551615 in config.json) as all ones, not 0', async () => {
    const spec = minimal((s) => {
      s.process!.rlimits = JSON.parse('[{"type":"RLIMIT_MEMLOCK","soft":18446744073709551615,"hard":18446744073709551615}]');
    });
    expect((await setup(spec)).log).toContain('setRlimit RLIMIT_MEMLOCK 18446744073709551615 18446744073709551615');
  });

  it('connects a --console-socket path from the init first, while host paths resolve', async () => {
    const spec = minimal((s) => {
      s.process!.terminal = true;
    });
    const { log } = await setup(spec, { console: { path: '/run/console.sock' } });
    expect(log.slice(0, 2)).toEqual([FIFO, 'connectSocket /run/console.sock -> fd 10']);
    expect(log.slice(-2)).toEqual(['setConsole fd=10 0x0', 'finish']);
  });

  it('connects the seccomp listener first, and hands it the notify fd and the container process state last', async () => {
    const spec = minimal((s) => {
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/listener.sock' };
    });
    const r = await setup(spec, { seccomp: { program: Buffer.alloc(8), flags: 1, notify: true } });
    expect(r.log.slice(0, 2)).toEqual([FIFO, 'connectSocket /run/listener.sock -> fd 10']);
    expect(r.log.slice(-3)).toEqual(['setSeccomp 8 bytes flags=1', `setSeccompListener fd=10 state=listener-state(${PID})`, 'finish']);
  });

  it('connects no listener for a filter that does not notify', async () => {
    const spec = minimal((s) => {
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/listener.sock' };
    });
    const r = await setup(spec, { seccomp: { program: Buffer.alloc(8), flags: 0, notify: false } });
    expect(r.log.filter((l) => /^(connectSocket|setSeccompListener)/.test(l))).toEqual([]);
  });

  it('refuses SCMP_ACT_NOTIFY without a listener', async () => {
    const { error, log } = await setupFails(minimal(), { seccomp: { program: Buffer.alloc(8), flags: 0, notify: true } });
    expect(error).toEqual(new TsruncError('linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath'));
    expect(log).not.toContain('finish');
  });

  it('refuses a terminal without a console socket', async () => {
    const { error, log } = await setupFails(minimal((s) => {
      s.process!.terminal = true;
    }));
    expect(error).toEqual(new TsruncError('process.terminal is true but there is no console socket to send the pty to'));
    expect(log).not.toContain('finish');
  });
});

describe('setupContainer: errors stop the setup', () => {
  it('a bind mount whose source is missing', async () => {
    const { error, log } = await setupFails(minimal((s) => {
      s.mounts = [{ destination: '/data', type: 'bind', source: 'data' }];
    }));
    expect(error).toEqual(new TsruncError('mounts /data: bind source "/b/data" does not exist'));
    expect(log.at(-1)).toBe('setRoot /b/rootfs');
  });

  it('tmpcopyup on anything but a tmpfs', async () => {
    const { error } = await setupFails(minimal((s) => {
      s.mounts = [{ destination: '/tmp', type: 'bind', source: '/x', options: ['rbind', 'tmpcopyup'] }];
    }));
    expect(error).toEqual(new TsruncError('mounts /tmp: option "tmpcopyup" is only for tmpfs mounts'));
  });

  it('a cgroup mount without the container\'s cgroup', async () => {
    const { error } = await setupFails(minimal((s) => {
      s.mounts = [cgroupMount];
    }));
    expect(error).toEqual(new TsruncError('mounts /sys/fs/cgroup: a cgroup mount needs the container\'s cgroup'));
  });

  it('a read-only root without a mount namespace', async () => {
    const { error, log } = await setupFails(minimal((s) => {
      s.root!.readonly = true;
      s.linux!.namespaces = [];
    }));
    expect(error.message).toMatch(/^root\.readonly: a read-only root needs a mount namespace/);
    expect(log).toEqual([FIFO, 'clone 0', `host.onPid ${PID}`]);
  });

  it('a failed request: nothing after it is sent', async () => {
    const { error, log } = await setupFails(minimal(), {}, ({ ops }) => {
      ops.failures.pivotRoot = new Error('EINVAL');
    });
    expect(error.message).toBe('EINVAL');
    expect(log.at(-1)).toBe('pivotRoot /b/rootfs');
  });
});

describe('setupContainer: ordering rules, for every config', () => {
  const configs: [string, Spec, Partial<SetupOptions>][] = [
    ['runc default', runcDefault(), { cgroup: unifiedCgroup }],
    ['runc default on a hybrid host', runcDefault(), { cgroup: hybridCgroup, cgroupHierarchies: hybridHierarchies }],
    ['user namespace', minimal((s) => {
      s.linux!.namespaces!.push({ type: 'user' }, { type: 'cgroup' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux!.maskedPaths = ['/proc/kcore'];
    }), { cgroup: hybridCgroup }],
    ['joined namespaces', minimal((s) => {
      s.linux!.namespaces!.push({ type: 'network', path: '/run/netns/n' }, { type: 'cgroup' });
      s.linux!.readonlyPaths = ['/proc/sys'];
    }), { cgroup: hybridCgroup }],
    ['no pivot, read-only root', minimal((s) => {
      s.root!.readonly = true;
      s.linux!.readonlyPaths = ['/proc/sys'];
      s.linux!.maskedPaths = ['/proc/kcore'];
    }), { noPivot: true }],
  ];

  const index = (log: string[], re: RegExp) => log.findIndex((l) => re.test(l));
  const indexes = (log: string[], re: RegExp) => log.flatMap((l, i) => (re.test(l) ? [i] : []));

  it.each(configs)('%s', async (_, spec, options) => {
    const { log } = await setup(spec, options);
    const clone = index(log, /^clone /);
    const root = index(log, /^(pivotRoot|chroot) /);
    expect(clone).toBeGreaterThanOrEqual(0);
    expect(root).toBeGreaterThan(clone);
    // Nothing is mounted before the container process exists (in its own mount namespace).
    expect(indexes(log, /^mount /).every((i) => i > clone)).toBe(true);
    // The start fifo is opened first, while host paths resolve and the init is still the host's root.
    expect(index(log, /^setStartFifo /)).toBe(0);
    // The cgroup is joined before the cgroup namespace is made, so that it is the namespace's root.
    const unshareCgroup = index(log, /^unshare NEWCGROUP$/);
    const join = index(log, /^host\.joinCgroup /);
    if (unshareCgroup >= 0 && join >= 0) expect(join).toBeLessThan(unshareCgroup);
    if (unshareCgroup >= 0) expect(unshareCgroup).toBeGreaterThan(clone);
    // Id maps are written before the process does anything in its user namespace.
    const maps = index(log, /^host\.writeIdMaps /);
    if (maps >= 0) expect(maps).toBe(clone + 2);
    // Masked and read-only paths apply to the final root.
    expect(indexes(log, /^(maskPath|readonlyPath) /).every((i) => i > root)).toBe(true);
    expect(indexes(log, /^(maskPath|readonlyPath) /).length).toBeGreaterThan(0);
    // Runtime hooks see the container's namespaces, not yet its root.
    expect(index(log, /^host\.runRuntimeHooks createRuntime/)).toBeLessThan(root);
    expect(log.at(-1)).toBe('finish');
    expect(log.filter((l) => l === 'finish')).toHaveLength(1);
  });
});
