import { readFileSync } from 'node:fs';
import type { Capabilities, CapabilitySet } from '../spec/types';

/** Capability names in kernel order: the index is the capability number. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export const CAPABILITY_SETS: CapabilitySet[] = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'];

export function isKnownCapability(name: string): boolean {
  return (CAPABILITIES as readonly string[]).includes(name);
}

/** The highest capability number the running kernel knows. */
export function lastCapability(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return CAPABILITIES.length - 1;
  }
}

/**
 * The five sets as bit masks, in the order tsrunc-init takes them. Names the
 * running kernel does not know are dropped and reported, as runc does; names
 * nobody knows were already rejected by validation.
 */
export function capabilityMasks(caps: Capabilities, kernelLast = lastCapability(), grantable = ~0n): { masks: bigint[]; unsupported: string[]; withheld: string[] } {
  const unsupported = new Set<string>();
  const withheld = new Set<string>();
  const masks = CAPABILITY_SETS.map((set) => {
    let mask = 0n;
    for (const name of caps[set] ?? []) {
      const n = (CAPABILITIES as readonly string[]).indexOf(name);
      if (n < 0 || n > kernelLast) unsupported.add(name);
      // A capability outside our own bounding set cannot be granted (capset fails): the spec asks for a warning, not a failure.
      else if (!((grantable >> BigInt(n)) & 1n)) withheld.add(name);
      else mask |= 1n << BigInt(n);
    }
    return mask;
  });
  return { masks, unsupported: [...unsupported], withheld: [...withheld] };
}

/** The bounding set of a process: what it, and anything it starts, can ever hold. */
export function boundingSet(pid: number | 'self' = 'self'): bigint {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : ~0n;
}
