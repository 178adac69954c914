import { describe, expect, it } from 'vitest';
import { CGROUP_ROOT, detectMode, parseHierarchies, parseProcCgroup } from '../../src/cgroups/detect';

const CGROUP2 = 0x63677270n;
const TMPFS = 0x01021994n;
const SYSFS = 0x62656572n;

/** A statfs stand-in: path -> magic; other paths fail as statfs would. */
function statfs(magics: Record<string, bigint>): (path: string) => bigint {
  return (path) => {
    const m = magics[path];
    if (m === undefined) throw new Error(`statfs ${path}: ENOENT`);
    return m;
  };
}

describe('detectMode', () => {
  it('is unified when /sys/fs/cgroup is cgroup2', () => {
    expect(detectMode(statfs({ '/sys/fs/cgroup': CGROUP2 }))).toBe('unified');
  });

  it('is hybrid when it is a tmpfs with cgroup2 at unified/', () => {
    expect(detectMode(statfs({ '/sys/fs/cgroup': TMPFS, '/sys/fs/cgroup/unified': CGROUP2 }))).toBe('hybrid');
  });

  it('is legacy when it is a tmpfs without cgroup2 at unified/', () => {
    expect(detectMode(statfs({ '/sys/fs/cgroup': TMPFS }))).toBe('legacy');
    expect(detectMode(statfs({ '/sys/fs/cgroup': TMPFS, '/sys/fs/cgroup/unified': TMPFS }))).toBe('legacy');
  });

  it('refuses anything else, naming the magic number', () => {
    expect(() => detectMode(statfs({ '/sys/fs/cgroup': SYSFS }))).toThrow('/sys/fs/cgroup is neither cgroup2 nor a tmpfs of cgroup hierarchies (magic 0x62656572)');
  });

  it('looks under the given root', () => {
    expect(detectMode(statfs({ '/x': TMPFS, '/x/unified': CGROUP2 }), '/x')).toBe('hybrid');
    expect(CGROUP_ROOT).toBe('/sys/fs/cgroup');
  });
});

// A hybrid host, as /proc/self/mountinfo shows it (plus a few awkward mounts).
const HYBRID = [
  '22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
  // The same hierarchy mounted elsewhere first: the mount under /sys/fs/cgroup wins.
  '29 1 0:27 / /run/other\\040place rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct',
  '31 25 0:28 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children',
  '32 25 0:29 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,devices,release_agent=/sbin/x',
  '33 25 0:30 /docker/abc /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory,noprefix',
  '34 1 0:31 / /mnt/my\\040pids rw,relatime - cgroup cgroup rw,pids',
  '',
].join('\n');

describe('parseHierarchies', () => {
  it('finds each cgroup hierarchy once, with its controllers, key, mount point and root', () => {
    expect(parseHierarchies(HYBRID)).toEqual([
      { controllers: [], key: '', version: 2, mountPoint: '/sys/fs/cgroup/unified', mountRoot: '/' },
      { controllers: ['name=systemd'], key: 'name=systemd', version: 1, mountPoint: '/sys/fs/cgroup/systemd', mountRoot: '/' },
      { controllers: ['cpu', 'cpuacct'], key: 'cpu,cpuacct', version: 1, mountPoint: '/sys/fs/cgroup/cpu,cpuacct', mountRoot: '/' },
      { controllers: ['cpuset'], key: 'cpuset', version: 1, mountPoint: '/sys/fs/cgroup/cpuset', mountRoot: '/' },
      { controllers: ['devices'], key: 'devices', version: 1, mountPoint: '/sys/fs/cgroup/devices', mountRoot: '/' },
      { controllers: ['memory'], key: 'memory', version: 1, mountPoint: '/sys/fs/cgroup/memory', mountRoot: '/docker/abc' },
      // Only mounted outside /sys/fs/cgroup: kept, with its octal escapes decoded.
      { controllers: ['pids'], key: 'pids', version: 1, mountPoint: '/mnt/my pids', mountRoot: '/' },
    ]);
  });

  it('keeps the first mount when none is under /sys/fs/cgroup', () => {
    const text = [
      '1 0 0:27 / /a rw - cgroup cgroup rw,cpu',
      '2 0 0:27 / /b rw - cgroup cgroup rw,cpu',
    ].join('\n');
    expect(parseHierarchies(text).map((h) => h.mountPoint)).toEqual(['/a']);
  });

  it('finds the one cgroup2 hierarchy of a unified host', () => {
    const text = '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
    expect(parseHierarchies(text)).toEqual([{ controllers: [], key: '', version: 2, mountPoint: '/sys/fs/cgroup', mountRoot: '/' }]);
  });

  it('handles optional fields before the separator', () => {
    const text = '40 25 0:40 / /sys/fs/cgroup/pids rw shared:1 master:2 propagate_from:3 - cgroup cgroup rw,pids';
    expect(parseHierarchies(text)).toEqual([{ controllers: ['pids'], key: 'pids', version: 1, mountPoint: '/sys/fs/cgroup/pids', mountRoot: '/' }]);
  });

  it('finds nothing in text without cgroup mounts', () => {
    expect(parseHierarchies('')).toEqual([]);
    expect(parseHierarchies('22 1 0:21 / /sys rw - sysfs sysfs rw\n')).toEqual([]);
  });
});

describe('parseProcCgroup', () => {
  it('maps each hierarchy key to the path, "" for cgroup2', () => {
    const text = '12:cpu,cpuacct:/user.slice\n11:name=systemd:/user.slice/session-1.scope\n4:memory:/docker/a:b\n0::/user.slice/session-1.scope\n';
    expect(Object.fromEntries(parseProcCgroup(text))).toEqual({
      'cpu,cpuacct': '/user.slice',
      'name=systemd': '/user.slice/session-1.scope',
      memory: '/docker/a:b',
      '': '/user.slice/session-1.scope',
    });
  });

  it('ignores lines that are not entries', () => {
    expect(parseProcCgroup('\ngarbage\n0::/\n').size).toBe(1);
  });
});
