/**
 * The request channel to tsrunc-init, defined once: REQUESTS below is the
 * whole protocol. The C header addon/build/protocol.h is generated from it at
 * build time (src/build/gen-protocol.ts), and encodeRequest takes each
 * request's fields as the table types them. addon/PROTOCOL.md draws the
 * sequences (create, start, exec) and the error paths.
 *
 * Frames are a little-endian u32 byte count and a body. A request body is a
 * u32 opcode and the op's fields in order; a reply body is i32 errno (0 =
 * success), i64 value, str detail. The set of requests is closed: each one is
 * a concrete step of building a container, never "run syscall N".
 *
 * Adding a request: a row here, its `case` in addon/init.c (a test fails for
 * an op without one), a method on InitOps (ops.ts) and InitChannel
 * (channel.ts), and a row in test/init/channel.test.ts.
 */

/** How a field travels. */
export const FIELD_KINDS = {
  u64: '8 bytes little-endian (negative numbers as two\'s complement)',
  id: 'a u64 that must fit a uid or gid (< 2^32: C would truncate 2^32 to root)',
  fd: 'a u64 that must be a file descriptor (<= INT_MAX)',
  str: 'u32 byte count + UTF-8 bytes (no NUL on the wire)',
  bytes: 'u32 byte count + raw bytes (a str that is not text: it may hold NUL)',
  strs: 'u32 count + that many str',
  pairs: 'u64 count + that many (u64, str)',
} as const;
export type FieldKind = keyof typeof FIELD_KINDS;

/** Each kind's letter in a request's shape: tsrunc-init checks a whole request against it before acting (addon/request.h). */
export const SHAPE_LETTERS: Record<FieldKind, string> = { u64: 'u', id: 'i', fd: 'f', str: 's', bytes: 'b', strs: 'S', pairs: 'n' };

/** The shape of a request, one letter per field ("suu" for MkdirAll). */
export function requestShape(name: RequestName): string {
  return (REQUESTS[name].fields as readonly (readonly [string, FieldKind])[]).map(([, kind]) => SHAPE_LETTERS[kind]).join('');
}

type FieldDef = readonly [name: string, kind: FieldKind];
interface RequestDef {
  readonly op: number;
  readonly fields: readonly FieldDef[];
  readonly doc: string;
}

export const REQUESTS = {
  JoinNamespaces: { op: 1, fields: [['namespaces', 'pairs']], doc: '(CLONE_NEW* type, path) pairs: open all, then setns in order' },
  Unshare: { op: 2, fields: [['flags', 'u64']], doc: 'unshare(2) with these CLONE_NEW* flags' },
  Clone: { op: 3, fields: [['flags', 'u64']], doc: 'Reply value: child pid. The parent exits after replying; the child continues serving (in the cgroup of SET_CLONE_CGROUP, if any)' },
  WriteFile: { op: 4, fields: [['path', 'str'], ['data', 'bytes'], ['opts', 'u64']], doc: 'write data to an existing file' },
  Mount: { op: 5, fields: [['source', 'str'], ['target', 'str'], ['fstype', 'str'], ['flags', 'u64'], ['data', 'str'], ['opts', 'u64']], doc: 'mount(2); OPT_SRC_IN_ROOT resolves the source in the root too' },
  MkdirAll: { op: 6, fields: [['path', 'str'], ['mode', 'u64'], ['opts', 'u64']], doc: 'mkdir -p' },
  Mkfile: { op: 7, fields: [['path', 'str'], ['mode', 'u64'], ['opts', 'u64']], doc: 'create an empty file (a bind-mount target) unless it exists' },
  Mknod: { op: 8, fields: [['path', 'str'], ['mode', 'u64'], ['dev', 'u64'], ['uid', 'id'], ['gid', 'id'], ['opts', 'u64']], doc: 'mknod(2) with mode = type|perm, then chown' },
  Symlink: { op: 9, fields: [['target', 'str'], ['linkpath', 'str'], ['opts', 'u64']], doc: 'symlink(2)' },
  SetRoot: { op: 10, fields: [['path', 'str']], doc: 'the directory every OPT_IN_ROOT path is resolved in' },
  PivotRoot: { op: 11, fields: [['newRoot', 'str']], doc: 'pivot_root(2) into the new root and detach the old one' },
  Chroot: { op: 12, fields: [['newRoot', 'str'], ['move', 'u64']], doc: 'move 1: MS_MOVE it onto / first (--no-pivot); 0: plain chroot, no mount namespace' },
  Sethostname: { op: 13, fields: [['name', 'str']], doc: 'sethostname(2)' },
  Setdomainname: { op: 14, fields: [['name', 'str']], doc: 'setdomainname(2)' },
  Umount: { op: 15, fields: [['target', 'str'], ['flags', 'u64'], ['opts', 'u64']], doc: 'umount2(2)' },
  MaskPath: { op: 16, fields: [['path', 'str']], doc: '/dev/null over a file, read-only empty tmpfs over a directory' },
  ReadonlyPath: { op: 17, fields: [['path', 'str']], doc: 'bind onto itself, remount read-only keeping its other flags' },
  BindDevice: { op: 18, fields: [['hostPath', 'str'], ['target', 'str']], doc: 'bind a host device node (user namespaces)' },
  SetExec: { op: 20, fields: [['args', 'strs'], ['env', 'strs'], ['cwd', 'str']], doc: 'the process to execve at FINISH' },
  SetUser: { op: 21, fields: [['uid', 'id'], ['gid', 'id'], ['umask', 'u64'], ['setgroups', 'u64'], ['additionalGids', 'strs']], doc: 'umask ~0 = leave; setgroups 0/1; additional gids in decimal' },
  SetCaps: { op: 22, fields: [['bounding', 'u64'], ['effective', 'u64'], ['inheritable', 'u64'], ['permitted', 'u64'], ['ambient', 'u64']], doc: 'capability masks, applied at FINISH' },
  SetRlimit: { op: 23, fields: [['resource', 'u64'], ['soft', 'u64'], ['hard', 'u64']], doc: 'appends one rlimit, applied at FINISH' },
  SetNoNewPrivs: { op: 24, fields: [], doc: 'PR_SET_NO_NEW_PRIVS at FINISH' },
  SetSeccomp: { op: 25, fields: [['program', 'bytes'], ['flags', 'u64']], doc: 'BPF program (struct sock_filter[]) and seccomp(2) flags, loaded at FINISH' },
  SetStartFifo: { op: 26, fields: [['dir', 'str']], doc: 'directory holding exec.fifo: opened now, written after FINISH' },
  SetPreserveFds: { op: 27, fields: [['count', 'u64']], doc: 'count of fds after stdio to keep' },
  SetConsole: { op: 28, fields: [['socketFd', 'fd'], ['rows', 'u64'], ['cols', 'u64']], doc: 'fd of a connected console socket: a pty in the container, its master sent there' },
  AddHook: { op: 29, fields: [['args', 'strs'], ['env', 'strs'], ['timeout', 'u64'], ['stdin', 'str']], doc: 'a startContainer hook (args[0] is the path; timeout in seconds), run at FINISH' },
  Finish: { op: 30, fields: [], doc: 'apply the process settings, reply, (wait for start), exec' },
  RunHook: { op: 31, fields: [['args', 'strs'], ['env', 'strs'], ['timeout', 'u64'], ['stdin', 'str']], doc: 'run one hook now, here' },
  SetSeccompListener: { op: 32, fields: [['socketFd', 'fd'], ['state', 'str']], doc: 'fd of a connected socket and the containerProcessState JSON: gets the notify fd' },
  BecomeRoot: { op: 33, fields: [], doc: 'in a new user namespace, once its maps are written: become uid/gid 0 there, keeping capabilities' },
  ConnectSocket: { op: 34, fields: [['path', 'str']], doc: 'connect a unix stream socket there (console socket, seccomp listener). Reply value: its fd' },
  SetExecLabel: { op: 35, fields: [['attrFile', 'str'], ['value', 'str']], doc: 'LSM attr file (/proc/thread-self/attr/...) and value: written at FINISH, takes effect at execve' },
  SetPersonality: { op: 36, fields: [['persona', 'u64']], doc: 'personality(2) at FINISH, before execve' },
  SetAffinity: { op: 37, fields: [['mask', 'bytes']], doc: 'CPU mask (bytes of a cpu_set_t): sched_setaffinity on this process, now' },
  SetCloneCgroup: { op: 38, fields: [['dir', 'str']], doc: 'cgroup2 dir: opened now (while host paths resolve); CLONE then uses CLONE_INTO_CGROUP' },
  JoinSessionKeyring: { op: 39, fields: [['name', 'str'], ['addPerm', 'u64']], doc: 'a new (or the named) session keyring and permission bits to add, now' },
  SetDumpable: { op: 40, fields: [['on', 'u64']], doc: 'prctl(PR_SET_DUMPABLE): dumpable only while tsrunc without host root writes the new user namespace\'s id maps (/proc/<pid> files of a non-dumpable process are root\'s)' },
  LoopbackUp: { op: 50, fields: [], doc: 'bring "lo" up in the current network namespace (a new one), as runc does' },
  OpenTree: {
    op: 51, fields: [['hostPath', 'str'], ['recursive', 'u64'], ['uidMap', 'str'], ['gidMap', 'str'], ['idmapRecursive', 'u64']],
    doc: 'a detached copy of the mount at a host path (open_tree OPEN_TREE_CLONE), made while host paths resolve with the host\'s privileges (before a user namespace); with maps, id-mapped through a new user namespace that has them (MOUNT_ATTR_IDMAP). Reply value: its fd',
  },
  MoveMount: { op: 52, fields: [['fd', 'fd'], ['target', 'str'], ['opts', 'u64']], doc: 'attach the tree of an OPEN_TREE fd at target (move_mount), then close the fd' },
  MountSetattr: { op: 53, fields: [['target', 'str'], ['attrSet', 'u64'], ['attrClr', 'u64'], ['opts', 'u64']], doc: 'mount_setattr(AT_RECURSIVE) (rro, rnosuid, ...)' },
} as const satisfies Record<string, RequestDef>;

export type RequestName = keyof typeof REQUESTS;

/** Option bits of the `opts` fields. */
export const OPTS = {
  OPT_IN_ROOT: { bit: 1, doc: 'the path argument is resolved inside the root set by SET_ROOT' },
  OPT_SRC_IN_ROOT: { bit: 2, doc: 'MOUNT: the source is resolved inside the root too' },
  OPT_NO_FOLLOW: { bit: 4, doc: 'do not follow a symlink in the last component' },
  OPT_COPY_UP: { bit: 8, doc: 'MOUNT of a tmpfs: copy what the directory held into it first (tmpcopyup)' },
} as const;
export const OPT_IN_ROOT = OPTS.OPT_IN_ROOT.bit;
export const OPT_SRC_IN_ROOT = OPTS.OPT_SRC_IN_ROOT.bit;
export const OPT_NO_FOLLOW = OPTS.OPT_NO_FOLLOW.bit;
export const OPT_COPY_UP = OPTS.OPT_COPY_UP.bit;

/** Each request's opcode by name (Op.Finish === 30). */
export const Op = Object.fromEntries(Object.entries(REQUESTS).map(([name, r]) => [name, r.op])) as { readonly [N in RequestName]: (typeof REQUESTS)[N]['op'] };

/** The name of an opcode, or undefined for a number no request has. */
export function opName(op: number): RequestName | undefined {
  return (Object.keys(REQUESTS) as RequestName[]).find((n) => REQUESTS[n].op === op);
}

/** OP_SET_NO_NEW_PRIVS for SetNoNewPrivs: the C spelling of a request. */
export function cName(name: RequestName): string {
  return `OP_${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

type ValueOf<K extends FieldKind> = K extends 'u64' | 'id' | 'fd' ? number | bigint
  : K extends 'str' ? string
  : K extends 'bytes' ? Buffer | string
  : K extends 'strs' ? string[]
  : [number | bigint, string][];

type ValuesOf<F> = { -readonly [I in keyof F]: F[I] extends readonly [string, infer K extends FieldKind] ? ValueOf<K> : never };
/** The values a request takes, in order, typed by the table: FieldValues<'Clone'> is [number | bigint]. */
export type FieldValues<N extends RequestName> = ValuesOf<(typeof REQUESTS)[N]['fields']>;

/** Encodes one request frame, each value as the table says its field travels. */
export function encodeRequest<N extends RequestName>(name: N, values: FieldValues<N>): Buffer {
  const def: RequestDef = REQUESTS[name];
  const given = values as unknown[];
  if (given.length !== def.fields.length) throw new Error(`${name}: ${given.length} values for ${def.fields.length} fields`);
  const parts: Buffer[] = [u32(def.op)];
  def.fields.forEach(([field, kind], i) => {
    const v = given[i];
    const bad = () => new Error(`${name}.${field}: not a ${kind}: ${typeof v}`);
    switch (kind) {
      case 'u64':
      case 'id':
      case 'fd':
        if (typeof v !== 'number' && typeof v !== 'bigint') throw bad();
        parts.push(u64(v));
        break;
      case 'str':
        if (typeof v !== 'string') throw bad();
        parts.push(str(Buffer.from(v, 'utf8')));
        break;
      case 'bytes':
        if (!Buffer.isBuffer(v) && typeof v !== 'string') throw bad();
        parts.push(str(Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')));
        break;
      case 'strs':
        if (!Array.isArray(v)) throw bad();
        parts.push(u32(v.length), ...(v as string[]).map((s) => str(Buffer.from(s, 'utf8'))));
        break;
      case 'pairs':
        if (!Array.isArray(v)) throw bad();
        parts.push(u64(v.length), ...(v as [number | bigint, string][]).flatMap(([n, s]) => [u64(n), str(Buffer.from(s, 'utf8'))]));
        break;
    }
  });
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(body.length), body]);
}

/** Splits a byte stream into frames (u32 length + body). */
export class FrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUInt32LE(0);
      if (this.buffered.length < 4 + len) break;
      frames.push(this.buffered.subarray(4, 4 + len));
      this.buffered = this.buffered.subarray(4 + len);
    }
    return frames;
  }

  /** How many bytes arrived that are not yet a whole frame. */
  get pending(): number {
    return this.buffered.length;
  }
}

export interface Reply {
  errno: number;
  value: number;
  detail: string;
}

export function decodeReply(body: Buffer): Reply {
  const errno = body.readInt32LE(0);
  const value = Number(body.readBigInt64LE(4));
  const len = body.readUInt32LE(12);
  return { errno, value, detail: body.subarray(16, 16 + len).toString('utf8') };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function u64(n: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(n)));
  return b;
}

function str(b: Buffer): Buffer {
  return Buffer.concat([u32(b.length), b]);
}
