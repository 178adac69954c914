/**
 * The host-side libc calls that Node and Bun do not offer, through the FFI
 * seam (ffi.ts). Nothing is bound until a caller needs one of these calls:
 * `state` and `list` never do.
 *
 * Every function throws a SyscallError carrying errno on failure.
 */
import { constants as osConstants } from 'node:os';
import { SyscallError } from './errors';
import { ffi, type NativeFunction, type Signature } from './ffi';

export const O_RDONLY = 0, O_NONBLOCK = 0o4000, O_DIRECTORY = 0o200000, O_CLOEXEC = 0o2000000;
export const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000;
const F_SETFD = 2, F_ADD_SEALS = 1033;
export const F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
export const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
export const POLLIN = 1;
const PR_SET_CHILD_SUBREAPER = 36;
const SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434;

const libcSignatures = {
  socketpair: { args: ['i32', 'i32', 'i32', 'ptr'], returns: 'i32' },
  flock: { args: ['i32', 'i32'], returns: 'i32' },
  prctl: { args: ['i32', 'u64', 'u64', 'u64', 'u64'], returns: 'i32' },
  // Variadic in C (the third argument is an int for every command used here).
  fcntl: { args: ['i32', 'i32', 'i32'], returns: 'i32' },
  execve: { args: ['cstring', 'strv', 'strv'], returns: 'i32' },
  mkfifo: { args: ['cstring', 'u32'], returns: 'i32' },
  poll: { args: ['ptr', 'u64', 'i32'], returns: 'i32' },
  memfd_create: { args: ['cstring', 'u32'], returns: 'i32' },
  statfs: { args: ['cstring', 'ptr'], returns: 'i32' },
  umount2: { args: ['cstring', 'i32'], returns: 'i32' },
} satisfies Record<string, Signature>;

let bound: Record<keyof typeof libcSignatures, NativeFunction> | undefined;

function libc(): Record<keyof typeof libcSignatures, NativeFunction> {
  return (bound ??= ffi().bindLibrary('libc.so.6', libcSignatures));
}

function check(result: ReturnType<NativeFunction>, step: string, detail?: string): number {
  const n = Number(result);
  if (n < 0) throw new SyscallError(step, ffi().errno(), detail);
  return n;
}

/** A connected pair of unix stream sockets, both close-on-exec. */
export function socketpair(): [number, number] {
  const sv = Buffer.alloc(8);
  check(libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}

/** flock(2); with LOCK_NB returns false instead of blocking when the lock is held. */
export function flock(fd: number, op: number): boolean {
  const r = Number(libc().flock(fd, op));
  if (r < 0) {
    const errno = ffi().errno();
    if (errno === osConstants.errno.EWOULDBLOCK && op & LOCK_NB) return false;
    throw new SyscallError('flock', errno);
  }
  return true;
}

export function setChildSubreaper(): void {
  check(libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 'prctl(PR_SET_CHILD_SUBREAPER)');
}

export function pidfdOpen(pid: number): number {
  return check(ffi().syscall(SYS_pidfd_open, pid, 0), 'pidfd_open', `pid ${pid}`);
}

export function pidfdSendSignal(pidfd: number, signal: number): void {
  check(ffi().syscall(SYS_pidfd_send_signal, pidfd, signal, null, 0), 'pidfd_send_signal');
}

function setCloexec(fd: number, on: boolean): void {
  check(libc().fcntl(fd, F_SETFD, on ? 1 : 0), 'fcntl(F_SETFD)');
}

export function addSeals(fd: number, seals: number): void {
  check(libc().fcntl(fd, F_ADD_SEALS, seals), 'fcntl(F_ADD_SEALS)');
}

export function memfdCreate(name: string, flags: number): number {
  return check(libc().memfd_create(name, flags), 'memfd_create');
}

export function mkfifo(path: string, mode: number): void {
  check(libc().mkfifo(path, mode), 'mkfifo', path);
}

/** poll(2) on one fd; returns revents (0 on timeout). */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const buf = Buffer.alloc(8);
  buf.writeInt32LE(fd, 0);
  buf.writeInt16LE(events, 4);
  for (;;) {
    const r = Number(libc().poll(buf, 1, timeoutMs));
    if (r < 0 && ffi().errno() === osConstants.errno.EINTR) continue;
    check(r, 'poll');
    return r === 0 ? 0 : buf.readInt16LE(6);
  }
}

/** The filesystem magic number of path (statfs f_type). */
export function statfsType(path: string): bigint {
  const buf = Buffer.alloc(128);
  check(libc().statfs(path, buf), 'statfs', path);
  return buf.readBigInt64LE(0);
}

const SYS_ioctl = 16, NS_GET_NSTYPE = 0xb703;

/**
 * The CLONE_NEW* type of the namespace fd refers to (ioctl NS_GET_NSTYPE),
 * or undefined when fd is not a namespace file (ENOTTY: any other file).
 * Works for /proc/<pid>/ns links and for their bind mounts alike.
 */
export function namespaceType(fd: number): number | undefined {
  const r = ffi().syscall(SYS_ioctl, fd, NS_GET_NSTYPE);
  if (r >= 0) return r;
  const errno = ffi().errno();
  if (errno === 25 /* ENOTTY */ || errno === 22 /* EINVAL */) return undefined;
  throw new SyscallError('ioctl(NS_GET_NSTYPE)', errno);
}

/**
 * Replaces this process (same pid, one thread afterwards). Node marks its
 * stdio close-on-exec, so fds that must survive are cleared first.
 */
export function execve(path: string, argv: string[], env: string[], keepFds: number[]): never {
  for (const fd of keepFds) setCloexec(fd, false);
  libc().execve(path, argv, env);
  throw new SyscallError('execve', ffi().errno(), path);
}

export const MNT_DETACH = 2;

export function umount2(target: string, flags: number): void {
  check(libc().umount2(target, flags), 'umount2', target);
}

const SYS_ioprio_set = 251, SYS_sched_setattr = 314, IOPRIO_WHO_PROCESS = 1;

export function ioprioSet(pid: number, ioprio: number): void {
  check(ffi().syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, ioprio), 'ioprio_set', `pid ${pid}`);
}

/** sched_setattr(2) with a struct sched_attr already laid out in attr. */
export function schedSetattr(pid: number, attr: Buffer): void {
  check(ffi().syscall(SYS_sched_setattr, pid, attr, 0), 'sched_setattr', `pid ${pid}`);
}
