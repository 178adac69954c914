/*
 * tsrunc-init: the single-threaded executor between clone() and execve().
 *
 * Node cannot do this part itself: it always runs several threads, and the
 * kernel refuses setns() into user and mount namespaces to multi-threaded
 * processes; no JavaScript may run in a child after clone() either. So
 * TypeScript decides every step and sends it here as a typed request over a
 * socketpair (see PROTOCOL.md; the requests are defined in src/init/protocol.ts); this program performs it and answers with the
 * result and errno. It holds no policy: it parses no JSON, knows no config.
 *
 * Steps that must not be split by a round trip stay whole here: resolving a
 * path inside the container root without escaping it (openat2 RESOLVE_IN_ROOT)
 * and mounting through the resulting fd, masking paths, and the final
 * "apply the process settings and exec".
 *
 * Usage: tsrunc-init <channel fd>
 * fds 0-2 are the container's stdio, 3..channel-1 the --preserve-fds ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>

#include "frame.h"
#include "build/protocol.h" /* generated from src/init/protocol.ts */
#include "request.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif

#define MAX_FRAME (64u << 20)
#define MAX_RLIMITS 32
#define MAX_HOOKS 64

static int chan = -1;     /* the request channel */
static int clone_cgroup = -1; /* OP_SET_CLONE_CGROUP: the cgroup2 directory the next clone starts in */
static int root_fd = -1;  /* where OPT_IN_ROOT paths are resolved */

/* What OP_FINISH applies, filled in by the OP_SET_* requests. */
static struct {
  char **args, **env, *cwd;
  int has_user;
  uid_t uid;
  gid_t gid;
  long umask;                     /* -1: leave as is */
  int setgroups;                  /* 0: setgroups(2) is denied (user namespace) */
  gid_t *gids;
  size_t ngids;
  int has_caps;
  uint64_t caps[5];               /* bounding, effective, inheritable, permitted, ambient */
  struct { int res; struct rlimit lim; } rlimits[MAX_RLIMITS];
  size_t nrlimits;
  int no_new_privs;
  struct sock_filter *seccomp;
  size_t seccomp_len;
  unsigned seccomp_flags;
  char *label_file, *label;       /* AppArmor/SELinux: the exec label, written last */
  long personality;               /* -1: leave as is */
  int listener_sock;              /* SCMP_ACT_NOTIFY: where the notify fd goes, with listener_state */
  char *listener_state;
  int fifo_dir;                   /* -1: exec at once (exec); else wait for `start` */
  unsigned preserve_fds;
  int console_sock;               /* -1: no terminal */
  unsigned short rows, cols;
  struct hook { char **argv, **env; long timeout; char *stdin_data; } hooks[MAX_HOOKS]; /* argv[0] is the path, argv+1 the hook's args */
  size_t nhooks;
} plan = { .umask = -1, .setgroups = 1, .fifo_dir = -1, .console_sock = -1, .listener_sock = -1, .personality = -1 };

/* ---- framing: frame.h ---- */

/* err: 0 or an errno; detail: which sub-step failed, for the error message. */
static void reply(int err, int64_t value, const char *detail) {
  size_t dlen = detail ? strlen(detail) : 0;
  size_t body = 4 + 8 + 4 + dlen;
  uint8_t *f = malloc(4 + body);
  if (!f) _exit(120);
  put_le(f, body, 4);
  put_le(f + 4, (uint32_t)err, 4);
  put_le(f + 8, (uint64_t)value, 8);
  put_le(f + 16, dlen, 4);
  memcpy(f + 20, detail ? detail : "", dlen);
  if (write_full(chan, f, 4 + body) < 0) _exit(121);
  free(f);
}

/* Fail the current request: errno is taken from errno at the call site. */
#define FAIL(what) do { int e_ = errno; reply(e_ ? e_ : EINVAL, 0, what); return; } while (0)
#define OK(v) do { reply(0, (v), NULL); return; } while (0)

/* ---- paths inside the container root ---- */

/*
 * Open path as if the root set by OP_SET_ROOT were "/": symlinks and ".."
 * cannot leave it, and /proc magic links are refused. This is what keeps a
 * malicious rootfs from redirecting a mount target or device node to the host.
 */
static int open_in_root(const char *path, int flags, int extra_resolve) {
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (uint64_t)extra_resolve,
  };
  while (*path == '/') path++;
  if (!*path) path = ".";
  if (root_fd < 0) { errno = EBADF; return -1; }
  for (;;) {
    long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return (int)fd;
  }
}

static int open_path(const char *path, unsigned opts, int flags) {
  if (opts & OPT_IN_ROOT) return open_in_root(path, flags, 0);
  return open(path, flags | O_CLOEXEC);
}

/* Splits "a/b/c" into a parent ("a/b", or "/" ) and the last component. */
static char *split_last(const char *path, char **base) {
  char *copy = strdup(path);
  size_t n = strlen(copy);
  while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
  char *slash = strrchr(copy, '/');
  if (!slash) { *base = copy; return strdup("."); }
  *base = strdup(slash + 1);
  if (slash == copy) slash[1] = 0; else *slash = 0;
  return copy;
}

/*
 * mkdir -p inside the root (or on the host when !IN_ROOT). Returns -1 with
 * errno. A dangling symlink on the way is followed the way the kernel would
 * inside the root (its target is created, within the root), as runc does.
 */
static int mkdir_all_depth(const char *path, mode_t mode, unsigned opts, int depth) {
  if (depth > 40) { errno = ELOOP; return -1; }
  int fd = open_path(path, opts, O_PATH | O_DIRECTORY);
  if (fd >= 0) { close(fd); return 0; }
  if (errno != ENOENT) return -1;
  char *base, *parent = split_last(path, &base);
  int r = -1;
  if (!strcmp(base, ".") || !strcmp(base, "..") || !*base) { errno = EINVAL; goto out; }
  if (mkdir_all_depth(parent, mode, opts, depth + 1) < 0) goto out;
  int pfd = open_path(parent, opts, O_PATH | O_DIRECTORY);
  if (pfd < 0) goto out;
  if (mkdirat(pfd, base, mode) < 0) {
    char target[PATH_MAX];
    ssize_t n = errno == EEXIST ? readlinkat(pfd, base, target, sizeof target - 1) : -1;
    int e = errno;
    close(pfd);
    if (n < 0) { errno = e == EINVAL ? EEXIST : e; goto out; }
    target[n] = 0;
    char next[2 * PATH_MAX + 2];
    if (target[0] == '/') snprintf(next, sizeof next, "%s", target);
    else snprintf(next, sizeof next, "%s/%s", parent, target);
    r = mkdir_all_depth(next, mode, opts, depth + 1);
    goto out;
  }
  close(pfd);
  /* Re-open: the directory (not a symlink planted in its place) must be there now. */
  fd = open_path(path, opts, O_PATH | O_DIRECTORY);
  if (fd >= 0) { close(fd); r = 0; }
out:
  free(base);
  free(parent);
  return r;
}

static int mkdir_all(const char *path, mode_t mode, unsigned opts) { return mkdir_all_depth(path, mode, opts, 0); }

/* Opens the parent directory of path (created if needed) and returns its last component in *base. */
static int open_parent(const char *path, unsigned opts, char **base) {
  char *parent = split_last(path, base);
  int pfd = -1;
  if (mkdir_all(parent, 0755, opts) == 0) pfd = open_path(parent, opts, O_PATH | O_DIRECTORY);
  free(parent);
  if (pfd >= 0 && (!strcmp(*base, ".") || !strcmp(*base, ".."))) { close(pfd); errno = EINVAL; pfd = -1; }
  return pfd;
}

static void fd_path(char *buf, size_t n, int fd) { snprintf(buf, n, "/proc/self/fd/%d", fd); }

static const char *nz(const char *s) { return s && *s ? s : NULL; }

/* ---- requests ---- */

static void op_join_namespaces(struct msg *m) {
  uint64_t count = get_u64(m);
  if (m->bad || count > 16) { errno = EINVAL; FAIL("bad request"); }
  int fds[16], types[16];
  char *paths[16];
  /* Open every path first: joining one namespace (mount, above all) changes how the next path resolves. */
  for (uint64_t i = 0; i < count; i++) {
    types[i] = (int)get_u64(m);
    paths[i] = get_str(m);
    if (m->bad) { errno = EINVAL; FAIL("bad request"); }
    fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      static char d[PATH_MAX + 16];
      snprintf(d, sizeof d, "open %s", paths[i]);
      FAIL(d);
    }
  }
  for (uint64_t i = 0; i < count; i++) {
    /* A non-zero nstype makes the kernel check that the file really is a namespace of that type. */
    if (setns(fds[i], types[i]) < 0) {
      static char d[PATH_MAX + 16];
      snprintf(d, sizeof d, "setns %s", paths[i]);
      FAIL(d);
    }
    close(fds[i]);
  }
  OK(0);
}

static void op_set_clone_cgroup(struct msg *m) {
  char *dir = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  if (clone_cgroup >= 0) close(clone_cgroup);
  clone_cgroup = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (clone_cgroup < 0) FAIL("open cgroup");
  OK(0);
}

static void op_clone(struct msg *m) {
  uint64_t flags = get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  long pid;
  if (clone_cgroup >= 0) {
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup; } args = {
      .flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)clone_cgroup,
    };
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) { close(clone_cgroup); clone_cgroup = -1; }
  } else {
    /* fork()-like: the child returns here on a copy of this stack. Nothing in this program relies on glibc's cached thread id. */
    pid = syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
  }
  if (pid < 0) FAIL("clone");
  if (pid == 0) return; /* the child serves the next request; the parent answers this one */
  reply(0, pid, NULL);
  /* The parent's work is done. Exiting re-parents the child to the nearest subreaper (the engine's shim, conmon, or tsrunc's). */
  _exit(0);
}

static void op_unshare(struct msg *m) {
  uint64_t flags = get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  if (unshare((int)flags) < 0) FAIL("unshare");
  OK(0);
}

static void op_write_file(struct msg *m) {
  char *path = get_str(m);
  size_t len = 0;
  char *data = get_bytes(m, &len);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int fd;
  if (opts & OPT_IN_ROOT) {
    struct open_how how = { .flags = O_WRONLY | O_CLOEXEC | O_TRUNC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS };
    while (*path == '/') path++;
    fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
  } else {
    fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC | ((opts & OPT_NO_FOLLOW) ? O_NOFOLLOW : 0));
  }
  if (fd < 0) FAIL("open");
  if (write_full(fd, data, len) < 0) { int e = errno; close(fd); errno = e; FAIL("write"); }
  if (close(fd) < 0) FAIL("close");
  OK(0);
}

/*
 * tmpcopyup: copies the tree under src (the directory a new tmpfs now hides,
 * still reachable through this fd) into dst (the new tmpfs), keeping modes
 * and owners, as runc does. Every name is opened relative to its directory
 * fd without following symlinks: links are copied as links, never read
 * through, so a rootfs cannot make this copy anything outside itself.
 */
static int copy_tree(int src, int dst, int depth) {
  if (depth > 128) { errno = ELOOP; return -1; }
  int dfd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) { if (dfd >= 0) close(dfd); return -1; }
  int r = 0;
  struct dirent *e;
  while (r == 0 && (errno = 0, e = readdir(d))) {
    const char *n = e->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
    struct stat st;
    if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0) { r = -1; break; }
    mode_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst, n, 0700) < 0) { r = -1; break; }
      int s2 = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int d2 = s2 >= 0 ? openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      r = d2 >= 0 ? copy_tree(s2, d2, depth + 1) : -1;
      int e2 = errno;
      if (s2 >= 0) close(s2);
      if (d2 >= 0) close(d2);
      errno = e2;
    } else if (S_ISREG(st.st_mode)) {
      int in = openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      int out = in >= 0 ? openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
      char buf[65536];
      ssize_t k = out >= 0 ? 0 : -1;
      while (out >= 0 && (k = read(in, buf, sizeof buf)) > 0)
        if (write_full(out, buf, (size_t)k) < 0) { k = -1; break; }
      int e2 = errno;
      if (in >= 0) close(in);
      if (out >= 0) close(out);
      errno = e2;
      if (k < 0) r = -1;
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t k = readlinkat(src, n, target, sizeof target - 1);
      if (k < 0) { r = -1; break; }
      target[k] = 0;
      if (symlinkat(target, dst, n) < 0) r = -1;
    } else if (mknodat(dst, n, st.st_mode, st.st_rdev) < 0) {
      r = -1;
    }
    if (r < 0) break;
    /* The owner, then the mode (chown clears set-id bits); a link has no mode of its own. */
    if (fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) { r = -1; break; }
    if (!S_ISLNK(st.st_mode) && fchmodat(dst, n, perm, 0) < 0) { r = -1; break; }
  }
  if (r == 0 && errno) r = -1;
  int err = errno;
  closedir(d);
  errno = err;
  return r;
}

static void op_mount(struct msg *m) {
  char *src = get_str(m), *tgt = get_str(m), *fstype = get_str(m);
  unsigned long flags = (unsigned long)get_u64(m);
  char *data = get_str(m);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  char tbuf[64], sbuf[64];
  const char *target = tgt, *source = nz(src);
  int tfd = -1, sfd = -1;
  if (opts & OPT_IN_ROOT) {
    tfd = open_in_root(tgt, O_PATH, 0);
    if (tfd < 0) FAIL("open mount target");
    fd_path(tbuf, sizeof tbuf, tfd);
    target = tbuf;
  }
  if ((opts & OPT_SRC_IN_ROOT) && source) {
    sfd = open_in_root(src, O_PATH, 0);
    if (sfd < 0) { int e = errno; if (tfd >= 0) close(tfd); errno = e; FAIL("open mount source"); }
    fd_path(sbuf, sizeof sbuf, sfd);
    source = sbuf;
  }
  /* tmpcopyup: hold the directory about to be covered; its tree is copied into the new mount. */
  int old = -1;
  if ((opts & OPT_COPY_UP) && (opts & OPT_IN_ROOT)) {
    old = open_in_root(tgt, O_RDONLY | O_DIRECTORY, 0);
    if (old < 0) { int e = errno; close(tfd); if (sfd >= 0) close(sfd); errno = e; FAIL("open the directory to copy up"); }
  }
  int r = mount(source, target, nz(fstype), flags, nz(data));
  int e = errno;
  if (tfd >= 0) close(tfd);
  if (sfd >= 0) close(sfd);
  if (r < 0) { if (old >= 0) close(old); errno = e; FAIL("mount"); }
  if (old >= 0) {
    int fresh = open_in_root(tgt, O_RDONLY | O_DIRECTORY, 0);
    r = fresh >= 0 ? copy_tree(old, fresh, 0) : -1;
    e = errno;
    close(old);
    if (fresh >= 0) close(fresh);
    errno = e;
    if (r < 0) FAIL("copy up into the tmpfs");
  }
  OK(0);
}

static void op_umount(struct msg *m) {
  char *tgt = get_str(m);
  int flags = (int)get_u64(m);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  char buf[64];
  const char *target = tgt;
  int fd = -1;
  if (opts & OPT_IN_ROOT) {
    fd = open_in_root(tgt, O_PATH | O_NOFOLLOW, 0);
    if (fd < 0) FAIL("open");
    fd_path(buf, sizeof buf, fd);
    target = buf;
  }
  int r = umount2(target, flags);
  int e = errno;
  if (fd >= 0) close(fd);
  errno = e;
  if (r < 0) FAIL("umount");
  OK(0);
}

static void op_mkdir_all(struct msg *m) {
  char *path = get_str(m);
  mode_t mode = (mode_t)get_u64(m);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  if (mkdir_all(path, mode, opts) < 0) FAIL("mkdir");
  OK(0);
}

/*
 * Makes sure a file exists at path to mount over. Inside the root a symlink
 * on the way, the last component included, is followed the way the kernel
 * would with the root as "/" (a bind onto /etc/localtime -> /usr/share/...
 * lands on its target, inside the root, as runc does); a dangling one gets
 * its target created there. On the host, a symlink in the last component is
 * refused (ELOOP).
 */
static int mkfile_depth(const char *path, mode_t mode, unsigned opts, int depth) {
  if (depth > 40) { errno = ELOOP; return -1; }
  if (opts & OPT_IN_ROOT) {
    int fd = open_in_root(path, O_PATH, 0);
    if (fd >= 0) { close(fd); return 0; } /* there already (any type can be mounted over) */
    if (errno != ENOENT) return -1;
  }
  char *base;
  int pfd = open_parent(path, opts, &base);
  if (pfd < 0) return -1;
  int fd = openat(pfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
  int e = errno, r = 0;
  if (fd >= 0) {
    close(fd);
  } else if (e == ELOOP && (opts & OPT_IN_ROOT)) {
    /* A dangling symlink: create what it points to, resolved inside the root. */
    char target[PATH_MAX];
    ssize_t n = readlinkat(pfd, base, target, sizeof target - 1);
    if (n < 0) { r = -1; e = errno; }
    else {
      target[n] = 0;
      char *dir = NULL, *unused = NULL;
      char next[2 * PATH_MAX + 2];
      if (target[0] == '/') snprintf(next, sizeof next, "%s", target);
      else { dir = split_last(path, &unused); snprintf(next, sizeof next, "%s/%s", dir, target); }
      free(dir);
      free(unused);
      r = mkfile_depth(next, mode, opts, depth + 1);
      e = errno;
    }
  } else if (e != EISDIR && e != ENXIO) {
    /* An existing non-regular target (a directory, a device) is fine: it can still be mounted over. */
    r = -1;
  }
  close(pfd);
  free(base);
  errno = e;
  return r;
}

static void op_mkfile(struct msg *m) {
  char *path = get_str(m);
  mode_t mode = (mode_t)get_u64(m);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  if (mkfile_depth(path, mode, opts, 0) < 0) FAIL("create file");
  OK(0);
}

static void op_mknod(struct msg *m) {
  char *path = get_str(m), *base;
  mode_t mode = (mode_t)get_u64(m);
  dev_t dev = (dev_t)get_u64(m);
  uid_t uid = (uid_t)get_u64(m);
  gid_t gid = (gid_t)get_u64(m);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int pfd = open_parent(path, opts, &base);
  if (pfd < 0) FAIL("open parent");
  /* An existing node is replaced only if it is not a directory (unlinkat without AT_REMOVEDIR). */
  if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT) { int e = errno; close(pfd); errno = e; FAIL("remove existing"); }
  if (mknodat(pfd, base, mode, dev) < 0) { int e = errno; close(pfd); errno = e; FAIL("mknod"); }
  /* mknod honours the umask; the spec's fileMode is exact. */
  if (fchmodat(pfd, base, mode & 07777, 0) < 0 || fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
    int e = errno; close(pfd); errno = e; FAIL("chmod/chown");
  }
  close(pfd);
  OK(0);
}

static void op_bind_device(struct msg *m) {
  char *host = get_str(m), *tgt = get_str(m), *base;
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int pfd = open_parent(tgt, OPT_IN_ROOT, &base);
  if (pfd < 0) FAIL("open parent");
  int fd = openat(pfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0 && errno != ENXIO && errno != EISDIR && errno != EACCES) { int e = errno; close(pfd); errno = e; FAIL("create target"); }
  if (fd >= 0) close(fd);
  close(pfd);
  int tfd = open_in_root(tgt, O_PATH, RESOLVE_NO_SYMLINKS);
  if (tfd < 0) FAIL("open target");
  char buf[64];
  fd_path(buf, sizeof buf, tfd);
  int r = mount(host, buf, NULL, MS_BIND, NULL);
  int e = errno;
  close(tfd);
  errno = e;
  if (r < 0) FAIL("bind mount");
  OK(0);
}

static void op_symlink(struct msg *m) {
  char *target = get_str(m), *link = get_str(m), *base;
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int pfd = open_parent(link, opts, &base);
  if (pfd < 0) FAIL("open parent");
  int r = symlinkat(target, pfd, base);
  int e = errno;
  close(pfd);
  errno = e;
  if (r < 0 && e != EEXIST) FAIL("symlink");
  OK(0);
}

static void op_set_root(struct msg *m) {
  char *path = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) FAIL("open root");
  if (root_fd >= 0) close(root_fd);
  root_fd = fd;
  OK(0);
}

static void op_pivot_root(struct msg *m) {
  char *path = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) FAIL("open /");
  int newroot = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) FAIL("open new root");
  if (fchdir(newroot) < 0) FAIL("chdir new root");
  /* pivot_root(".", ".") stacks the old root on top of the new one; it is then unmounted from under us. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) FAIL("pivot_root");
  if (fchdir(oldroot) < 0) FAIL("chdir old root");
  /* Make the old root a slave first so the unmount cannot propagate to the host. */
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) FAIL("make old root rslave");
  if (umount2(".", MNT_DETACH) < 0) FAIL("unmount old root");
  if (chdir("/") < 0) FAIL("chdir /");
  close(oldroot);
  close(newroot);
  if (root_fd >= 0) close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) FAIL("open /");
  OK(0);
}

static void op_chroot(struct msg *m) {
  char *path = get_str(m);
  uint64_t move = get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  if (chdir(path) < 0) FAIL("chdir new root");
  if (move && mount(path, "/", NULL, MS_MOVE, NULL) < 0) FAIL("move root");
  if (chroot(".") < 0) FAIL("chroot");
  if (chdir("/") < 0) FAIL("chdir /");
  if (root_fd >= 0) close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) FAIL("open /");
  OK(0);
}

static void op_connect_socket(struct msg *m) {
  char *path = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof addr.sun_path) { errno = ENAMETOOLONG; FAIL("socket path"); }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) FAIL("socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { int e = errno; close(fd); errno = e; FAIL("connect"); }
  OK(fd);
}

static void op_set_exec_label(struct msg *m) {
  plan.label_file = get_str(m);
  plan.label = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  OK(0);
}

static void op_set_personality(struct msg *m) {
  plan.personality = (long)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  OK(0);
}

static void op_set_affinity(struct msg *m) {
  size_t len = 0;
  char *mask = get_bytes(m, &len);
  if (m->bad || len == 0) { errno = EINVAL; FAIL("bad request"); }
  if (sched_setaffinity(0, len, (cpu_set_t *)mask) < 0) FAIL("sched_setaffinity");
  OK(0);
}

/* Dumpable only while tsrunc (not host root) writes the id maps of a fresh user namespace: nothing of the container runs yet. */
static void op_set_dumpable(struct msg *m) {
  uint64_t on = get_u64(m);
  if (m->bad || on > 1) { errno = EINVAL; FAIL("bad request"); }
  if (prctl(PR_SET_DUMPABLE, (unsigned long)on, 0, 0, 0) < 0) FAIL("prctl PR_SET_DUMPABLE");
  OK(0);
}

static void op_become_root(void) {
  /* Dropping supplementary groups is refused once setgroups is "deny"; that is fine. */
  if (setgroups(0, NULL) < 0 && errno != EPERM) FAIL("setgroups");
  if (setresgid(0, 0, 0) < 0) FAIL("setresgid 0");
  if (setresuid(0, 0, 0) < 0) FAIL("setresuid 0");
  OK(0);
}

/*
 * The container's own session keyring (runc: "_ses.<id>"), joined now by the
 * container process, so it does not share the caller's. Its permissions get
 * the search bit the process will need once it changes user. No keyrings in
 * the kernel (ENOSYS) is not an error, as in runc: they are best-effort.
 */
static void op_join_session_keyring(struct msg *m) {
  char *name = get_str(m);
  uint64_t add = get_u64(m);
  if (m->bad || !*name) { errno = EINVAL; FAIL("bad request"); }
  long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
  if (id < 0) {
    if (errno == ENOSYS) OK(0);
    FAIL("join a session keyring");
  }
  if (!add) OK(0); /* exec: join the container's keyring as it is */
  /* KEYCTL_DESCRIBE: "type;uid;gid;perm;description", perm in hex. */
  char desc[512];
  long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1);
  if (n < 0) FAIL("describe the session keyring");
  desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = 0;
  char *p = desc;
  for (int field = 0; field < 3 && p; field++) p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL;
  if (!p) { errno = EINVAL; FAIL("describe the session keyring"); }
  unsigned long perm = strtoul(p, NULL, 16);
  if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, (unsigned long)(perm | add)) < 0) FAIL("set the session keyring's permissions");
  OK(0);
}

static void op_sethostname(struct msg *m, int domain) {
  char *name = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  if ((domain ? setdomainname(name, strlen(name)) : sethostname(name, strlen(name))) < 0)
    FAIL(domain ? "setdomainname" : "sethostname");
  OK(0);
}

/*
 * Bind sources of a container in a user namespace: its root cannot traverse
 * host directories only the host's root may enter (a 0700 volume parent),
 * so the source is cloned as a detached mount tree before the user namespace
 * exists, and attached inside later (as runc does with open_tree/move_mount).
 */
struct tsrunc_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#define TSRUNC_AT_RECURSIVE 0x8000
#define TSRUNC_MOUNT_ATTR_IDMAP 0x100000

static int write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = write_full(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return r < 0 ? -1 : 0;
}

/*
 * A user namespace that has the given maps, for MOUNT_ATTR_IDMAP: a child
 * is cloned into a new one, the maps are written from here (as the host's
 * root), its namespace is opened, and the child ends. Returns the fd.
 */
static int idmap_userns(const char *uid_map, const char *gid_map) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
  if (pid == 0) {
    char c;
    close(p[1]);
    (void)!read(p[0], &c, 1); /* EOF: the parent is done with us */
    _exit(0);
  }
  int e = errno, fd = -1;
  close(p[0]);
  if (pid > 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    if (write_text(path, uid_map) == 0) {
      snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
      if (write_text(path, gid_map) == 0) {
        snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
      }
    }
    e = errno;
  }
  close(p[1]);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  errno = e;
  return fd;
}

static void op_open_tree(struct msg *m) {
  char *path = get_str(m);
  uint64_t recursive = get_u64(m);
  char *uid_map = get_str(m), *gid_map = get_str(m);
  uint64_t idmap_recursive = get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  unsigned flags = 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC | (recursive ? TSRUNC_AT_RECURSIVE : 0);
  long fd = syscall(SYS_open_tree, AT_FDCWD, path, flags);
  if (fd < 0) FAIL("open_tree");
  if (*uid_map || *gid_map) {
    int ns = idmap_userns(uid_map, gid_map);
    if (ns < 0) { int e = errno; close((int)fd); errno = e; FAIL("make the id-mapping user namespace"); }
    struct tsrunc_mount_attr attr = { .attr_set = TSRUNC_MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns };
    long r = syscall(SYS_mount_setattr, (int)fd, "", AT_EMPTY_PATH | (idmap_recursive ? TSRUNC_AT_RECURSIVE : 0), &attr, sizeof attr);
    int e = errno;
    close(ns);
    if (r < 0) { close((int)fd); errno = e; FAIL("id-map the mount"); }
  }
  OK(fd);
}

static void op_mount_setattr(struct msg *m) {
  char *tgt = get_str(m);
  struct tsrunc_mount_attr attr = { .attr_set = get_u64(m), .attr_clr = get_u64(m) };
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  int tfd = (opts & OPT_IN_ROOT) ? open_in_root(tgt, O_PATH, 0) : open(tgt, O_PATH | O_CLOEXEC);
  if (tfd < 0) FAIL("open mount target");
  long r = syscall(SYS_mount_setattr, tfd, "", AT_EMPTY_PATH | TSRUNC_AT_RECURSIVE, &attr, sizeof attr);
  int e = errno;
  close(tfd);
  errno = e;
  if (r < 0) FAIL("mount_setattr");
  OK(0);
}

static void op_move_mount(struct msg *m) {
  int fd = (int)get_u64(m);
  char *tgt = get_str(m);
  unsigned opts = (unsigned)get_u64(m);
  if (m->bad || fd < 0) { errno = EINVAL; FAIL("bad request"); }
  int tfd = (opts & OPT_IN_ROOT) ? open_in_root(tgt, O_PATH, 0) : open(tgt, O_PATH | O_CLOEXEC);
  if (tfd < 0) FAIL("open mount target");
  long r = syscall(SYS_move_mount, fd, "", tfd, "", 0x4 /* MOVE_MOUNT_F_EMPTY_PATH */ | 0x40 /* MOVE_MOUNT_T_EMPTY_PATH */);
  int e = errno;
  close(tfd);
  close(fd);
  errno = e;
  if (r < 0) FAIL("move_mount");
  OK(0);
}

/* A new network namespace has "lo" down: bring it up so 127.0.0.1 works (healthchecks, redis-cli), as runc does. */
static void op_loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) FAIL("socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(s);
  errno = e;
  if (r < 0) FAIL("set lo up");
  OK(0);
}

/*
 * Opens a path of the container (masked and read-only paths, /dev/null)
 * without following a symlink anywhere on the way. Returns the fd, 0 when the
 * path does not exist (nothing to do), or -1 with errno (ELOOP for a symlink:
 * O_NOFOLLOW on an O_PATH open yields the link itself, and masking the link
 * would hide nothing while following it could reach anywhere).
 */
static int open_exact(const char *path, struct stat *st) {
  int fd = open_in_root(path, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  if (fstat(fd, st) < 0 || S_ISLNK(st->st_mode)) {
    int e = S_ISLNK(st->st_mode) ? ELOOP : errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/*
 * maskedPaths: a file gets the container's /dev/null bound over it, a
 * directory an empty read-only tmpfs. /dev/null itself is opened without
 * following symlinks and checked to be the real 1:3 character device, so a
 * rootfs cannot swap it for a link to e.g. /proc/sysrq-trigger and have that
 * bound writable over the masked path (runc's 2025 advisories).
 */
static void op_mask_path(struct msg *m) {
  char *path = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  struct stat st;
  int tfd = open_exact(path, &st);
  if (tfd == 0) OK(0); /* nothing to mask */
  if (tfd < 0) FAIL(errno == ELOOP ? "is a symlink" : "open");
  char tbuf[64], sbuf[64];
  fd_path(tbuf, sizeof tbuf, tfd);
  int r;
  if (S_ISDIR(st.st_mode)) {
    r = mount("tmpfs", tbuf, "tmpfs", MS_RDONLY, "size=0,mode=0500");
  } else {
    struct stat ns;
    int nfd = open_exact("/dev/null", &ns);
    if (nfd <= 0) { if (nfd == 0) errno = ENOENT; FAIL("open /dev/null"); }
    if (!S_ISCHR(ns.st_mode) || major(ns.st_rdev) != 1 || minor(ns.st_rdev) != 3) { errno = EPERM; FAIL("/dev/null is not the null device"); }
    fd_path(sbuf, sizeof sbuf, nfd);
    r = mount(sbuf, tbuf, NULL, MS_BIND, NULL);
    close(nfd);
  }
  int e = errno;
  close(tfd);
  errno = e;
  if (r < 0) FAIL("mount");
  OK(0);
}

static unsigned long statvfs_mount_flags(int fd) {
  struct statvfs sv;
  unsigned long f = 0;
  if (fstatvfs(fd, &sv) < 0) return 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static void op_readonly_path(struct msg *m) {
  char *path = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  struct stat st;
  int tfd = open_exact(path, &st);
  if (tfd == 0) OK(0); /* nothing to make read-only */
  if (tfd < 0) FAIL(errno == ELOOP ? "is a symlink" : "open");
  char buf[64];
  fd_path(buf, sizeof buf, tfd);
  /* "/" is already a mount (the rootfs bind); a second bind would stack a mount that our root does not see. */
  if (strcmp(path, "/") && mount(buf, buf, NULL, MS_BIND | MS_REC, NULL) < 0) FAIL("bind");
  close(tfd);
  /* Re-open: the fd above points below the new bind mount. */
  tfd = open_in_root(path, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  if (tfd < 0) FAIL("reopen");
  fd_path(buf, sizeof buf, tfd);
  /* Flags locked on the original mount (nosuid, nodev, ...) must be kept, or the remount fails in a user namespace. */
  unsigned long keep = statvfs_mount_flags(tfd);
  if (mount(NULL, buf, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | keep, NULL) < 0) FAIL("remount read-only");
  close(tfd);
  OK(0);
}

static void op_set_exec(struct msg *m) {
  plan.args = get_strs(m);
  plan.env = get_strs(m);
  plan.cwd = get_str(m);
  if (m->bad || !plan.args || !plan.args[0]) { errno = EINVAL; FAIL("bad request"); }
  OK(0);
}

static void op_set_user(struct msg *m) {
  uid_t uid = (uid_t)get_u64(m);
  gid_t gid = (gid_t)get_u64(m);
  uint64_t um = get_u64(m);
  int setgroups = (int)get_u64(m);
  char **gids = get_strs(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  size_t n = 0;
  while (gids[n]) n++;
  gid_t *list = calloc(n + 1, sizeof *list);
  if (!list) FAIL("calloc");
  for (size_t i = 0; i < n; i++) {
    uint32_t g;
    if (parse_id(gids[i], &g) < 0) { free(list); errno = EINVAL; FAIL("bad request: a group id is not a decimal number"); }
    list[i] = (gid_t)g;
  }
  /* Recorded only once all of it parsed: a refused request changes nothing. */
  plan.uid = uid;
  plan.gid = gid;
  plan.umask = um == UINT64_MAX ? -1 : (long)um;
  plan.setgroups = setgroups;
  free(plan.gids);
  plan.gids = list;
  plan.ngids = n;
  plan.has_user = 1;
  OK(0);
}

static void op_set_caps(struct msg *m) {
  for (int i = 0; i < 5; i++) plan.caps[i] = get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  plan.has_caps = 1;
  OK(0);
}

static void op_set_rlimit(struct msg *m) {
  int res = (int)get_u64(m);
  uint64_t soft = get_u64(m), hard = get_u64(m);
  if (m->bad || plan.nrlimits >= MAX_RLIMITS) { errno = EINVAL; FAIL("bad request"); }
  plan.rlimits[plan.nrlimits].res = res;
  plan.rlimits[plan.nrlimits].lim.rlim_cur = (rlim_t)soft;
  plan.rlimits[plan.nrlimits].lim.rlim_max = (rlim_t)hard;
  plan.nrlimits++;
  OK(0);
}

static void op_set_seccomp(struct msg *m) {
  size_t len = 0;
  char *prog = get_bytes(m, &len);
  plan.seccomp_flags = (unsigned)get_u64(m);
  if (m->bad || len == 0 || len % sizeof(struct sock_filter)) { errno = EINVAL; FAIL("bad request"); }
  plan.seccomp = (struct sock_filter *)prog;
  plan.seccomp_len = len / sizeof(struct sock_filter);
  OK(0);
}

static void op_set_seccomp_listener(struct msg *m) {
  plan.listener_sock = (int)get_u64(m);
  plan.listener_state = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  OK(0);
}

static void op_set_start_fifo(struct msg *m) {
  char *dir = get_str(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  /* Held as a directory fd so the fifo stays reachable after pivot_root; closed by execve (CLOEXEC). */
  plan.fifo_dir = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (plan.fifo_dir < 0) FAIL("open state directory");
  OK(0);
}

static void op_set_console(struct msg *m) {
  plan.console_sock = (int)get_u64(m);
  plan.rows = (unsigned short)get_u64(m);
  plan.cols = (unsigned short)get_u64(m);
  if (m->bad) { errno = EINVAL; FAIL("bad request"); }
  OK(0);
}

/* ---- hooks: fork, exec with the state on stdin, enforce the timeout ---- */

/* cwd_fd: the hook's working directory (-1: ours). */
static int run_hook(struct hook *h, int cwd_fd, char *err, size_t errlen) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) { snprintf(err, errlen, "pipe: %s", strerror(errno)); return -1; }
  pid_t pid = fork();
  if (pid < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); return -1; }
  if (pid == 0) {
    dup2(in[0], 0);
    if (cwd_fd >= 0 && fchdir(cwd_fd) < 0) _exit(127);
    execve(h->argv[0], h->argv + 1, h->env);
    _exit(127);
  }
  close(in[0]);
  /* The state is small (well under a pipe buffer); a hook that never reads it must not block us. */
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  if (h->stdin_data) (void)!write(in[1], h->stdin_data, strlen(h->stdin_data));
  close(in[1]);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
      if (WIFEXITED(status)) snprintf(err, errlen, "%s: exit status %d", h->argv[0], WEXITSTATUS(status));
      else snprintf(err, errlen, "%s: killed by signal %d", h->argv[0], WTERMSIG(status));
      return -1;
    }
    if (r < 0 && errno != EINTR) { snprintf(err, errlen, "wait: %s", strerror(errno)); return -1; }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (h->timeout > 0 && now.tv_sec - start.tv_sec >= h->timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      snprintf(err, errlen, "%s: timed out after %lds", h->argv[0], h->timeout);
      return -1;
    }
    usleep(2000);
  }
}

static int get_hook(struct msg *m, struct hook *h) {
  h->argv = get_strs(m);
  h->env = get_strs(m);
  h->timeout = (long)get_u64(m);
  h->stdin_data = get_str(m);
  return m->bad || !h->argv || !h->argv[0] || !h->argv[1] ? -1 : 0;
}

static void op_add_hook(struct msg *m) {
  if (plan.nhooks >= MAX_HOOKS || get_hook(m, &plan.hooks[plan.nhooks]) < 0) { errno = EINVAL; FAIL("bad request"); }
  plan.nhooks++;
  OK(0);
}

static void op_run_hook(struct msg *m) {
  struct hook h;
  char err[512];
  if (get_hook(m, &h) < 0) { errno = EINVAL; FAIL("bad request"); }
  /* createContainer hooks run in the container's root filesystem (before pivot_root), as runc's do. */
  if (run_hook(&h, root_fd, err, sizeof err) < 0) { errno = 0; reply(ECANCELED, 0, err); return; }
  OK(0);
}

/* ---- the final request ---- */

static int send_fd(int sock, int fd, const char *data, size_t len) {
  struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

/* Loads the filter; with a listener (SCMP_ACT_NOTIFY), sends the notify fd and the container's state to it. */
static int load_seccomp(void) {
  struct sock_fprog prog = { .len = (unsigned short)plan.seccomp_len, .filter = plan.seccomp };
  int r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccomp_flags, &prog);
  if (r < 0) return -1;
  if (plan.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
    if (plan.listener_sock < 0) { close(r); errno = ENOTCONN; return -1; }
    int e = send_fd(plan.listener_sock, r, plan.listener_state, strlen(plan.listener_state)) < 0 ? errno : 0;
    close(r);
    close(plan.listener_sock);
    if (e) { errno = e; return -1; }
  }
  return 0;
}

static int last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {0};
  int n = fd >= 0 ? (int)read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  return n > 0 ? atoi(buf) : 40; /* CAP_CHECKPOINT_RESTORE: the highest this program knows */
}

static int apply_caps_and_user(const char **failed) {
  int cap_max = last_cap();
  if (plan.has_caps) {
    for (int c = 0; c <= cap_max; c++)
      if (!(plan.caps[0] >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) { *failed = "drop bounding capability"; return -1; }
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) { *failed = "keep capabilities"; return -1; }
  if (plan.has_user) {
    if (plan.setgroups && setgroups(plan.ngids, plan.gids) < 0) { *failed = "setgroups"; return -1; }
    if (setresgid(plan.gid, plan.gid, plan.gid) < 0) { *failed = "setgid"; return -1; }
    if (setresuid(plan.uid, plan.uid, plan.uid) < 0) { *failed = "setuid"; return -1; }
  }
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) { *failed = "clear keep capabilities"; return -1; }
  if (plan.has_caps) {
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
      data[i].effective = (uint32_t)(plan.caps[1] >> (32 * i));
      data[i].inheritable = (uint32_t)(plan.caps[2] >> (32 * i));
      data[i].permitted = (uint32_t)(plan.caps[3] >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0) { *failed = "capset"; return -1; }
    for (int c = 0; c <= cap_max; c++)
      if ((plan.caps[4] >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) { *failed = "raise ambient capability"; return -1; }
  }
  return 0;
}

static const char *env_get(char **env, const char *name) {
  size_t n = strlen(name);
  for (char **e = env; e && *e; e++)
    if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

/* HOME, when the config does not set it, comes from the container's /etc/passwd, as in runc. */
static void add_home(void) {
  if (env_get(plan.env, "HOME")) return;
  const char *home = "/";
  static char line[4096], dir[PATH_MAX];
  FILE *f = fopen("/etc/passwd", "re");
  while (f && fgets(line, sizeof line, f)) {
    char *fields[7] = {0}, *s = line;
    int n = 0;
    for (; n < 7 && s; n++) { fields[n] = s; s = strchr(s, ':'); if (s) *s++ = 0; }
    if (n >= 6 && fields[2] && strtoul(fields[2], NULL, 10) == plan.uid && fields[5] && *fields[5]) {
      snprintf(dir, sizeof dir, "%s", fields[5]);
      home = dir;
      break;
    }
  }
  if (f) fclose(f);
  size_t n = 0;
  while (plan.env[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  memcpy(env, plan.env, n * sizeof *env);
  env[n] = malloc(strlen(home) + 6);
  sprintf(env[n], "HOME=%s", home);
  plan.env = env;
}

/* exec.LookPath semantics: a name with a slash is used as is, otherwise searched on the container's PATH. */
static char *look_path(const char *name) {
  if (strchr(name, '/')) return access(name, X_OK) == 0 ? strdup(name) : NULL;
  const char *path = env_get(plan.env, "PATH");
  if (!path || !*path) { errno = ENOENT; return NULL; }
  char *copy = strdup(path), *save = NULL;
  int err = ENOENT;
  for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    char buf[PATH_MAX];
    struct stat st;
    snprintf(buf, sizeof buf, "%s/%s", *dir ? dir : ".", name);
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(buf, X_OK) == 0) { free(copy); return strdup(buf); }
      err = EACCES;
    }
  }
  free(copy);
  errno = err;
  return NULL;
}

static int setup_console(const char **failed) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) { *failed = "open /dev/ptmx"; return -1; }
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) { *failed = "unlock pty"; return -1; }
  /* TIOCGPTPEER opens the slave through the master: no path lookup in a devpts the container controls. */
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) { *failed = "open pty slave"; return -1; }
  if (plan.rows || plan.cols) {
    struct winsize ws = { .ws_row = plan.rows, .ws_col = plan.cols };
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) { *failed = "set console size"; return -1; }
  }
  /* Hand the master to whoever listens on the console socket (containerd, conmon, tsrunc's shim). */
  if (send_fd(plan.console_sock, master, "/dev/ptmx", 9) < 0) { *failed = "send pty master on console socket"; return -1; }
  close(master);
  close(plan.console_sock);
  if (setsid() < 0) { *failed = "setsid"; return -1; }
  if (ioctl(slave, TIOCSCTTY, 0) < 0) { *failed = "set controlling terminal"; return -1; }
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) { *failed = "dup pty to stdio"; return -1; }
  if (slave > 2) close(slave);
  return 0;
}

/*
 * The process's stdio (its pty above all) belongs to its user, as runc's
 * fixStdioPermissions does: otherwise a non-root process could not reopen
 * its own terminal or /dev/stdout (mode 0620/0600, owner root). Only the
 * owner changes (the pty keeps devpts' tty group); /dev/null is left alone,
 * and a chown the kernel refuses (unmapped ids, read-only) is skipped.
 */
static int fix_stdio_owner(const char **failed) {
  struct stat null, st;
  int have_null = stat("/dev/null", &null) == 0;
  for (int fd = 0; fd < 3; fd++) {
    if (fstat(fd, &st) < 0) {
      if (errno == EBADF) continue;
      *failed = "stat stdio";
      return -1;
    }
    /* Unlike runc, a regular file (a log the caller redirected to) is not given away: only ttys, pipes, sockets. */
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) continue;
    if (st.st_uid == plan.uid || (have_null && st.st_rdev == null.st_rdev && S_ISCHR(st.st_mode))) continue;
    if (fchown(fd, plan.uid, (gid_t)-1) < 0) {
      if (errno == EINVAL || errno == EPERM || errno == EROFS) continue;
      *failed = "chown stdio to the user";
      return -1;
    }
  }
  return 0;
}

/*
 * A failure after the reply to OP_FINISH: exec (no start fifo) still has its
 * channel, and tsrunc waits for EOF there; create/start has the start fifo,
 * where `tsrunc start` reads everything after the "0" as the error. Both are
 * close-on-exec, so a successful execve shows up as EOF.
 */
static int start_fifo = -1;

__attribute__((format(printf, 2, 3)))
static void report_late(int err, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (err && n >= 0 && (size_t)n < sizeof msg) snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(err));
  if (chan >= 0) reply(err ? err : ECANCELED, 0, msg);
  else if (start_fifo >= 0) (void)!write(start_fifo, msg, strlen(msg));
  else dprintf(2, "tsrunc: %s\n", msg);
}

/*
 * Is the working directory below our root? Walk up with ".." until a
 * directory is its own parent: inside the root that is "/" itself (".." of
 * the root is the root); a cwd reached through a leaked fd climbs to some
 * other root instead (CVE-2024-21626). openat and fstat only: unlike
 * getcwd(2), container seccomp profiles allow them.
 */
static int cwd_inside_root(void) {
  struct stat root, cur, up;
  if (stat("/", &root) < 0) return 0;
  int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (int depth = 0; fd >= 0 && depth < 4096; depth++) {
    if (fstat(fd, &cur) < 0) break;
    if (cur.st_dev == root.st_dev && cur.st_ino == root.st_ino) { close(fd); return 1; }
    int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = parent;
    if (fd < 0 || fstat(fd, &up) < 0) break;
    if (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino) break; /* a root, and not ours */
  }
  if (fd >= 0) close(fd);
  return 0;
}

static void op_finish(void) {
  const char *failed = NULL;
  if (!plan.args) {
    /* A container created without a process (the spec allows it; `start` will refuse): hold its namespaces until it is deleted. */
    reply(0, 0, NULL);
    close(chan);
    for (;;) pause();
  }
  if (plan.console_sock >= 0 && setup_console(&failed) < 0) FAIL(failed);
  if (plan.has_user && fix_stdio_owner(&failed) < 0) FAIL(failed);
  /* The LSM label applies at the next execve; written while we may still open /proc and before seccomp. */
  if (plan.label_file) {
    int lfd = open(plan.label_file, O_WRONLY | O_CLOEXEC);
    if (lfd < 0 || write_full(lfd, plan.label, strlen(plan.label)) < 0) FAIL("set the exec label");
    close(lfd);
  }
  if (plan.personality >= 0 && personality((unsigned long)plan.personality) < 0) FAIL("personality");
  /* Nothing but stdio and the preserved fds may reach the container (CVE-2024-21626 class). */
  if (syscall(SYS_close_range, 3 + plan.preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) FAIL("mark fds close-on-exec");
  for (size_t i = 0; i < plan.nrlimits; i++)
    if (setrlimit(plan.rlimits[i].res, &plan.rlimits[i].lim) < 0) {
      static char d[64];
      snprintf(d, sizeof d, "setrlimit %d", plan.rlimits[i].res);
      FAIL(d);
    }
  /*
   * Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the caps
   * below may drop: load it now. Every syscall from here to execve must then
   * be allowed by the container's profile, as with runc: capset, prctl,
   * setgroups, setres[ug]id, chdir, getcwd, stat, access, open, write, execve.
   */
  if (plan.seccomp && !plan.no_new_privs && load_seccomp() < 0) FAIL("load seccomp filter");
  int chdir_done = 0;
  if (plan.cwd && *plan.cwd) {
    /* As root first (a volume only root can enter), again as the user after setuid if that was refused. */
    if (chdir(plan.cwd) == 0) chdir_done = 1;
    else if (errno != EACCES && errno != EPERM) FAIL("chdir to cwd");
  } else {
    chdir_done = 1;
  }
  /* The working directory must lie inside the container root, not be reachable only through a leaked fd. */
  if (chdir_done && !cwd_inside_root()) { errno = EPERM; FAIL("cwd is outside the container root"); }
  if (apply_caps_and_user(&failed) < 0) FAIL(failed);
  if (!chdir_done) {
    if (chdir(plan.cwd) < 0) FAIL("chdir to cwd");
    if (!cwd_inside_root()) { errno = EPERM; FAIL("cwd is outside the container root"); }
  }
  if (plan.umask >= 0) umask((mode_t)plan.umask);
  add_home();
  char *exe = look_path(plan.args[0]);
  if (!exe) {
    static char d[PATH_MAX + 64];
    /* As runc words it: a path is stat'ed, a bare name searched on $PATH. */
    if (strchr(plan.args[0], '/')) snprintf(d, sizeof d, "exec: stat %s", plan.args[0]);
    else snprintf(d, sizeof d, "exec: \"%s\": executable file not found in $PATH", plan.args[0]);
    FAIL(d);
  }
  if (plan.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) FAIL("set no_new_privs");
  int wait_start = plan.fifo_dir >= 0;
  reply(0, 0, NULL);
  if (wait_start) {
    /* Ready. The channel goes away; opening the fifo blocks until `tsrunc start` opens it for reading. */
    close(chan);
    chan = -1;
    start_fifo = openat(plan.fifo_dir, "exec.fifo", O_WRONLY | O_CLOEXEC);
    if (start_fifo < 0 || write(start_fifo, "0", 1) != 1) _exit(125);
    close(plan.fifo_dir);
    for (size_t i = 0; i < plan.nhooks; i++) {
      char err[512];
      if (run_hook(&plan.hooks[i], -1, err, sizeof err) < 0) {
        report_late(0, "startContainer hook failed: %s", err);
        _exit(126);
      }
    }
  }
  if (plan.seccomp && plan.no_new_privs && load_seccomp() < 0) {
    report_late(errno, "load seccomp filter");
    _exit(127);
  }
  execve(exe, plan.args, plan.env);
  report_late(errno, "exec %s", exe);
  _exit(127);
}

int main(int argc, char **argv) {
  if (argc == 2) {
    chan = atoi(argv[1]);
    /* Everything above the channel is inherited by accident (the engine's fds); close it now. */
    syscall(SYS_close_range, chan + 1, ~0U, 0);
  } else {
    fprintf(stderr, "tsrunc-init is started by tsrunc, not by hand\n");
    return 2;
  }
  prctl(PR_SET_NAME, "tsrunc-init", 0, 0, 0);
  /* Non-dumpable: nothing in the container can open /proc/<this>/exe, fds or memory (CVE-2019-5736 class). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  fcntl(chan, F_SETFD, FD_CLOEXEC);
  umask(022);
  signal(SIGPIPE, SIG_IGN);
  struct msg m = {0};
  while (read_msg(chan, &m, MAX_FRAME) == 0) {
    /* The whole request is checked before any of it is acted on (request.h). */
    const char *why;
    int bad = request_check(m.p, m.len, &why);
    if (bad) { reply(bad, 0, why); continue; }
    uint32_t op = get_u32(&m);
    errno = 0;
    switch (op) {
    case OP_JOIN_NAMESPACES: op_join_namespaces(&m); break;
    case OP_UNSHARE: op_unshare(&m); break;
    case OP_CLONE: op_clone(&m); break;
    case OP_WRITE_FILE: op_write_file(&m); break;
    case OP_MOUNT: op_mount(&m); break;
    case OP_MKDIR_ALL: op_mkdir_all(&m); break;
    case OP_MKFILE: op_mkfile(&m); break;
    case OP_MKNOD: op_mknod(&m); break;
    case OP_SYMLINK: op_symlink(&m); break;
    case OP_SET_ROOT: op_set_root(&m); break;
    case OP_PIVOT_ROOT: op_pivot_root(&m); break;
    case OP_CHROOT: op_chroot(&m); break;
    case OP_SETHOSTNAME: op_sethostname(&m, 0); break;
    case OP_SETDOMAINNAME: op_sethostname(&m, 1); break;
    case OP_UMOUNT: op_umount(&m); break;
    case OP_MASK_PATH: op_mask_path(&m); break;
    case OP_READONLY_PATH: op_readonly_path(&m); break;
    case OP_BIND_DEVICE: op_bind_device(&m); break;
    case OP_SET_EXEC: op_set_exec(&m); break;
    case OP_SET_USER: op_set_user(&m); break;
    case OP_SET_CAPS: op_set_caps(&m); break;
    case OP_SET_RLIMIT: op_set_rlimit(&m); break;
    case OP_SET_NO_NEW_PRIVS: plan.no_new_privs = 1; reply(0, 0, NULL); break;
    case OP_SET_SECCOMP: op_set_seccomp(&m); break;
    case OP_SET_START_FIFO: op_set_start_fifo(&m); break;
    case OP_SET_PRESERVE_FDS: plan.preserve_fds = (unsigned)get_u64(&m); reply(m.bad ? EINVAL : 0, 0, NULL); break;
    case OP_SET_CONSOLE: op_set_console(&m); break;
    case OP_ADD_HOOK: op_add_hook(&m); break;
    case OP_RUN_HOOK: op_run_hook(&m); break;
    case OP_SET_SECCOMP_LISTENER: op_set_seccomp_listener(&m); break;
    case OP_JOIN_SESSION_KEYRING: op_join_session_keyring(&m); break;
    case OP_BECOME_ROOT: op_become_root(); break;
    case OP_SET_DUMPABLE: op_set_dumpable(&m); break;
    case OP_CONNECT_SOCKET: op_connect_socket(&m); break;
    case OP_SET_EXEC_LABEL: op_set_exec_label(&m); break;
    case OP_SET_PERSONALITY: op_set_personality(&m); break;
    case OP_SET_AFFINITY: op_set_affinity(&m); break;
    case OP_SET_CLONE_CGROUP: op_set_clone_cgroup(&m); break;
    case OP_LOOPBACK_UP: op_loopback_up(); break;
    case OP_OPEN_TREE: op_open_tree(&m); break;
    case OP_MOVE_MOUNT: op_move_mount(&m); break;
    case OP_MOUNT_SETATTR: op_mount_setattr(&m); break;
    case OP_FINISH: op_finish(); break;
    default: reply(ENOSYS, 0, "unknown request"); break;
    }
  }
  /* EOF: tsrunc went away (failed or killed) before finishing; the half-built container must not run. */
  _exit(1);
}
