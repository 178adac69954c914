/*
 * The request channel between tsrunc (TypeScript) and tsrunc-init (this C program).
 *
 * Every frame is a little-endian u32 byte count followed by that many bytes.
 * A request body is a u32 opcode followed by the opcode's fields, in order:
 *   u64   8 bytes little-endian
 *   str   u32 byte count + bytes (no NUL on the wire)
 *   strs  u32 count + that many str
 * A reply body is: i32 errno (0 = success), i64 value, str detail.
 *
 * The set of requests is closed: each one is a concrete step of building a
 * container, never "run syscall N". src/init/protocol.ts mirrors this file; a
 * test checks that the two agree.
 *
 * tsrunc-init is started as `tsrunc-init <fd>`: the channel is inherited at
 * <fd>, one end of a socketpair whose other end tsrunc holds.
 */
#ifndef TSRUNC_PROTOCOL_H
#define TSRUNC_PROTOCOL_H

enum tsrunc_op {
  OP_JOIN_NAMESPACES = 1, /* u64 count, then count x (u64 CLONE_NEW* type, str path): open all, then setns in order */
  OP_UNSHARE = 2,         /* u64 flags */
  OP_CLONE = 3,           /* u64 flags. Reply value: child pid. The child continues serving (in the cgroup of OP_SET_CLONE_CGROUP, if any). */
  OP_WRITE_FILE = 4,      /* str path, str data, u64 opts */
  OP_MOUNT = 5,           /* str source, str target, str fstype, u64 flags, str data, u64 opts */
  OP_MKDIR_ALL = 6,       /* str path, u64 mode, u64 opts */
  OP_MKFILE = 7,          /* str path, u64 mode, u64 opts */
  OP_MKNOD = 8,           /* str path, u64 mode (type|perm), u64 dev, u64 uid, u64 gid, u64 opts */
  OP_SYMLINK = 9,         /* str target, str linkpath, u64 opts */
  OP_SET_ROOT = 10,       /* str path: the directory every IN_ROOT path is resolved in */
  OP_PIVOT_ROOT = 11,     /* str new root */
  OP_CHROOT = 12,         /* str new root, u64 move (1: MS_MOVE it onto / first, for --no-pivot; 0: plain chroot, no mount namespace) */
  OP_SETHOSTNAME = 13,    /* str */
  OP_SETDOMAINNAME = 14,  /* str */
  OP_UMOUNT = 15,         /* str target, u64 flags, u64 opts */
  OP_MASK_PATH = 16,      /* str path: /dev/null over a file, read-only empty tmpfs over a directory */
  OP_READONLY_PATH = 17,  /* str path: bind onto itself, remount read-only keeping its other flags */
  OP_BIND_DEVICE = 18,    /* str host device path, str target: bind a host device node (user namespaces) */

  OP_SET_EXEC = 20,       /* strs args, strs env, str cwd */
  OP_SET_USER = 21,       /* u64 uid, u64 gid, u64 umask (~0 = leave), u64 setgroups (0/1), strs additional gids (decimal) */
  OP_SET_CAPS = 22,       /* u64 bounding, effective, inheritable, permitted, ambient */
  OP_SET_RLIMIT = 23,     /* u64 resource, u64 soft, u64 hard (appends) */
  OP_SET_NO_NEW_PRIVS = 24,
  OP_SET_SECCOMP = 25,    /* str BPF program (struct sock_filter[]), u64 seccomp(2) flags */
  OP_SET_START_FIFO = 26, /* str directory holding exec.fifo: opened now, written after FINISH */
  OP_SET_PRESERVE_FDS = 27, /* u64 count of fds after stdio to keep */
  OP_SET_CONSOLE = 28,    /* u64 fd of a connected console socket, u64 rows, u64 cols: pty in the container */
  OP_ADD_HOOK = 29,       /* strs args (args[0] is the path), strs env, u64 timeout secs, str stdin: startContainer hook */
  OP_FINISH = 30,         /* apply the process settings, reply, (wait for start), exec */
  OP_RUN_HOOK = 31,       /* strs args, strs env, u64 timeout secs, str stdin: run one hook now, here */
  OP_BECOME_ROOT = 33,
  OP_CONNECT_SOCKET = 34, /* str path: connect a unix stream socket there (console socket, seccomp listener); value: its fd */
  OP_SET_EXEC_LABEL = 35, /* str attr file (/proc/thread-self/attr/...), str value: written in FINISH, takes effect at execve */
  OP_SET_PERSONALITY = 36, /* u64 persona: set in FINISH, before execve */
  OP_SET_AFFINITY = 37,   /* str CPU mask (bytes of a cpu_set_t): sched_setaffinity on this process, now */
  OP_SET_CLONE_CGROUP = 38, /* str cgroup2 dir: opened now (while host paths resolve); OP_CLONE then uses CLONE_INTO_CGROUP */    /* in a new user namespace, once its maps are written: become uid/gid 0 there, keeping capabilities */
  OP_JOIN_SESSION_KEYRING = 39, /* str name, u64 permission bits to add: a new (or the named) session keyring, now */
  OP_SET_DUMPABLE = 40,   /* u64 0/1: a new user namespace's maps are written from outside while this process is dumpable (not host root: its /proc files are root's otherwise) */
  OP_SET_SECCOMP_LISTENER = 32, /* u64 fd of a connected socket, str containerProcessState JSON: gets the notify fd */
};

/* opts bits */
#define OPT_IN_ROOT 1u      /* the path argument is resolved inside the root set by OP_SET_ROOT */
#define OPT_SRC_IN_ROOT 2u  /* OP_MOUNT: the source is resolved inside the root too */
#define OPT_NO_FOLLOW 4u    /* do not follow a symlink in the last component */

#endif
