import { describe, expect, it } from 'vitest';
import { OCI_VERSION, defaultSpec, rootlessSpec } from '../../src/spec/defaults';

const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

describe('defaultSpec', () => {
  const s = defaultSpec();

  it('is at spec 1.3.0', () => {
    expect(OCI_VERSION).toBe('1.3.0');
    expect(s.ociVersion).toBe('1.3.0');
  });

  it("runs sh as root on a terminal, as runc spec's does", () => {
    expect(s.process).toEqual({
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS, ambient: CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    });
  });

  it('has a read-only rootfs/ and the hostname', () => {
    expect(s.root).toEqual({ path: 'rootfs', readonly: true });
    expect(s.hostname).toBe('tsrunc');
  });

  it("has runc's mounts, in order", () => {
    expect(s.mounts!.map((m) => `${m.destination} ${m.type} ${m.source} ${(m.options ?? []).join(',')}`)).toEqual([
      '/proc proc proc ',
      '/dev tmpfs tmpfs nosuid,strictatime,mode=755,size=65536k',
      '/dev/pts devpts devpts nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5',
      '/dev/shm tmpfs shm nosuid,noexec,nodev,mode=1777,size=65536k',
      '/dev/mqueue mqueue mqueue nosuid,noexec,nodev',
      '/sys sysfs sysfs nosuid,noexec,nodev,ro',
      '/sys/fs/cgroup cgroup cgroup nosuid,noexec,nodev,relatime,ro',
    ]);
  });

  it('has new pid, network, ipc, uts, mount and cgroup namespaces, and no user namespace', () => {
    expect(s.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
    expect(s.linux!.namespaces!.every((n) => n.path === undefined)).toBe(true);
    expect(s.linux!.uidMappings).toBeUndefined();
  });

  it('denies all devices, masks and write-protects the usual paths', () => {
    expect(s.linux!.resources).toEqual({ devices: [{ allow: false, access: 'rwm' }] });
    expect(s.linux!.maskedPaths).toEqual([
      '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
      '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
    ]);
    expect(s.linux!.readonlyPaths).toEqual(['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  });

  it('returns a fresh object each time, capability lists included', () => {
    const a = defaultSpec();
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    a.mounts!.pop();
    a.linux!.namespaces!.pop();
    expect(defaultSpec()).toEqual(s);
    expect(s.process!.capabilities!.effective).toEqual(CAPS);
    expect(s.process!.capabilities!.bounding).not.toBe(s.process!.capabilities!.effective);
  });
});

describe('defaultSpec on a cgroup v1 or hybrid host', () => {
  it('has no cgroup namespace (runc adds one only on cgroup v2)', () => {
    expect(defaultSpec({ cgroupNamespace: false }).linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(rootlessSpec(1000, 1000, false).linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
  });
});

describe('rootlessSpec', () => {
  const s = rootlessSpec(1000, 1001, false);

  it('adds a user namespace mapping root to the given ids, and drops the network namespace (and the cgroup one on v1)', () => {
    expect(s.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    expect(rootlessSpec(1000, 1001, true).linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user']);
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
  });

  it("has no cgroup resources, and keeps the read-only cgroup mount (as runc's)", () => {
    expect(s.linux!.resources).toBeUndefined();
    expect(s.mounts!.find((m) => m.type === 'cgroup')).toEqual(defaultSpec().mounts!.find((m) => m.type === 'cgroup'));
  });

  it('binds /sys instead of mounting sysfs, and drops gid=5 from devpts', () => {
    expect(s.mounts!.find((m) => m.destination === '/sys')).toEqual({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    expect(s.mounts!.find((m) => m.destination === '/dev/pts')!.options).toEqual(['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620']);
    expect(s.mounts!.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
  });

  it('keeps the rest of the default', () => {
    const d = defaultSpec();
    expect(s.process).toEqual(d.process);
    expect(s.root).toEqual(d.root);
    expect(s.linux!.maskedPaths).toEqual(d.linux!.maskedPaths);
    expect(s.linux!.readonlyPaths).toEqual(d.linux!.readonlyPaths);
  });
});
