import { closeSync, readSync, writeSync } from 'node:fs';
import { decodeReply, encodeRequest, Op, OPT_IN_ROOT, OPT_SRC_IN_ROOT, type Field } from './protocol';
import type { HookRequest, InitOps, MountRequest, UserRequest } from './ops';
import { SyscallError, TsruncError } from '../sys/errors';

/**
 * InitOps over the socket to tsrunc-init. Calls are synchronous: each
 * request waits for its reply, and a CLI has nothing else to do meanwhile.
 * Errors name the step ("mount proc on /proc: mount: EPERM (...)").
 */
export class InitChannel implements InitOps {
  private closed = false;

  constructor(private readonly fd: number) {}

  close(): void {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }

  private call(op: Op, fields: Field[], step: string): number {
    const frame = encodeRequest(op, fields);
    try {
      for (let off = 0; off < frame.length;) off += writeSync(this.fd, frame, off);
    } catch {
      throw new TsruncError(`${step}: the container's init process exited`);
    }
    const header = this.readExactly(4, step);
    const reply = decodeReply(this.readExactly(header.readUInt32LE(0), step));
    if (reply.errno !== 0) throw new SyscallError(step, reply.errno, reply.detail || undefined);
    return reply.value;
  }

  /** After finish() for exec: EOF means execve succeeded (the socket is close-on-exec); a frame is its error. */
  awaitExec(step: string): void {
    const header = Buffer.alloc(4);
    const n = this.readSome(header);
    if (n === 0) return;
    const body = Buffer.concat([header.subarray(0, n), this.readExactly(4 - n, step)]);
    const reply = decodeReply(this.readExactly(body.readUInt32LE(0), step));
    throw new SyscallError(step, reply.errno, reply.detail || undefined);
  }

  private readSome(buf: Buffer): number {
    for (;;) {
      try {
        return readSync(this.fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN' || (err as NodeJS.ErrnoException).code === 'EINTR') continue;
        if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') return 0;
        throw err;
      }
    }
  }

  private readExactly(n: number, step: string): Buffer {
    const buf = Buffer.alloc(n);
    for (let off = 0; off < n;) {
      const r = this.readSome(buf.subarray(off));
      if (r === 0) throw new TsruncError(`${step}: the container's init process exited`);
      off += r;
    }
    return buf;
  }

  joinNamespaces(namespaces: { flag: number; path: string }[]): void {
    this.call(Op.JoinNamespaces, [namespaces.length, ...namespaces.flatMap((n) => [n.flag, n.path])], 'join namespaces');
  }
  unshare(flags: number): void {
    this.call(Op.Unshare, [flags], `unshare 0x${flags.toString(16)}`);
  }
  clone(flags: number, cgroupDir = ''): number {
    return this.call(Op.Clone, [flags, cgroupDir], 'clone the container process');
  }
  writeFile(path: string, data: string, inRoot: boolean): void {
    this.call(Op.WriteFile, [path, data, inRoot ? OPT_IN_ROOT : 0], `write ${path}`);
  }
  mount(m: MountRequest): void {
    const what = m.flags & 0x20 /* MS_REMOUNT */ ? `remount ${m.target}` : `mount ${m.source || m.fstype || ''} on ${m.target}`;
    this.call(Op.Mount, [m.source ?? '', m.target, m.fstype ?? '', m.flags, m.data ?? '', (m.inRoot ? OPT_IN_ROOT : 0) | (m.sourceInRoot ? OPT_SRC_IN_ROOT : 0)], what);
  }
  umount(target: string, flags: number, inRoot: boolean): void {
    this.call(Op.Umount, [target, flags, inRoot ? OPT_IN_ROOT : 0], `unmount ${target}`);
  }
  mkdirAll(path: string, mode: number, inRoot: boolean): void {
    this.call(Op.MkdirAll, [path, mode, inRoot ? OPT_IN_ROOT : 0], `create directory ${path}`);
  }
  mkfile(path: string, mode: number, inRoot: boolean): void {
    this.call(Op.Mkfile, [path, mode, inRoot ? OPT_IN_ROOT : 0], `create file ${path}`);
  }
  mknod(path: string, mode: number, dev: bigint, uid: number, gid: number): void {
    this.call(Op.Mknod, [path, mode, dev, uid, gid, OPT_IN_ROOT], `create device ${path}`);
  }
  bindDevice(hostPath: string, target: string): void {
    this.call(Op.BindDevice, [hostPath, target], `bind device ${hostPath} to ${target}`);
  }
  symlink(target: string, link: string): void {
    this.call(Op.Symlink, [target, link, OPT_IN_ROOT], `symlink ${link} -> ${target}`);
  }
  setRoot(path: string): void {
    this.call(Op.SetRoot, [path], `open rootfs ${path}`);
  }
  pivotRoot(path: string): void {
    this.call(Op.PivotRoot, [path], `pivot_root to ${path}`);
  }
  chroot(path: string, move: boolean): void {
    this.call(Op.Chroot, [path, move ? 1 : 0], `chroot to ${path}`);
  }
  becomeRoot(): void {
    this.call(Op.BecomeRoot, [], 'become root in the user namespace');
  }
  sethostname(name: string): void {
    this.call(Op.Sethostname, [name], `set hostname ${JSON.stringify(name)}`);
  }
  setdomainname(name: string): void {
    this.call(Op.Setdomainname, [name], `set domainname ${JSON.stringify(name)}`);
  }
  maskPath(path: string): void {
    this.call(Op.MaskPath, [path], `mask ${path}`);
  }
  readonlyPath(path: string): void {
    this.call(Op.ReadonlyPath, [path], `make ${path} read-only`);
  }
  setExec(args: string[], env: string[], cwd: string): void {
    this.call(Op.SetExec, [args, env, cwd], 'set the process');
  }
  setUser(u: UserRequest): void {
    this.call(Op.SetUser, [u.uid, u.gid, u.umask === undefined ? -1n : u.umask, u.setgroups ? 1 : 0, u.additionalGids.map(String)], 'set the user');
  }
  setCaps(masks: bigint[]): void {
    this.call(Op.SetCaps, masks, 'set capabilities');
  }
  setRlimit(resource: number, soft: bigint, hard: bigint): void {
    this.call(Op.SetRlimit, [resource, soft, hard], `set rlimit ${resource}`);
  }
  setNoNewPrivs(): void {
    this.call(Op.SetNoNewPrivs, [], 'set no_new_privs');
  }
  setSeccomp(program: Buffer, flags: number): void {
    this.call(Op.SetSeccomp, [program, flags], 'set the seccomp filter');
  }
  setSeccompListener(fd: number, state: string): void {
    this.call(Op.SetSeccompListener, [fd, state], 'set the seccomp listener');
  }
  setStartFifo(dir: string): void {
    this.call(Op.SetStartFifo, [dir], 'open the start fifo');
  }
  setPreserveFds(count: number): void {
    this.call(Op.SetPreserveFds, [count], 'preserve fds');
  }
  setConsole(fd: number, rows: number, cols: number): void {
    this.call(Op.SetConsole, [fd, rows, cols], 'set the console');
  }
  addHook(h: HookRequest): void {
    this.call(Op.AddHook, hookFields(h), `add hook ${h.path}`);
  }
  runHook(h: HookRequest): void {
    this.call(Op.RunHook, hookFields(h), `run hook ${h.path}`);
  }
  finish(): void {
    this.call(Op.Finish, [], 'start the container process');
  }
}

/** The hook's path, then its argv (args as the spec gives them: args[0] is the program's name). */
function hookFields(h: HookRequest): Field[] {
  return [[h.path, ...(h.args.length ? h.args : [h.path])], h.env, h.timeout, h.stdin];
}
