import { describe, expect, it } from 'vitest';
import { MOUNT_ATTR, MS } from '../../src/linux/constants';
import { KNOWN_MOUNT_OPTIONS, PROPAGATION_OPTIONS, cleanPath, isAtOrBelow, mountPointsOf, parseMountOptions, fullProcSysfsMounts } from '../../src/linux/mounts';
import type { Mount } from '../../src/spec/types';

const parse = (options: string[], type = 'tmpfs') => parseMountOptions({ destination: '/m', type, source: 'x', options });

describe('parseMountOptions', () => {
  it('gives an empty result for no options', () => {
    expect(parseMountOptions({ destination: '/m', type: 'proc' })).toEqual({
      flags: 0, propagation: [], data: '', bind: false, recursive: false, tmpcopyup: false,
    });
  });

  it('maps flag options to MS_* bits', () => {
    expect(parse(['nosuid', 'nodev', 'noexec', 'ro']).flags).toBe(MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY);
    expect(parse(['strictatime']).flags).toBe(MS.STRICTATIME);
    expect(parse(['relatime', 'noatime', 'nodiratime']).flags).toBe(MS.RELATIME | MS.NOATIME | MS.NODIRATIME);
    expect(parse(['sync', 'dirsync', 'mand', 'iversion', 'lazytime', 'silent', 'nosymfollow', 'remount']).flags)
      .toBe(MS.SYNCHRONOUS | MS.DIRSYNC | MS.MANDLOCK | MS.I_VERSION | MS.LAZYTIME | MS.SILENT | MS.NOSYMFOLLOW | MS.REMOUNT);
  });

  it('lets a later clearing option undo an earlier one, in order', () => {
    expect(parse(['ro', 'rw']).flags).toBe(0);
    expect(parse(['rw', 'ro']).flags).toBe(MS.RDONLY);
    expect(parse(['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'noatime', 'atime']).flags).toBe(0);
    expect(parse(['sync', 'async', 'loud']).flags).toBe(0);
    expect(parse(['defaults']).flags).toBe(0);
  });

  it('passes unknown options to the filesystem as comma-joined data, in order', () => {
    const o = parse(['nosuid', 'mode=755', 'size=65536k', 'ro', 'uid=5']);
    expect(o.data).toBe('mode=755,size=65536k,uid=5');
    expect(o.flags).toBe(MS.NOSUID | MS.RDONLY);
  });

  it('recognises bind by type or option, and rbind as recursive', () => {
    expect(parseMountOptions({ destination: '/m', type: 'bind', source: '/s' })).toMatchObject({ bind: true, recursive: false, flags: 0 });
    expect(parse(['bind'], 'none')).toMatchObject({ bind: true, recursive: false });
    expect(parse(['rbind'], 'none')).toMatchObject({ bind: true, recursive: true });
    expect(parse(['rbind'], 'none').flags).toBe(0);
  });

  it('collects propagation changes separately, one per option, in order', () => {
    expect(parse(['rslave', 'shared']).propagation).toEqual([MS.SLAVE | MS.REC, MS.SHARED]);
    expect(parse(['private', 'rprivate', 'unbindable', 'runbindable', 'slave', 'rshared']).propagation).toEqual([
      MS.PRIVATE, MS.PRIVATE | MS.REC, MS.UNBINDABLE, MS.UNBINDABLE | MS.REC, MS.SLAVE, MS.SHARED | MS.REC,
    ]);
    expect(parse(['rslave']).flags).toBe(0);
  });

  it('flags tmpcopyup (a tmpfs copies what it covers)', () => {
    expect(parse(['tmpcopyup']).tmpcopyup).toBe(true);
    expect(parse(['tmpcopyup']).data).toBe('');
  });

  it('collects recursive attributes as mount_setattr set and clear masks, a later option undoing an earlier one', () => {
    expect(parse(['rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnodiratime', 'rnosymfollow']).recursiveAttrs)
      .toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW, clear: 0 });
    expect(parse(['rro', 'rrw']).recursiveAttrs).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
    expect(parse(['rsuid', 'rdev', 'rexec', 'rdiratime', 'rsymfollow']).recursiveAttrs)
      .toEqual({ set: 0, clear: MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW });
    expect(parse(['rro']).flags).toBe(0);
    expect(parse(['ro']).recursiveAttrs).toBeUndefined();
  });

  it('sets one access-time mode: its bits set, the whole field cleared', () => {
    expect(parse(['rnoatime']).recursiveAttrs).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR._ATIME });
    expect(parse(['rstrictatime']).recursiveAttrs).toEqual({ set: MOUNT_ATTR.STRICTATIME, clear: MOUNT_ATTR._ATIME });
    expect(parse(['rnoatime', 'rrelatime']).recursiveAttrs).toEqual({ set: MOUNT_ATTR.RELATIME, clear: MOUNT_ATTR._ATIME });
    expect(parse(['rnoatime', 'ratime']).recursiveAttrs).toEqual({ set: 0, clear: MOUNT_ATTR._ATIME });
  });

  it('flags idmap and ridmap', () => {
    expect(parse(['rbind', 'idmap'], 'none').idmap).toBe('idmap');
    expect(parse(['bind', 'ridmap'], 'none').idmap).toBe('ridmap');
    expect(parse(['ridmap']).data).toBe('');
  });

  it('does not take names of Object.prototype members for options', () => {
    // "constructor" and friends are data for the filesystem, not flag or propagation options.
    const o = parse(['constructor', 'toString', '__proto__']);
    expect(o).toEqual({ flags: 0, propagation: [], data: 'constructor,toString,__proto__', bind: false, recursive: false, tmpcopyup: false });
  });

  it('lists every option it understands itself, sorted', () => {
    expect(KNOWN_MOUNT_OPTIONS).toEqual([...KNOWN_MOUNT_OPTIONS].sort());
    for (const o of ['ro', 'rw', 'nosuid', 'bind', 'rbind', ...Object.keys(PROPAGATION_OPTIONS)]) {
      expect(KNOWN_MOUNT_OPTIONS).toContain(o);
    }
    expect(KNOWN_MOUNT_OPTIONS).not.toContain('mode');
    for (const o of ['tmpcopyup', 'idmap', 'ridmap', 'rro', 'rnosymfollow']) expect(KNOWN_MOUNT_OPTIONS).toContain(o);
  });

  it('does not mutate the mount', () => {
    const m: Mount = { destination: '/m', type: 'tmpfs', options: ['ro', 'size=1m'] };
    parseMountOptions(m);
    expect(m).toEqual({ destination: '/m', type: 'tmpfs', options: ['ro', 'size=1m'] });
  });
});

describe('cleanPath', () => {
  it.each([
    ['/', '/'],
    ['', '/'],
    ['/dev', '/dev'],
    ['/dev/', '/dev'],
    ['dev', '/dev'],
    ['/a//b/./c', '/a/b/c'],
    ['/a/b/../c/', '/a/c'],
    ['/../..', '/'],
    ['/a/../../b', '/b'],
    ['/dev/../dev/./pts', '/dev/pts'],
  ])('%j -> %j', (input, out) => {
    expect(cleanPath(input)).toBe(out);
  });
});

describe('mountinfo', () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '40 22 0:35 / /run/my\\040bundle/rootfs rw shared:2 - tmpfs tmpfs rw',
    '41 40 0:36 / /run/my\\040bundle/rootfs/back\\134slash rw - tmpfs tmpfs rw',
    '',
  ].join('\n');

  it('lists mount points in order, unescaped (\\040 space, \\134 backslash)', () => {
    expect(mountPointsOf(mountinfo)).toEqual(['/', '/run/my bundle/rootfs', '/run/my bundle/rootfs/back\\slash']);
  });

  it('isAtOrBelow compares whole path components', () => {
    expect(isAtOrBelow('/run/a', '/run/a')).toBe(true);
    expect(isAtOrBelow('/run/a/b', '/run/a')).toBe(true);
    expect(isAtOrBelow('/run/a/b', '/')).toBe(true);
    expect(isAtOrBelow('/run/ab', '/run/a')).toBe(false);
    expect(isAtOrBelow('/run', '/run/a')).toBe(false);
  });
});

describe('fullProcSysfsMounts', () => {
  it('lists whole proc and sysfs mounts, deepest first, and no partial ones or other types', () => {
    const info = [
      '22 1 0:5 / /proc rw,nosuid - proc proc rw',
      '23 1 0:6 / /sys rw - sysfs sysfs rw',
      '24 23 0:7 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
      '25 1 0:5 /sys /mnt/procsys rw - proc proc rw',
      '26 1 0:8 / /b/root\\040fs/proc rw - proc proc rw',
      '27 1 0:6 / /b/sys shared:1 master:2 - sysfs sysfs rw',
    ].join('\n');
    expect(fullProcSysfsMounts(info)).toEqual(['/b/root fs/proc', '/b/sys', '/proc', '/sys']);
  });
});
