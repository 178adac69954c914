import type { Duplex } from 'node:stream';
import { decodeReply, encodeRequest, FrameSplitter, OPT_COPY_UP, OPT_IN_ROOT, OPT_SRC_IN_ROOT, type FieldValues, type Reply, type RequestName } from './protocol';
import type { HookRequest, IdmapRequest, InitOps, MountRequest, UserRequest } from './ops';
import { SyscallError, TsruncError } from '../sys/errors';

/**
 * InitOps over the socketpair connected to tsrunc-init. Requests go one at
 * a time: each waits for its reply. Errors name the step
 * ("mount proc on /proc: mount: EPERM (...)").
 */
export class InitChannel implements InitOps {
  private readonly splitter = new FrameSplitter();
  /** Whole frames no reader has taken yet. */
  private frames: Buffer[] = [];
  private ended = false;
  /** Readers of frames, first come first served (calls are made one at a time; a queue keeps it safe anyway). */
  private waiting: { resolve: (frame: Buffer | undefined) => void }[] = [];

  constructor(private readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.frames.push(...this.splitter.push(chunk));
      this.deliver();
    });
    const end = () => {
      this.ended = true;
      this.deliver();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  close(): void {
    this.stream.destroy();
  }

  /** The next whole frame, or undefined at EOF. */
  private nextFrame(): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      this.waiting.push({ resolve });
      this.deliver();
    });
  }

  private deliver(): void {
    while (this.waiting.length && this.frames.length) this.waiting.shift()!.resolve(this.frames.shift());
    if (this.ended) for (const w of this.waiting.splice(0)) w.resolve(undefined);
  }

  /** Bytes that arrived and no reply took: at EOF, a reply cut short. */
  private get partial(): boolean {
    return this.frames.length > 0 || this.splitter.pending > 0;
  }

  private async call<N extends RequestName>(name: N, fields: FieldValues<N>, step: string): Promise<number> {
    if (this.ended) throw new TsruncError(`${step}: the container's init process exited`);
    this.stream.write(encodeRequest(name, fields));
    const reply = await this.reply(step);
    if (!reply) throw new TsruncError(`${step}: the container's init process exited`);
    return reply.value;
  }

  private async reply(step: string): Promise<Reply | undefined> {
    const frame = await this.nextFrame();
    if (!frame) return undefined;
    const reply = decodeReply(frame);
    if (reply.errno !== 0) throw new SyscallError(step, reply.errno, reply.detail || undefined);
    return reply;
  }

  /** After finish() without a start fifo (exec): EOF means execve succeeded (the socket is close-on-exec); a frame is its error. */
  async awaitExec(step: string): Promise<void> {
    await this.reply(step);
    if (this.partial) throw new TsruncError(`${step}: the container's init process exited in the middle of a reply`);
  }

  async joinNamespaces(namespaces: { flag: number; path: string }[]): Promise<void> {
    await this.call('JoinNamespaces', [namespaces.map((n): [number, string] => [n.flag, n.path])], 'join namespaces');
  }
  async unshare(flags: number): Promise<void> {
    await this.call('Unshare', [flags], `unshare 0x${flags.toString(16)}`);
  }
  openTree(path: string, recursive: boolean, idmap?: IdmapRequest): Promise<number> {
    return this.call('OpenTree', [path, recursive ? 1 : 0, idmap?.uidMap ?? '', idmap?.gidMap ?? '', idmap?.recursive ? 1 : 0], `open the bind source ${path}`);
  }
  async mountSetattr(target: string, set: number, clear: number): Promise<void> {
    await this.call('MountSetattr', [target, set, clear, OPT_IN_ROOT], `set recursive mount attributes on ${target}`);
  }
  async moveMount(fd: number, target: string): Promise<void> {
    await this.call('MoveMount', [fd, target, OPT_IN_ROOT], `bind mount on ${target}`);
  }
  async loopbackUp(): Promise<void> {
    await this.call('LoopbackUp', [], 'bring lo up');
  }
  async setCloneCgroup(dir: string): Promise<void> {
    await this.call('SetCloneCgroup', [dir], `open cgroup ${dir}`);
  }
  clone(flags: number): Promise<number> {
    return this.call('Clone', [flags], 'clone the container process');
  }
  async writeFile(path: string, data: string, inRoot: boolean): Promise<void> {
    await this.call('WriteFile', [path, data, inRoot ? OPT_IN_ROOT : 0], `write ${path}`);
  }
  async mount(m: MountRequest): Promise<void> {
    const what = m.flags & 0x20 /* MS_REMOUNT */ ? `remount ${m.target}` : `mount ${m.source || m.fstype || ''} on ${m.target}`;
    await this.call('Mount', [m.source ?? '', m.target, m.fstype ?? '', m.flags, m.data ?? '', (m.inRoot ? OPT_IN_ROOT : 0) | (m.sourceInRoot ? OPT_SRC_IN_ROOT : 0) | (m.copyUp ? OPT_COPY_UP : 0)], what);
  }
  async umount(target: string, flags: number, inRoot: boolean): Promise<void> {
    await this.call('Umount', [target, flags, inRoot ? OPT_IN_ROOT : 0], `unmount ${target}`);
  }
  async mkdirAll(path: string, mode: number, inRoot: boolean): Promise<void> {
    await this.call('MkdirAll', [path, mode, inRoot ? OPT_IN_ROOT : 0], `create directory ${path}`);
  }
  async mkfile(path: string, mode: number, inRoot: boolean): Promise<void> {
    await this.call('Mkfile', [path, mode, inRoot ? OPT_IN_ROOT : 0], `create file ${path}`);
  }
  async mknod(path: string, mode: number, dev: bigint, uid: number, gid: number): Promise<void> {
    await this.call('Mknod', [path, mode, dev, uid, gid, OPT_IN_ROOT], `create device ${path}`);
  }
  async bindDevice(hostPath: string, target: string): Promise<void> {
    await this.call('BindDevice', [hostPath, target], `bind device ${hostPath} to ${target}`);
  }
  async symlink(target: string, link: string): Promise<void> {
    await this.call('Symlink', [target, link, OPT_IN_ROOT], `symlink ${link} -> ${target}`);
  }
  async setRoot(path: string): Promise<void> {
    await this.call('SetRoot', [path], `open rootfs ${path}`);
  }
  async pivotRoot(path: string): Promise<void> {
    await this.call('PivotRoot', [path], `pivot_root to ${path}`);
  }
  async chroot(path: string, move: boolean): Promise<void> {
    await this.call('Chroot', [path, move ? 1 : 0], `chroot to ${path}`);
  }
  connectSocket(path: string): Promise<number> {
    return this.call('ConnectSocket', [path], `connect to ${path}`);
  }
  async becomeRoot(): Promise<void> {
    await this.call('BecomeRoot', [], 'become root in the user namespace');
  }
  async setDumpable(on: boolean): Promise<void> {
    await this.call('SetDumpable', [on ? 1 : 0], on ? 'make the process dumpable for its id maps' : 'make the process non-dumpable');
  }
  async sethostname(name: string): Promise<void> {
    await this.call('Sethostname', [name], `set hostname ${JSON.stringify(name)}`);
  }
  async setdomainname(name: string): Promise<void> {
    await this.call('Setdomainname', [name], `set domainname ${JSON.stringify(name)}`);
  }
  async maskPath(path: string): Promise<void> {
    await this.call('MaskPath', [path], `mask ${path}`);
  }
  async readonlyPath(path: string): Promise<void> {
    await this.call('ReadonlyPath', [path], `make ${path} read-only`);
  }
  async setExec(args: string[], env: string[], cwd: string): Promise<void> {
    await this.call('SetExec', [args, env, cwd], 'set the process');
  }
  async setUser(u: UserRequest): Promise<void> {
    await this.call('SetUser', [u.uid, u.gid, u.umask === undefined ? -1n : u.umask, u.setgroups ? 1 : 0, u.additionalGids.map(String)], 'set the user');
  }
  async setCaps(masks: bigint[]): Promise<void> {
    await this.call('SetCaps', masks as FieldValues<'SetCaps'>, 'set capabilities');
  }
  async setRlimit(resource: number, soft: bigint, hard: bigint): Promise<void> {
    await this.call('SetRlimit', [resource, soft, hard], `set rlimit ${resource}`);
  }
  async joinSessionKeyring(name: string, addPerm: number): Promise<void> {
    await this.call('JoinSessionKeyring', [name, addPerm], `join the session keyring ${name}`);
  }
  async setNoNewPrivs(): Promise<void> {
    await this.call('SetNoNewPrivs', [], 'set no_new_privs');
  }
  async setSeccomp(program: Buffer, flags: number): Promise<void> {
    await this.call('SetSeccomp', [program, flags], 'set the seccomp filter');
  }
  async setExecLabel(file: string, value: string): Promise<void> {
    await this.call('SetExecLabel', [file, value], `set the exec label ${JSON.stringify(value)}`);
  }
  async setPersonality(persona: number): Promise<void> {
    await this.call('SetPersonality', [persona], `set personality 0x${persona.toString(16)}`);
  }
  async setAffinity(mask: Buffer): Promise<void> {
    await this.call('SetAffinity', [mask], 'set the CPU affinity');
  }
  async setSeccompListener(fd: number, state: string): Promise<void> {
    await this.call('SetSeccompListener', [fd, state], 'set the seccomp listener');
  }
  async setStartFifo(dir: string): Promise<void> {
    await this.call('SetStartFifo', [dir], 'open the start fifo');
  }
  async setPreserveFds(count: number): Promise<void> {
    await this.call('SetPreserveFds', [count], 'preserve fds');
  }
  async setConsole(fd: number, rows: number, cols: number): Promise<void> {
    await this.call('SetConsole', [fd, rows, cols], 'set the console');
  }
  async addHook(h: HookRequest): Promise<void> {
    await this.call('AddHook', hookFields(h), `add hook ${h.path}`);
  }
  async runHook(h: HookRequest): Promise<void> {
    await this.call('RunHook', hookFields(h), `run hook ${h.path}`);
  }
  async finish(): Promise<void> {
    await this.call('Finish', [], 'set up the process');
  }
}

/** The hook's path, then its argv (args as the spec gives them: args[0] is the program's name). */
function hookFields(h: HookRequest): FieldValues<'AddHook'> {
  return [[h.path, ...(h.args.length ? h.args : [h.path])], h.env, h.timeout, h.stdin];
}
