/**
 * The host-side system calls that Node does not offer, through koffi (an FFI
 * over libc). All FFI declarations live here so the choice of FFI stays
 * swappable. Loading koffi costs ~8 ms, so nothing loads it until a caller
 * needs one of these calls: `state` and `list` never do.
 *
 * Every function throws a SyscallError carrying errno on failure.
 */
import type * as Koffi from 'koffi';
import { SyscallError } from './errors';

export const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NONBLOCK = 0o4000, O_DIRECTORY = 0o200000, O_CLOEXEC = 0o2000000, O_PATH = 0o10000000;
export const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
export const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000;
export const F_GETFD = 1, F_SETFD = 2, F_ADD_SEALS = 1033;
export const F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
export const MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
export const POLLIN = 1, POLLHUP = 0x10;
const PR_SET_CHILD_SUBREAPER = 36;
const SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434;

interface Bindings {
  koffi: typeof Koffi;
  socketpair: Koffi.KoffiFunction;
  flock: Koffi.KoffiFunction;
  prctl: Koffi.KoffiFunction;
  syscall: Koffi.KoffiFunction;
  fcntl: Koffi.KoffiFunction;
  execve: Koffi.KoffiFunction;
  mkfifo: Koffi.KoffiFunction;
  poll: Koffi.KoffiFunction;
  memfd_create: Koffi.KoffiFunction;
  statfs: Koffi.KoffiFunction;
  umount2: Koffi.KoffiFunction;
}

let bound: Bindings | undefined;

function libc(): Bindings {
  if (bound) return bound;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  bound = {
    koffi,
    socketpair: lib.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
    flock: lib.func('int flock(int fd, int op)'),
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    syscall: lib.func('long syscall(long number, ...)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
    execve: lib.func('int execve(const char *path, const char **argv, const char **envp)'),
    mkfifo: lib.func('int mkfifo(const char *path, uint32_t mode)'),
    poll: lib.func('int poll(_Inout_ uint8_t *fds, unsigned long n, int timeout)'),
    memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    statfs: lib.func('int statfs(const char *path, _Out_ uint8_t *buf)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
  };
  return bound;
}

function check(result: number | bigint, step: string, detail?: string): number {
  const n = Number(result);
  if (n < 0) throw new SyscallError(step, libc().koffi.errno(), detail);
  return n;
}

/** A connected pair of unix stream sockets, both close-on-exec. */
export function socketpair(): [number, number] {
  const sv = [0, 0];
  check(libc().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
  return [sv[0], sv[1]];
}

/** flock(2); with LOCK_NB returns false instead of blocking when the lock is held. */
export function flock(fd: number, op: number): boolean {
  const r = libc().flock(fd, op) as number;
  if (r < 0) {
    const errno = libc().koffi.errno();
    if (errno === 11 /* EWOULDBLOCK */ && op & LOCK_NB) return false;
    throw new SyscallError('flock', errno);
  }
  return true;
}

export function setChildSubreaper(): void {
  check(libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 'prctl(PR_SET_CHILD_SUBREAPER)');
}

export function pidfdOpen(pid: number): number {
  return check(libc().syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0), 'pidfd_open', `pid ${pid}`);
}

export function pidfdSendSignal(pidfd: number, signal: number): void {
  check(libc().syscall(SYS_pidfd_send_signal, 'int', pidfd, 'int', signal, 'void *', null, 'unsigned int', 0), 'pidfd_send_signal');
}

export function setCloexec(fd: number, on: boolean): void {
  check(libc().fcntl(fd, F_SETFD, 'int', on ? 1 : 0), 'fcntl(F_SETFD)');
}

export function addSeals(fd: number, seals: number): void {
  check(libc().fcntl(fd, F_ADD_SEALS, 'int', seals), 'fcntl(F_ADD_SEALS)');
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
    const r = libc().poll(buf, 1, timeoutMs) as number;
    if (r < 0 && libc().koffi.errno() === 4 /* EINTR */) continue;
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
  const r = Number(libc().syscall(SYS_ioctl, 'int', fd, 'unsigned long', NS_GET_NSTYPE));
  if (r >= 0) return r;
  const errno = libc().koffi.errno();
  if (errno === 25 /* ENOTTY */ || errno === 22 /* EINVAL */) return undefined;
  throw new SyscallError('ioctl(NS_GET_NSTYPE)', errno);
}

/**
 * Replaces this process (same pid, one thread afterwards). Node marks its
 * stdio close-on-exec, so fds that must survive are cleared first.
 */
export function execve(path: string, argv: string[], env: string[], keepFds: number[]): never {
  for (const fd of keepFds) setCloexec(fd, false);
  libc().execve(path, [...argv, null], [...env, null]);
  throw new SyscallError('execve', libc().koffi.errno(), path);
}

export const MNT_DETACH = 2;

export function umount2(target: string, flags: number): void {
  check(libc().umount2(target, flags), 'umount2', target);
}

const SYS_ioprio_set = 251, SYS_sched_setattr = 314, IOPRIO_WHO_PROCESS = 1;

export function ioprioSet(pid: number, ioprio: number): void {
  check(libc().syscall(SYS_ioprio_set, 'int', IOPRIO_WHO_PROCESS, 'int', pid, 'int', ioprio), 'ioprio_set', `pid ${pid}`);
}

/** sched_setattr(2) with a struct sched_attr already laid out in attr. */
export function schedSetattr(pid: number, attr: Buffer): void {
  check(libc().syscall(SYS_sched_setattr, 'int', pid, 'void *', attr, 'unsigned int', 0), 'sched_setattr', `pid ${pid}`);
}
