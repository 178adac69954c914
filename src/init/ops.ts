/**
 * What tsrunc-init can do, as a typed interface: one method per request of
 * addon/protocol.h. The container setup (container/setup.ts) is written
 * against this interface only; the real implementation sends each call to
 * tsrunc-init (channel.ts), tests use a recording fake.
 *
 * "inRoot" paths are resolved inside the container root, symlinks and ".."
 * included, without ever leaving it (openat2 RESOLVE_IN_ROOT).
 */
export interface MountRequest {
  source?: string;
  target: string;
  fstype?: string;
  flags: number;
  data?: string;
  inRoot: boolean;
  sourceInRoot?: boolean;
}

export interface UserRequest {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids: number[];
  /** False inside a user namespace whose setgroups is "deny". */
  setgroups: boolean;
}

export interface HookRequest {
  path: string;
  args: string[];
  env: string[];
  /** Seconds; 0 = none. */
  timeout: number;
  stdin: string;
}

export interface InitOps {
  joinNamespaces(namespaces: { flag: number; path: string }[]): void;
  unshare(flags: number): void;
  /** Returns the child's pid (in the caller's pid namespace); the child serves the next requests. */
  clone(flags: number, cgroupDir?: string): number;
  writeFile(path: string, data: string, inRoot: boolean): void;
  mount(m: MountRequest): void;
  umount(target: string, flags: number, inRoot: boolean): void;
  mkdirAll(path: string, mode: number, inRoot: boolean): void;
  mkfile(path: string, mode: number, inRoot: boolean): void;
  mknod(path: string, mode: number, dev: bigint, uid: number, gid: number): void;
  bindDevice(hostPath: string, target: string): void;
  symlink(target: string, link: string): void;
  setRoot(path: string): void;
  pivotRoot(path: string): void;
  /** move: MS_MOVE the rootfs onto / first (--no-pivot); without a mount namespace, a plain chroot. */
  chroot(path: string, move: boolean): void;
  /** In the container's user namespace, once its maps are written: become its root, keeping capabilities. */
  becomeRoot(): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  maskPath(path: string): void;
  readonlyPath(path: string): void;
  setExec(args: string[], env: string[], cwd: string): void;
  setUser(user: UserRequest): void;
  setCaps(masks: bigint[]): void;
  setRlimit(resource: number, soft: bigint, hard: bigint): void;
  setNoNewPrivs(): void;
  setSeccomp(program: Buffer, flags: number): void;
  /** SCMP_ACT_NOTIFY: a connected socket (fd in the init) that receives the notify fd and this containerProcessState JSON. */
  setSeccompListener(fd: number, state: string): void;
  setStartFifo(dir: string): void;
  setPreserveFds(count: number): void;
  setConsole(fd: number, rows: number, cols: number): void;
  addHook(hook: HookRequest): void;
  runHook(hook: HookRequest): void;
  /** Applies the process settings and either waits for `start` (create) or execs at once (exec). */
  finish(): void;
}
