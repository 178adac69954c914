/**
 * What tsrunc-init can do, as a typed interface: one method per request of
 * the protocol table (protocol.ts). Each call resolves once tsrunc-init has answered. The container setup (container/setup.ts) is written
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
  /** tmpcopyup: the target directory's contents are copied into the new (tmpfs) mount. */
  copyUp?: boolean;
}

export interface IdmapRequest {
  uidMap: string;
  gidMap: string;
  /** ridmap: the mounts below are id-mapped too. */
  recursive: boolean;
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
  joinNamespaces(namespaces: { flag: number; path: string }[]): Promise<void>;
  unshare(flags: number): Promise<void>;
  /** The cgroup2 directory the next clone starts in (CLONE_INTO_CGROUP): opened now, while host paths resolve. */
  setCloneCgroup(dir: string): Promise<void>;
  /** Returns the child's pid (in the caller's pid namespace); the child serves the next requests. */
  clone(flags: number): Promise<number>;
  writeFile(path: string, data: string, inRoot: boolean): Promise<void>;
  mount(m: MountRequest): Promise<void>;
  umount(target: string, flags: number, inRoot: boolean): Promise<void>;
  mkdirAll(path: string, mode: number, inRoot: boolean): Promise<void>;
  mkfile(path: string, mode: number, inRoot: boolean): Promise<void>;
  mknod(path: string, mode: number, dev: bigint, uid: number, gid: number): Promise<void>;
  bindDevice(hostPath: string, target: string): Promise<void>;
  symlink(target: string, link: string): Promise<void>;
  setRoot(path: string): Promise<void>;
  pivotRoot(path: string): Promise<void>;
  /** move: MS_MOVE the rootfs onto / first (--no-pivot); without a mount namespace, a plain chroot. */
  chroot(path: string, move: boolean): Promise<void>;
  /** Connects a unix socket at a host path (console socket, seccomp listener); resolves to its fd in the init. */
  connectSocket(path: string): Promise<number>;
  /** In the container's user namespace, once its maps are written: become its root, keeping capabilities. */
  becomeRoot(): Promise<void>;
  /**
   * A detached copy of the mount at a host path (recursive: with the mounts below), made now with the
   * host's privileges; with idmap, id-mapped through these maps (uid_map/gid_map lines). Resolves to its fd.
   */
  openTree(path: string, recursive: boolean, idmap?: IdmapRequest): Promise<number>;
  /** mount_setattr(AT_RECURSIVE) on the mount at target (inside the root) and every mount below it. */
  mountSetattr(target: string, set: number, clear: number): Promise<void>;
  /** Attaches a tree from openTree at target (inside the root), closing its fd. */
  moveMount(fd: number, target: string): Promise<void>;
  /** In a new network namespace: bring "lo" up (as runc). */
  loopbackUp(): Promise<void>;
  /** Dumpable or not: while tsrunc without host root writes the maps of the new user namespace. */
  setDumpable(on: boolean): Promise<void>;
  sethostname(name: string): Promise<void>;
  setdomainname(name: string): Promise<void>;
  maskPath(path: string): Promise<void>;
  readonlyPath(path: string): Promise<void>;
  setExec(args: string[], env: string[], cwd: string): Promise<void>;
  setUser(user: UserRequest): Promise<void>;
  setCaps(masks: bigint[]): Promise<void>;
  setRlimit(resource: number, soft: bigint, hard: bigint): Promise<void>;
  setNoNewPrivs(): Promise<void>;
  setSeccomp(program: Buffer, flags: number): Promise<void>;
  /** An LSM exec label (AppArmor "exec <profile>", SELinux context): written to file just before execve. */
  setExecLabel(file: string, value: string): Promise<void>;
  /** personality(2) just before execve. */
  setPersonality(persona: number): Promise<void>;
  /** sched_setaffinity(2) on the init's current process, now (a cpu_set_t). */
  setAffinity(mask: Buffer): Promise<void>;
  /** SCMP_ACT_NOTIFY: a connected socket (fd in the init) that receives the notify fd and this containerProcessState JSON. */
  setSeccompListener(fd: number, state: string): Promise<void>;
  /** Joins the session keyring of that name (created if none), adding these permission bits to it. */
  joinSessionKeyring(name: string, addPerm: number): Promise<void>;
  setStartFifo(dir: string): Promise<void>;
  setPreserveFds(count: number): Promise<void>;
  setConsole(fd: number, rows: number, cols: number): Promise<void>;
  addHook(hook: HookRequest): Promise<void>;
  runHook(hook: HookRequest): Promise<void>;
  /** Applies the process settings and either waits for `start` (create) or execs at once (exec). */
  finish(): Promise<void>;
}
