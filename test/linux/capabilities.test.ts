import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CAPABILITIES, CAPABILITY_SETS, capabilityMasks, isKnownCapability, lastCapability } from '../../src/linux/capabilities';

describe('CAPABILITIES', () => {
  it('is in kernel order: the index is the capability number', () => {
    expect(CAPABILITIES).toHaveLength(41);
    expect(CAPABILITIES.indexOf('CAP_CHOWN')).toBe(0);
    expect(CAPABILITIES.indexOf('CAP_KILL')).toBe(5);
    expect(CAPABILITIES.indexOf('CAP_NET_BIND_SERVICE')).toBe(10);
    expect(CAPABILITIES.indexOf('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.indexOf('CAP_AUDIT_WRITE')).toBe(29);
    expect(CAPABILITIES.indexOf('CAP_SETFCAP')).toBe(31);
    expect(CAPABILITIES.indexOf('CAP_AUDIT_READ')).toBe(37);
    expect(CAPABILITIES.indexOf('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(new Set(CAPABILITIES).size).toBe(CAPABILITIES.length);
  });

  it('lists the sets in the order tsrunc-init takes them', () => {
    expect(CAPABILITY_SETS).toEqual(['bounding', 'effective', 'inheritable', 'permitted', 'ambient']);
  });
});

describe('isKnownCapability', () => {
  it('knows exact upper-case names only', () => {
    expect(isKnownCapability('CAP_SYS_ADMIN')).toBe(true);
    expect(isKnownCapability('CAP_BPF')).toBe(true);
    expect(isKnownCapability('cap_sys_admin')).toBe(false);
    expect(isKnownCapability('SYS_ADMIN')).toBe(false);
    expect(isKnownCapability('CAP_NOPE')).toBe(false);
  });
});

describe('lastCapability', () => {
  it('reads the running kernel', () => {
    expect(lastCapability()).toBe(Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
  });
});

describe('capabilityMasks', () => {
  it('builds one mask per set, in set order; absent sets are 0', () => {
    const { masks, unsupported } = capabilityMasks({
      bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_AUDIT_WRITE'],
      effective: ['CAP_KILL'],
      permitted: ['CAP_SYS_ADMIN', 'CAP_CHECKPOINT_RESTORE'],
      ambient: [],
    }, 40);
    expect(masks).toEqual([0x20000021n, 0x20n, 0n, (1n << 21n) | (1n << 40n), 0n]);
    expect(unsupported).toEqual([]);
  });

  it('counts a capability named twice once', () => {
    expect(capabilityMasks({ bounding: ['CAP_KILL', 'CAP_KILL'] }, 40).masks[0]).toBe(0x20n);
  });

  it('drops and reports, once each, names above the kernel\'s last capability', () => {
    const { masks, unsupported } = capabilityMasks({
      bounding: ['CAP_KILL', 'CAP_PERFMON', 'CAP_BPF'],
      effective: ['CAP_PERFMON'],
    }, 37);
    expect(masks).toEqual([0x20n, 0n, 0n, 0n, 0n]);
    expect(unsupported).toEqual(['CAP_PERFMON', 'CAP_BPF']);
  });

  it('drops and reports names nobody knows', () => {
    const { masks, unsupported } = capabilityMasks({ ambient: ['CAP_NOPE', 'CAP_CHOWN'] }, 40);
    expect(masks[4]).toBe(1n);
    expect(unsupported).toEqual(['CAP_NOPE']);
  });
});
