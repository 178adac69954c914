/*
 * tsrunc-shim: supervises containers that tsrunc starts on its own, for a
 * person at a shell (run, run -d, create/start without an engine). Under
 * containerd or conmon it is never used: their shim must be the reaper.
 *
 * It is a child subreaper and the container's parent. It reaps the container,
 * records how it ended in <state dir>/exit (exit code or signal, and when), and
 * in the foreground forwards signals, relays the terminal and exits with the
 * container's status. It allocates next to nothing and links statically, so
 * it stays well under 1 MiB of RSS for the container's lifetime.
 *
 *   tsrunc-shim supervise <state dir> <log file|-> -- <init> <args...>
 *       Detached: starts the init (from a sealed copy) as its child, learns
 *       the container's pid from <state dir>/pid once tsrunc writes it, reaps
 *       it, records its end. If the state directory disappears before a pid
 *       shows up, create failed and was cleaned up: the shim just exits.
 *   tsrunc-shim foreground <state dir|-> <pid> <console fd|-1> -- <cleanup command...>
 *       Replaces a foreground `tsrunc run` in place (execve; same pid, so it is
 *       already the container's parent): forwards signals or relays the
 *       terminal, records the end, runs the cleanup command, exits with
 *       the container's status (128+signal when it was killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sealed_exec.h"

static const char *state_dir;
static pid_t container = -1;

static void die(const char *what) {
  dprintf(2, "tsrunc-shim: %s: %s\n", what, strerror(errno));
  exit(1);
}

/*
 * <state dir>/exit, written atomically: {"pid":N,"exitCode":N,"signal":N,"exitedAt":"RFC3339"}.
 * Under the directory's flock, the lock every tsrunc command on the container
 * takes: a `delete` in progress finishes first (and then the directory is
 * gone, so nothing is written), and it never meets a half-written record.
 */
static void record_exit(int status) {
  char when[64];
  if (!strcmp(state_dir, "-")) return; /* an exec'd process: its end is not the container's */
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + n, sizeof when - n, ".%09ldZ", ts.tv_nsec);
  int dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return; /* the container was deleted under us */
  while (flock(dir, LOCK_EX) < 0 && errno == EINTR) {}
  /* In a directory removed while we waited, openat(O_CREAT) fails with ENOENT: nothing is left behind. */
  int fd = openat(dir, ".exit.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    dprintf(fd, "{\"pid\":%d,\"exitCode\":%d,\"signal\":%d,\"exitedAt\":\"%s\"}\n", container, code,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0, when);
    close(fd);
    renameat(dir, ".exit.tmp", dir, "exit");
  }
  close(dir); /* and with it the lock */
}

/* Reap every child that has ended; returns 1 (and the status) once the container is among them. */
static int reap(int *status) {
  int found = 0, st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0)
    if (p == container) { *status = st; found = 1; }
  return found;
}

static int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The container's pid from <state dir>/pid: 0 while not written yet, -1 if the directory is gone. */
static pid_t read_pid_file(void) {
  char path[4096], buf[32] = {0};
  snprintf(path, sizeof path, "%s/pid", state_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return access(state_dir, F_OK) == 0 ? 0 : -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 ? (pid_t)atoi(buf) : 0;
}

static int supervise(const char *log, char **init) {
  if (setsid() < 0 && errno != EPERM) die("setsid");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (log) {
      int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) die("open log");
    }
    extern char **environ;
    sealed_execv(init[0], init, environ);
    die("exec init");
  }
  /* The shim holds none of the container's stdio or of tsrunc's channel: their ends must see EOF without it. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; fd++) dup2(null, fd);
  for (int fd = 3; fd < 1024; fd++) if (fd != null) close(fd);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");

  /* Statuses of children that end before the pid file says which one is the container. */
  struct { pid_t pid; int status; } early[64];
  int nearly = 0;
  for (;;) {
    if (container <= 0) {
      container = read_pid_file();
      if (container < 0) return 0; /* create failed and cleaned up */
      for (int i = 0; i < nearly && container > 0; i++)
        if (early[i].pid == container) { record_exit(early[i].status); return 0; }
    }
    struct pollfd p = { .fd = sfd, .events = POLLIN };
    /* Until the pid is known, look again every 50 ms; afterwards only SIGCHLD matters. */
    if (poll(&p, 1, container > 0 ? -1 : 50) < 0 && errno != EINTR) die("poll");
    if (!p.revents) continue;
    struct signalfd_siginfo si;
    (void)!read(sfd, &si, sizeof si);
    int st;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
      if (container > 0 && r == container) { record_exit(st); return 0; }
      if (container <= 0 && r != child && nearly < 64) { early[nearly].pid = r; early[nearly].status = st; nearly++; }
    }
  }
}

/* ---- foreground ---- */

static struct termios saved_tty;
static int tty_saved = 0;

static void restore_tty(void) {
  if (tty_saved) tcsetattr(0, TCSANOW, &saved_tty);
}

static int receive_fd(int sock) {
  char data[64];
  struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) { errno = EBADMSG; return -1; }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static void copy(int from, int to, int *open_flag) {
  char buf[8192];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) { *open_flag = 0; return; }
  for (ssize_t off = 0; off < n;) {
    ssize_t w = write(to, buf + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += w;
  }
}

static void resize(int master) {
  struct winsize ws;
  if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
}

static int foreground(pid_t pid, int console, char **cleanup) {
  container = pid;
  int master = -1;
  if (console >= 0) {
    master = receive_fd(console);
    if (master < 0) die("receive pty master");
    close(console);
    if (isatty(0) && tcgetattr(0, &saved_tty) == 0) {
      struct termios raw = saved_tty;
      cfmakeraw(&raw);
      tcsetattr(0, TCSANOW, &raw);
      tty_saved = 1;
      atexit(restore_tty);
      resize(master);
    }
  }
  /* Every signal a person can send is forwarded; SIGCHLD is ours and SIGWINCH resizes the pty. */
  sigset_t mask;
  sigfillset(&mask);
  sigdelset(&mask, SIGKILL);
  sigdelset(&mask, SIGSTOP);
  sigdelset(&mask, SIGSEGV);
  sigdelset(&mask, SIGBUS);
  sigdelset(&mask, SIGILL);
  sigdelset(&mask, SIGFPE);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");
  int status = 0, done = reap(&status);
  int in_open = master >= 0, out_open = master >= 0;
  while (!done) {
    struct pollfd p[3] = {
      { .fd = sfd, .events = POLLIN },
      { .fd = out_open ? master : -1, .events = POLLIN },
      { .fd = in_open ? 0 : -1, .events = POLLIN },
    };
    if (poll(p, 3, -1) < 0) { if (errno == EINTR) continue; die("poll"); }
    if (p[1].revents) copy(master, 1, &out_open);
    if (p[2].revents) copy(0, master, &in_open);
    if (p[0].revents) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) != sizeof si) continue;
      if (si.ssi_signo == SIGCHLD) done = reap(&status);
      else if (si.ssi_signo == SIGWINCH) { if (master >= 0) resize(master); }
      else kill(container, (int)si.ssi_signo);
    }
  }
  /* Drain what the container wrote last before it exited. */
  while (master >= 0 && out_open) {
    struct pollfd p = { .fd = master, .events = POLLIN };
    if (poll(&p, 1, 50) <= 0) break;
    copy(master, 1, &out_open);
  }
  record_exit(status);
  restore_tty();
  sigprocmask(SIG_UNBLOCK, &mask, NULL);
  pid_t c = cleanup[0] ? fork() : -1;
  if (c == 0) {
    execv(cleanup[0], cleanup);
    _exit(127);
  }
  int st;
  while (c > 0 && waitpid(c, &st, 0) < 0 && errno == EINTR) {}
  return exit_code(status);
}

int main(int argc, char **argv) {
  int supervise_mode = argc >= 6 && !strcmp(argv[1], "supervise") && !strcmp(argv[4], "--");
  int foreground_mode = argc >= 6 && !strcmp(argv[1], "foreground") && !strcmp(argv[5], "--");
  if (!supervise_mode && !foreground_mode) {
    fprintf(stderr, "tsrunc-shim is started by tsrunc, not by hand\n");
    return 2;
  }
  state_dir = argv[2];
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) die("become subreaper");
  if (supervise_mode) return supervise(strcmp(argv[3], "-") ? argv[3] : NULL, argv + 5);
  return foreground((pid_t)atoi(argv[3]), atoi(argv[4]), argv + 6);
}
