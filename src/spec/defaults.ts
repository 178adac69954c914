import type { Spec } from './types';
import { posix } from 'node:path';

export const OCI_VERSION = '1.3.0';

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export interface DefaultSpecOptions {
  /**
   * A cgroup namespace: runc's spec adds one only on cgroup v2 hosts. On v1 it changes what
   * /proc/self/cgroup shows inside and clashes with engines that add it themselves.
   */
  cgroupNamespace?: boolean;
}

/** What `tsrunc spec` writes: the same container `runc spec` describes, at spec 1.3.0. */
export function defaultSpec(o: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS], ambient: [...DEFAULT_CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsrunc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (o.cgroupNamespace === false) spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
  return spec;
}

/**
 * `spec --rootless`, as runc's: a user namespace mapping root to the given
 * ids; no network namespace (it would have no way out); a cgroup namespace
 * only on a cgroup v2 host; /sys bound from the host (sysfs cannot be mounted
 * without owning the network namespace); no uid=/gid= mount options (those
 * ids are not mapped); no cgroup resources. The cgroup mount stays: it shows
 * the container's cgroup, or the caller's when it has none of its own.
 */
export function rootlessSpec(uid: number, gid: number, cgroupV2: boolean): Spec {
  const spec = defaultSpec({ cgroupNamespace: cgroupV2 });
  const linux = spec.linux!;
  linux.namespaces = linux.namespaces!.filter((n) => n.type !== 'network' && n.type !== 'user' && (cgroupV2 || n.type !== 'cgroup')).concat({ type: 'user' });
  linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  delete linux.resources;
  spec.mounts = spec.mounts!.map((m) => posix.normalize(m.destination).replace(/(.)\/$/, '$1') === '/sys'
    ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
    : m.options ? { ...m, options: m.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid=')) } : m);
  return spec;
}
