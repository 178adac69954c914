/*
 * tsrunc: the command engines and people run. It forwards the command line
 * to a warm tsrunc server (Node, src/server/) and does, on the server's
 * request, what must happen in this very process: print, read stdin, fork
 * tsrunc-init or tsrunc-shim (so the container descends from whoever ran
 * tsrunc, exactly as with runc), become a subreaper, exec tsrunc-shim in
 * place for a foreground run, and exit with the command's status.
 *
 * Why: Node takes ~60 ms to start on every call, and engines call the
 * runtime 3-5 times per container. The server is started on first use, is
 * private to root and to this set of namespaces and this build, and exits
 * when idle. Without it (TSRUNC_SERVER=0, or if it cannot start) this
 * program runs `node dist/cli/main.js` in its place: same behaviour, slower.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "frame.h"
#include "sealed_exec.h"

#ifndef TSRUNC_NODE
#define TSRUNC_NODE "node"
#endif

extern char **environ;
static char pkg[PATH_MAX];   /* the package directory: <pkg>/addon/build/tsrunc is us */

static void fail(const char *what) {
  fprintf(stderr, "tsrunc: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* ---- frames ---- */

struct buf { uint8_t *p; size_t len, cap; };

static void put(struct buf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) fail("realloc");
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}
static void put_u32(struct buf *b, uint32_t v) { uint8_t x[4]; put_le(x, v, 4); put(b, x, 4); }
static void put_u64(struct buf *b, uint64_t v) { uint8_t x[8]; put_le(x, v, 8); put(b, x, 8); }
static void put_str(struct buf *b, const char *s, size_t n) { put_u32(b, (uint32_t)n); put(b, s, n); }
static void put_strs(struct buf *b, char **v) {
  uint32_t n = 0;
  while (v && v[n]) n++;
  put_u32(b, n);
  for (uint32_t i = 0; i < n; i++) put_str(b, v[i], strlen(v[i]));
}

/* Sends a frame whose body is b (the length prefix is added here). */
static void send_frame(int sock, struct buf *b) {
  uint8_t hdr[4];
  put_le(hdr, b->len, 4);
  if (write_full(sock, hdr, 4) < 0 || write_full(sock, b->p, b->len) < 0) fail("send to the tsrunc server");
  b->len = 0;
}

/* A message the server sent that does not parse: nothing sensible can follow. */
static void check(struct msg *m) {
  if (m->bad) { errno = EBADMSG; fail("bad message from the tsrunc server"); }
}

/* ---- finding or starting the server ---- */

/* Runs the command in-process instead: `node <pkg>/dist/cli/main.js args...`. */
static void exec_node(char **argv) {
  int argc = 0;
  while (argv[argc]) argc++;
  char **args = calloc((size_t)argc + 3, sizeof *args);
  char main_js[PATH_MAX + 32];
  snprintf(main_js, sizeof main_js, "%s/dist/cli/main.js", pkg);
  args[0] = TSRUNC_NODE;
  args[1] = main_js;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execvp(args[0], args);
  fail("exec node");
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *c = p;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
  return h;
}

/*
 * One server per build, user and set of namespaces: its hooks, mounts and
 * /proc lookups must see what this caller sees.
 */
static void socket_path(char *out, size_t n, const char *dir, const char *server_js) {
  uint64_t h = 0xcbf29ce484222325ULL;
  struct stat st;
  if (stat(server_js, &st) == 0) {
    h = fnv(h, &st.st_ino, sizeof st.st_ino);
    h = fnv(h, &st.st_mtim, sizeof st.st_mtim);
    h = fnv(h, &st.st_size, sizeof st.st_size);
  }
  uid_t uid = getuid();
  h = fnv(h, &uid, sizeof uid);
  static const char *ns[] = { "mnt", "pid", "net", "ipc", "uts", "user", "cgroup", "time" };
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
    char p[64], link[64] = {0};
    snprintf(p, sizeof p, "/proc/self/ns/%s", ns[i]);
    ssize_t r = readlink(p, link, sizeof link - 1);
    if (r > 0) h = fnv(h, link, (size_t)r);
  }
  snprintf(out, n, "%s/%016llx.sock", dir, (unsigned long long)h);
}

static int dial(const char *path) {
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof addr.sun_path) { errno = ENAMETOOLONG; return -1; }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}

/* Starts a server (detached, its own session, stdio on /dev/null) and waits until it answers. */
static int start_server(const char *dir, const char *path, const char *server_js) {
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) return -1;
  char lock[PATH_MAX + 8];
  snprintf(lock, sizeof lock, "%s.lock", path);
  int lfd;
  for (;;) {
    lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) < 0) return -1;
    /* A leaving server removes the lock file when no one holds it: ours must still be the one named. */
    struct stat held, named;
    if (fstat(lfd, &held) == 0 && stat(lock, &named) == 0 && held.st_ino == named.st_ino) break;
    close(lfd);
  }
  /* Someone else may have started it while we waited for the lock. */
  int fd = dial(path);
  if (fd >= 0) { close(lfd); return fd; }
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    /* Double fork: the server must not stay this caller's child (it would hold the caller's session). */
    setsid();
    if (fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR);
    for (int i = 0; i < 3; i++) dup2(null, i);
    syscall(SYS_close_range, 3, ~0U, 0);
    char *args[] = { TSRUNC_NODE, (char *)server_js, (char *)path, NULL };
    execvp(args[0], args);
    _exit(127);
  }
  waitpid(pid, NULL, 0);
  struct timespec delay = { 0, 2000000 };
  for (int i = 0; i < 1500 && fd < 0; i++) { /* up to ~3 s: a cold Node with its modules */
    nanosleep(&delay, NULL);
    fd = dial(path);
  }
  close(lfd);
  return fd;
}

/* ---- what the server asks of us ---- */

static void do_spawn(int sock, struct msg *m, struct buf *out, int *console_keep) {
  char **argv = get_strs(m);
  uint64_t flags = get_u64(m);
  int first_free = (int)get_u64(m);
  check(m);
  int pair[2] = { -1, -1 };
  if ((flags & SPAWN_CONSOLE_PAIR) && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) pair[0] = pair[1] = -1;
  pid_t pid = fork();
  if (pid == 0) {
    /* Only stdio and the preserved fds (< first_free) go on, plus the console end right after them. */
    if (pair[1] >= 0 && dup2(pair[1], first_free) < 0) _exit(127);
    syscall(SYS_close_range, (unsigned)first_free + (pair[1] >= 0 ? 1 : 0), ~0U, 0);
    if (flags & SPAWN_SETSID) setsid();
    if (flags & SPAWN_SEALED) sealed_execv(argv[0], argv, environ);
    else execv(argv[0], argv);
    fprintf(stderr, "tsrunc: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int e = errno;
  if (pair[1] >= 0) close(pair[1]);
  *console_keep = pair[0];
  put_u32(out, MSG_SPAWNED);
  put_u64(out, pid < 0 ? (uint64_t)(int64_t)-e : (uint64_t)pid);
  put_u64(out, pair[1] >= 0 ? (uint64_t)first_free : (uint64_t)(int64_t)-1);
  put_u64(out, (uint64_t)(int64_t)pair[0]);
  send_frame(sock, out);
}

static void do_exec(struct msg *m) {
  char **argv = get_strs(m), **env = get_strs(m), **keep = get_strs(m);
  check(m);
  for (char **k = keep; *k; k++) fcntl(atoi(*k), F_SETFD, 0);
  execve(argv[0], argv, env);
  fprintf(stderr, "tsrunc: exec %s: %s\n", argv[0], strerror(errno));
  exit(127);
}

static void do_read_stdin(int sock, struct buf *out) {
  struct buf in = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    put(&in, chunk, (size_t)r);
  }
  put_u32(out, MSG_INPUT);
  put_str(out, in.len ? (const char *)in.p : "", in.len);
  send_frame(sock, out);
  free(in.p);
}

int main(int argc, char **argv) {
  (void)argc;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) fail("readlink /proc/self/exe");
  exe[n] = 0;
  /* <pkg>/addon/build/tsrunc */
  snprintf(pkg, sizeof pkg, "%s", exe);
  for (int i = 0; i < 3; i++) {
    char *slash = strrchr(pkg, '/');
    if (slash) *slash = 0;
  }
  const char *mode = getenv("TSRUNC_SERVER");
  if (mode && !strcmp(mode, "0")) exec_node(argv);

  char server_js[PATH_MAX + 32], path[PATH_MAX];
  snprintf(server_js, sizeof server_js, "%s/dist/server/main.js", pkg);
  const char *dir = getenv("TSRUNC_SERVER_DIR");
  if (!dir || !*dir) dir = "/run/tsrunc-server";
  socket_path(path, sizeof path, dir, server_js);
  int sock = dial(path);
  if (sock < 0) sock = start_server(dir, path, server_js);
  if (sock < 0) exec_node(argv); /* no server: run in-process */

  struct buf out = {0};
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) fail("getcwd");
  put_u32(&out, MSG_HELLO);
  put_strs(&out, argv + 1);
  put_strs(&out, environ);
  put_str(&out, cwd, strlen(cwd));
  put_u64(&out, (uint64_t)getpid());
  send_frame(sock, &out);

  struct msg m = {0};
  int console_keep = -1;
  while (read_msg(sock, &m, 1u << 30) == 0) {
    uint32_t type = get_u32(&m);
    check(&m);
    switch (type) {
    case MSG_OUTPUT: {
      int fd = (int)get_u64(&m);
      size_t len = 0;
      char *data = get_bytes(&m, &len);
      check(&m);
      (void)!write_full(fd == 2 ? 2 : 1, data, len);
      free(data);
      break;
    }
    case MSG_SPAWN: do_spawn(sock, &m, &out, &console_keep); break;
    case MSG_READ_STDIN: do_read_stdin(sock, &out); break;
    case MSG_SUBREAPER:
      put_u32(&out, MSG_DONE);
      put_u64(&out, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? (uint64_t)(int64_t)-errno : 0);
      send_frame(sock, &out);
      break;
    case MSG_EXEC: do_exec(&m); break;
    case MSG_EXIT: {
      int code = (int)get_u64(&m);
      check(&m);
      exit(code);
    }
    default: errno = EBADMSG; fail("unknown message from the tsrunc server");
    }
  }
  fprintf(stderr, "tsrunc: the tsrunc server went away during the command\n");
  return 1;
}
