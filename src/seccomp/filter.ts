/**
 * linux.seccomp -> a BPF program, built with libseccomp (libseccomp.so.2,
 * through the FFI seam) and exported, never loaded here: tsrunc-init loads it with
 * seccomp(2) as the last step before execve. Semantics follow runc: unknown
 * syscall names for this architecture are skipped (debug log), rules whose
 * action equals the default are skipped, conditions on the same argument
 * index become separate rules (OR), on different indexes one rule (AND).
 */
import { constants } from 'node:os';
import { closeSync, fstatSync, readSync } from 'node:fs';
import type { Seccomp } from '../spec/types';
import { TsruncError } from '../sys/errors';
import { ffi, type NativeFunction, type OpaquePointer, type Signature } from '../sys/ffi';
import { memfdCreate, MFD_CLOEXEC } from '../sys/libc';
import type { Logger } from '../sys/log';
import { denies, evaluateFilter } from './evaluate';

const ACT_KILL_PROCESS = 0x80000000, ACT_KILL_THREAD = 0x00000000, ACT_TRAP = 0x00030000, ACT_NOTIFY = 0x7fc00000;
const ACT_ERRNO = 0x00050000, ACT_TRACE = 0x7ff00000, ACT_LOG = 0x7ffc0000, ACT_ALLOW = 0x7fff0000;
const { EPERM } = constants.errno;

/** OCI action name -> libseccomp action (ERRNO and TRACE carry a 16-bit value). */
export const ACTIONS: Record<string, (ret?: number) => number> = {
  SCMP_ACT_KILL: () => ACT_KILL_THREAD,
  SCMP_ACT_KILL_THREAD: () => ACT_KILL_THREAD,
  SCMP_ACT_KILL_PROCESS: () => ACT_KILL_PROCESS,
  SCMP_ACT_TRAP: () => ACT_TRAP,
  SCMP_ACT_ERRNO: (ret = EPERM) => (ACT_ERRNO | (ret & 0xffff)) >>> 0,
  SCMP_ACT_TRACE: (ret = EPERM) => (ACT_TRACE | (ret & 0xffff)) >>> 0,
  SCMP_ACT_LOG: () => ACT_LOG,
  SCMP_ACT_ALLOW: () => ACT_ALLOW,
  SCMP_ACT_NOTIFY: () => ACT_NOTIFY,
};

export const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

/** seccomp(2) SECCOMP_FILTER_FLAG_* by name. */
export const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_NEW_LISTENER: 8, SECCOMP_FILTER_FLAG_TSYNC_ESRCH: 16, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

/** The flags a config may ask for (runtime-spec config-linux.md); NEW_LISTENER and TSYNC_ESRCH are tsrunc's to set. */
export const CONFIG_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'];

/** OCI architecture names -> libseccomp's names for seccomp_arch_resolve_name. */
export function libseccompArch(oci: string): string {
  return oci.replace(/^SCMP_ARCH_/, '').toLowerCase();
}

export interface CompiledFilter {
  /** struct sock_filter[] */
  program: Buffer;
  /** seccomp(2) flags to load it with. */
  flags: number;
  /** True when a rule (or the default) is SCMP_ACT_NOTIFY: a listener fd will exist. */
  notify: boolean;
}

const libseccompSignatures = {
  seccomp_init: { args: ['u32'], returns: 'ptr' },
  seccomp_release: { args: ['ptr'], returns: 'void' },
  seccomp_arch_add: { args: ['ptr', 'u32'], returns: 'i32' },
  seccomp_arch_resolve_name: { args: ['cstring'], returns: 'u32' },
  seccomp_syscall_resolve_name: { args: ['cstring'], returns: 'i32' },
  // The last argument: struct scmp_arg_cmp[n] { u32 arg; i32 op; u64 datum_a; u64 datum_b; }, 24 bytes each.
  seccomp_rule_add_array: { args: ['ptr', 'u32', 'i32', 'u32', 'ptr'], returns: 'i32' },
  seccomp_export_bpf: { args: ['ptr', 'i32'], returns: 'i32' },
} satisfies Record<string, Signature>;

type Lib = Record<keyof typeof libseccompSignatures, NativeFunction>;
let lib: Lib | undefined;

/** libseccomp, bound on first use: only a config with linux.seccomp pays for it. */
function libseccomp(): Lib {
  if (lib) return lib;
  try {
    lib = ffi().bindLibrary('libseccomp.so.2', libseccompSignatures);
  } catch (err) {
    throw new TsruncError(`linux.seccomp: libseccomp.so.2 cannot be loaded (install libseccomp2): ${(err as Error).message}`, { cause: err });
  }
  return lib;
}

/** struct scmp_arg_cmp[] for seccomp_rule_add_array. */
function argCmpArray(conditions: { arg: number; op: number; datum_a: bigint; datum_b: bigint }[]): Buffer | null {
  if (!conditions.length) return null;
  const buf = Buffer.alloc(24 * conditions.length);
  conditions.forEach((c, i) => {
    buf.writeUInt32LE(c.arg, i * 24);
    buf.writeInt32LE(c.op, i * 24 + 4);
    buf.writeBigUInt64LE(BigInt.asUintN(64, c.datum_a), i * 24 + 8);
    buf.writeBigUInt64LE(BigInt.asUintN(64, c.datum_b), i * 24 + 16);
  });
  return buf;
}

export function compileSeccomp(s: Seccomp, log: Logger): CompiledFilter {
  const l = libseccomp();
  const action = (name: string, ret: number | undefined, where: string): number => {
    const f = ACTIONS[name];
    if (!f) throw new TsruncError(`${where}: unknown seccomp action ${JSON.stringify(name)}`);
    return f(ret);
  };
  const defaultAction = action(s.defaultAction, s.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let notify = s.defaultAction === 'SCMP_ACT_NOTIFY';
  const ctx = l.seccomp_init(defaultAction) as OpaquePointer | null;
  if (!ctx) throw new TsruncError('linux.seccomp: seccomp_init failed');
  try {
    for (const arch of s.architectures ?? []) {
      const token = Number(l.seccomp_arch_resolve_name(libseccompArch(arch)));
      if (!token) throw new TsruncError(`linux.seccomp.architectures: unknown architecture ${JSON.stringify(arch)}`);
      const r = Number(l.seccomp_arch_add(ctx, token));
      if (r < 0 && r !== -17 /* EEXIST: the native one is always there */) throw new TsruncError(`linux.seccomp.architectures: cannot add ${arch}: errno ${-r}`);
    }
    (s.syscalls ?? []).forEach((rule, i) => {
      const where = `linux.seccomp.syscalls[${i}]`;
      const act = action(rule.action, rule.errnoRet, `${where}.action`);
      if (rule.action === 'SCMP_ACT_NOTIFY') notify = true;
      // A rule that does what the default does is redundant, and libseccomp refuses it.
      if (act === defaultAction) return;
      const conditions = (rule.args ?? []).map((a, j) => {
        const op = OPERATORS[a.op];
        if (op === undefined) throw new TsruncError(`${where}.args[${j}].op: unknown operator ${JSON.stringify(a.op)}`);
        return { arg: a.index, op, datum_a: BigInt(a.value), datum_b: BigInt(a.valueTwo ?? 0) };
      });
      const indexes = new Set(conditions.map((c) => c.arg));
      // runc: several conditions on one argument mean "any of them" (a rule each); on distinct arguments "all of them".
      const groups = indexes.size === conditions.length ? [conditions] : conditions.map((c) => [c]);
      for (const name of rule.names) {
        const nr = Number(l.seccomp_syscall_resolve_name(name));
        if (nr < 0) {
          log.debug(`seccomp: syscall ${name} is unknown on this architecture, skipped`);
          continue;
        }
        for (const group of groups) {
          const r = Number(l.seccomp_rule_add_array(ctx, act, nr, group.length, argCmpArray(group)));
          if (r < 0) throw new TsruncError(`${where}: cannot add a rule for ${name}: errno ${-r}`);
        }
      }
    });
    let flags = 0;
    for (const f of s.flags ?? []) {
      if (!CONFIG_FLAGS.includes(f)) throw new TsruncError(`linux.seccomp.flags: unknown flag ${JSON.stringify(f)}`);
      flags |= FLAGS[f];
    }
    // The init is single-threaded: TSYNC means nothing there, and it cannot be combined with a listener.
    flags &= ~(FLAGS.SECCOMP_FILTER_FLAG_TSYNC | FLAGS.SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
    if (notify) flags |= FLAGS.SECCOMP_FILTER_FLAG_NEW_LISTENER;
    const program = exportProgram(l, ctx);
    refuseUnstartable(l, program);
    return { program, flags, notify };
  } finally {
    l.seccomp_release(ctx);
  }
}

/**
 * tsrunc-init loads the filter, then calls execve (and exit_group if that
 * fails). A profile denying those leaves a process that can neither run its
 * program nor exit (runc: "container process is already dead"): refused here,
 * with the reason.
 */
function refuseUnstartable(l: Lib, program: Buffer): void {
  for (const name of ['execve', 'exit_group']) {
    const nr = Number(l.seccomp_syscall_resolve_name(name));
    if (denies(evaluateFilter(program, { nr }))) {
      throw new TsruncError(`linux.seccomp: the profile denies ${name}, which the container's process must call after the filter is loaded: it could neither start its program nor exit`);
    }
  }
}

function exportProgram(l: Lib, ctx: OpaquePointer): Buffer {
  const fd = memfdCreate('tsrunc-seccomp', MFD_CLOEXEC);
  try {
    const r = Number(l.seccomp_export_bpf(ctx, fd));
    if (r < 0) throw new TsruncError(`seccomp: exporting the filter failed: errno ${-r}`);
    const size = fstatSync(fd).size;
    const program = Buffer.alloc(size);
    for (let off = 0; off < size;) off += readSync(fd, program, off, size - off, off);
    return program;
  } finally {
    closeSync(fd);
  }
}
