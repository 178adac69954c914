import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makedev } from '../../src/linux/constants';
import { RLIMITS, rlimitNumber } from '../../src/linux/rlimits';

describe('makedev', () => {
  it('encodes small numbers as major<<8 | minor', () => {
    expect(makedev(1, 3)).toBe(0x103n);
    expect(makedev(5, 0)).toBe(0x500n);
    expect(makedev(0, 0)).toBe(0n);
  });

  it('agrees with the kernel on real device nodes', () => {
    expect(makedev(1, 3)).toBe(BigInt(statSync('/dev/null').rdev));
    expect(makedev(1, 5)).toBe(BigInt(statSync('/dev/zero').rdev));
  });

  it('splits large majors and minors as glibc does', () => {
    // glibc: ((ma & 0xfff) << 8) | ((ma & ~0xfff) << 32) | (mi & 0xff) | ((mi & ~0xff) << 12)
    expect(makedev(0x1234, 0)).toBe((0x234n << 8n) | (0x1000n << 32n));
    expect(makedev(0, 0x12345)).toBe(0x45n | (0x12300n << 12n));
    expect(makedev(259, 65536)).toBe(0x10300n | (0x10000n << 12n));
  });
});

describe('rlimits', () => {
  it('numbers RLIMIT_* in kernel order', () => {
    expect(RLIMITS).toHaveLength(16);
    expect(rlimitNumber('RLIMIT_CPU')).toBe(0);
    expect(rlimitNumber('RLIMIT_CORE')).toBe(4);
    expect(rlimitNumber('RLIMIT_NPROC')).toBe(6);
    expect(rlimitNumber('RLIMIT_NOFILE')).toBe(7);
    expect(rlimitNumber('RLIMIT_MEMLOCK')).toBe(8);
    expect(rlimitNumber('RLIMIT_RTTIME')).toBe(15);
  });

  it('knows no other names', () => {
    expect(rlimitNumber('RLIMIT_NOPE')).toBeUndefined();
    expect(rlimitNumber('NOFILE')).toBeUndefined();
    expect(rlimitNumber('rlimit_nofile')).toBeUndefined();
  });
});
