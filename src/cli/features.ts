import { tsruncVersion } from '../sys/runtime';
import { CAPABILITIES } from '../linux/capabilities';
import { KNOWN_MOUNT_OPTIONS } from '../linux/mounts';
import { NAMESPACE_FLAGS } from '../linux/namespaces';
import { ACTIONS, CONFIG_FLAGS, OPERATORS } from '../seccomp/filter';
import { OCI_VERSION } from '../spec/defaults';

/** Architectures libseccomp knows by name (SCMP_ARCH_*), as the spec spells them. */
const SECCOMP_ARCHS = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
];

/**
 * The `tsrunc features` document: what this build recognises and implements.
 * Fields tsrunc refuses (intelRdt, netDevices, memoryPolicy) are reported as
 * not enabled; the systemd cgroup driver is system-wide only (systemdUser: no
 * rootless user-manager support).
 */
export function featuresDocument(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: KNOWN_MOUNT_OPTIONS,
    linux: {
      namespaces: Object.keys(NAMESPACE_FLAGS).sort(),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: true },
      seccomp: {
        enabled: true,
        actions: Object.keys(ACTIONS).sort(),
        operators: Object.keys(OPERATORS).sort(),
        archs: SECCOMP_ARCHS,
        knownFlags: [...CONFIG_FLAGS],
        supportedFlags: [...CONFIG_FLAGS],
      },
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: true } },
      netDevices: { enabled: false },
    },
    annotations: { 'io.github.tsrunc.version': tsruncVersion() },
    potentiallyUnsafeConfigAnnotations: [],
  };
}
