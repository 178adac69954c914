/**
 * bpf(2) for cgroup v2 device filters, through the FFI seam: load a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, attach it to a cgroup directory,
 * list and detach the ones attached before. The bpf_attr unions are laid out
 * by hand in Buffers; pointers inside them point at pinned memory that does
 * not move while the kernel reads it.
 */
import { closeSync, openSync, constants } from 'node:fs';
import { constants as os } from 'node:os';
import { SyscallError } from './errors';
import { ffi } from './ffi';

const SYS_bpf = 321; // x86_64
const BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_DETACH = 9, BPF_PROG_GET_FD_BY_ID = 13, BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2, BPF_F_REPLACE = 4;
const { EAGAIN, ENOSPC, EBADF, EACCES, EINVAL, EPERM } = os.errno;

/** One bpf(2) call; attr is copied to pinned memory and back, so what the kernel writes (query counts) is seen. */
function bpf(cmd: number, attr: Buffer, step: string): number {
  const mem = ffi().pinned(attr.length);
  try {
    for (let tries = 0; ; tries++) {
      attr.copy(mem.buffer);
      const r = ffi().syscall(SYS_bpf, cmd, mem.address, attr.length);
      const errno = r < 0 ? ffi().errno() : 0;
      mem.buffer.copy(attr);
      if (r >= 0) return r;
      // The verifier may be interrupted by a signal (EAGAIN): retry, as runc does.
      if (errno === EAGAIN && cmd === BPF_PROG_LOAD && tries < 30) continue;
      throw new SyscallError(step, errno);
    }
  } finally {
    mem.free();
  }
}

/** Loads a BPF_PROG_TYPE_CGROUP_DEVICE program; on a verifier error, the verifier's log is in the message. */
function loadDeviceProgram(insns: Buffer, license = 'Apache'): number {
  const code = ffi().pinned(insns.length);
  const lic = ffi().pinned(license.length + 1);
  try {
    insns.copy(code.buffer);
    lic.buffer.write(license, 'latin1');
    const attr = Buffer.alloc(48);
    attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
    attr.writeUInt32LE(insns.length / 8, 4);
    attr.writeBigUInt64LE(code.address, 8);
    attr.writeBigUInt64LE(lic.address, 16);
    try {
      return bpf(BPF_PROG_LOAD, attr, 'bpf(BPF_PROG_LOAD)');
    } catch (err) {
      if (!(err instanceof SyscallError) || (err.errno !== EACCES && err.errno !== EINVAL)) throw err; // the verifier said no
      // Again with the verifier log, for the error message.
      const log = ffi().pinned(64 * 1024);
      try {
        attr.writeUInt32LE(1, 24);
        attr.writeUInt32LE(log.buffer.length, 28);
        attr.writeBigUInt64LE(log.address, 32);
        try {
          return bpf(BPF_PROG_LOAD, attr, 'bpf(BPF_PROG_LOAD)');
        } catch (again) {
          const text = log.buffer.toString('latin1');
          const end = text.indexOf('\0');
          if (!(again instanceof SyscallError)) throw again;
          throw new SyscallError('bpf(BPF_PROG_LOAD)', again.errno, `verifier: ${text.slice(0, end < 0 ? undefined : end).trim()}`, { cause: again });
        }
      } finally {
        log.free();
      }
    }
  } finally {
    code.free();
    lic.free();
  }
}

function attach(cgroupFd: number, progFd: number, flags: number, replaceFd = 0): void {
  const attr = Buffer.alloc(20);
  attr.writeUInt32LE(cgroupFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  attr.writeUInt32LE(flags, 12);
  attr.writeUInt32LE(replaceFd, 16);
  bpf(BPF_PROG_ATTACH, attr, 'bpf(BPF_PROG_ATTACH)');
}

function detach(cgroupFd: number, progFd: number): void {
  const attr = Buffer.alloc(12);
  attr.writeUInt32LE(cgroupFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  bpf(BPF_PROG_DETACH, attr, 'bpf(BPF_PROG_DETACH)');
}

/** The ids of the BPF_CGROUP_DEVICE programs attached to a cgroup (directly, not inherited); the VM checks (test/cgroups/vm/v2-checks.cjs) read them too. */
export function queryDevicePrograms(cgroupFd: number): number[] {
  for (let size = 64, tries = 0; tries < 10; tries++) {
    const ids = ffi().pinned(size * 4);
    try {
      // Sized to the kernel's whole query struct: v6.17+ writes `revision` at offset 56 whatever size is passed.
      const attr = Buffer.alloc(64);
      attr.writeUInt32LE(cgroupFd, 0);
      attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
      attr.writeBigUInt64LE(ids.address, 16);
      attr.writeUInt32LE(size, 24);
      try {
        bpf(BPF_PROG_QUERY, attr, 'bpf(BPF_PROG_QUERY)');
      } catch (err) {
        if (err instanceof SyscallError && err.errno === ENOSPC) {
          size = attr.readUInt32LE(24);
          continue;
        }
        throw err;
      }
      const count = attr.readUInt32LE(24);
      const view = ids.buffer;
      return Array.from({ length: count }, (_, i) => view.readUInt32LE(i * 4));
    } finally {
      ids.free();
    }
  }
  throw new SyscallError('bpf(BPF_PROG_QUERY)', ENOSPC, 'the list of attached programs keeps changing');
}

function progFdById(id: number): number {
  const attr = Buffer.alloc(12);
  attr.writeUInt32LE(id, 0);
  return bpf(BPF_PROG_GET_FD_BY_ID, attr, 'bpf(BPF_PROG_GET_FD_BY_ID)');
}

let replaceSupported: boolean | undefined;

/** Whether BPF_F_REPLACE exists (5.6+): attaching with it to a non-cgroup fd gives EBADF, without it EINVAL. */
function haveReplace(probeProgFd: number): boolean {
  if (replaceSupported !== undefined) return replaceSupported;
  const devnull = openSync('/dev/null', constants.O_RDONLY);
  try {
    attach(devnull, probeProgFd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, probeProgFd);
    replaceSupported = false; // cannot succeed on /dev/null; be safe
  } catch (err) {
    replaceSupported = err instanceof SyscallError && err.errno === EBADF;
  } finally {
    closeSync(devnull);
  }
  return replaceSupported;
}

/**
 * Installs the device filter on a cgroup directory, replacing whatever
 * device programs were attached to it before (one: atomically with
 * BPF_F_REPLACE; several: the new one first, then the old ones detached, so
 * there is no moment without a filter).
 */
export function attachDeviceFilter(cgroupDir: string, insns: Buffer): void {
  const dirFd = openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
  const oldFds: number[] = [];
  let progFd = -1;
  try {
    for (const id of queryDevicePrograms(dirFd)) {
      try {
        oldFds.push(progFdById(id));
      } catch (err) {
        // A program we may not touch (an LSM says no) only adds restrictions: leave it.
        if (!(err instanceof SyscallError && (err.errno === EPERM || err.errno === EACCES))) throw err;
      }
    }
    progFd = loadDeviceProgram(insns);
    if (oldFds.length === 1 && haveReplace(progFd)) {
      attach(dirFd, progFd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, oldFds[0]);
      return;
    }
    attach(dirFd, progFd, BPF_F_ALLOW_MULTI);
    for (const fd of oldFds) detach(dirFd, fd);
  } finally {
    if (progFd >= 0) closeSync(progFd);
    for (const fd of oldFds) closeSync(fd);
    closeSync(dirFd);
  }
}
