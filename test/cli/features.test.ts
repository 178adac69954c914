import { describe, expect, it } from 'vitest';
import { featuresDocument } from '../../src/cli/features';
import { CAPABILITIES } from '../../src/linux/capabilities';
import { KNOWN_MOUNT_OPTIONS } from '../../src/linux/mounts';

// The validator is compiled at build time into dist/ (see test/config/validate.test.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { validateDocument } = require('../../dist/config/validate.js') as typeof import('../../src/config/validate');

describe('tsrunc features', () => {
  const doc = featuresDocument() as Record<string, any>;

  it('is a valid runtime-spec features document', () => {
    expect(validateDocument('features', doc)).toEqual([]);
  });

  it('says what this build does and does not do', () => {
    expect(doc.ociVersionMax).toBe('1.3.0');
    expect(doc.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(doc.mountOptions).toEqual(KNOWN_MOUNT_OPTIONS);
    expect(doc.linux.namespaces).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
    expect(doc.linux.capabilities).toEqual([...CAPABILITIES]);
    expect(doc.linux.seccomp.actions).toContain('SCMP_ACT_NOTIFY');
    expect(doc.linux.seccomp.operators).toHaveLength(7);
    expect(doc.linux.cgroup).toMatchObject({ v1: true, v2: true, systemd: true, systemdUser: false });
    // Refused by validation, so reported as not enabled.
    expect(doc.linux.intelRdt.enabled).toBe(false);
    expect(doc.linux.netDevices.enabled).toBe(false);
    expect(doc.linux.mountExtensions.idmap.enabled).toBe(true);
  });
});
