/*
 * Tests of tsrunc-init's frame and request parsing (frame.h, request.h) with
 * malformed, truncated and oversized input. Built with AddressSanitizer and
 * UBSan (Makefile: make -C addon test), so a read past a buffer aborts the run.
 *
 *   parser-test           the self-tests: "ok NAME" / "not ok NAME: detail"
 *                         lines, then "summary PASSED FAILED"; exit 1 on failure
 *   parser-test --check   reads frames from stdin (as tsrunc-init does) and
 *                         prints "<op> <errno> <why>" per frame: lets
 *                         test/addon/parser.test.ts feed requests encoded by
 *                         src/init/protocol.ts through the real checker
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>

#include "../frame.h"
#include "../build/protocol.h"
#include "../request.h"

static int passed, failed;
#define CHECK(name, cond, ...) do { \
    if (cond) { passed++; } \
    else { failed++; printf("not ok %s: ", name); printf(__VA_ARGS__); printf("\n"); } \
  } while (0)

/* ---- building bodies ---- */

struct buf { uint8_t *p; size_t len, cap; };
static void put(struct buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) { b->cap = (b->len + n) * 2 + 64; b->p = realloc(b->p, b->cap); }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}
static void put32(struct buf *b, uint32_t v) { uint8_t t[4]; put_le(t, v, 4); put(b, t, 4); }
static void put64(struct buf *b, uint64_t v) { uint8_t t[8]; put_le(t, v, 8); put(b, t, 8); }
static void putstr(struct buf *b, const char *s, size_t n) { put32(b, (uint32_t)n); put(b, s, n); }

/* Where each field of a body built by build() starts, and its kind. */
struct field { size_t off; char kind; };

/* A well-formed body for op, from its shape; fields[] gets the field offsets. */
static struct buf build(uint32_t op, struct field *fields, int *nfields) {
  struct buf b = {0};
  const char *shape = request_shape(op);
  put32(&b, op);
  *nfields = 0;
  for (const char *f = shape; *f; f++) {
    fields[(*nfields)++] = (struct field){ b.len, *f };
    switch (*f) {
    case 'u': put64(&b, 0x1122334455667788ull); break;
    case 'i': put64(&b, 1000); break;
    case 'f': put64(&b, 5); break;
    case 'n': put64(&b, 2); put64(&b, 0x10000000); putstr(&b, "/proc/1/ns/user", 15); put64(&b, 0x40000000); putstr(&b, "/run/netns/x", 12); break;
    case 's': putstr(&b, "/some/path", 10); break;
    case 'b': putstr(&b, "ab\0cdefg", 8); break;
    case 'S': put32(&b, 3); putstr(&b, "sh", 2); putstr(&b, "-c", 2); putstr(&b, "true", 4); break;
    }
  }
  return b;
}

/* Reads a checked body with the handlers' getters (frame.h): they must agree with the checker. */
static int read_like_handlers(const uint8_t *p, size_t len) {
  struct msg m = { (uint8_t *)p, len, 0, 0 };
  const char *shape = request_shape(get_u32(&m));
  for (const char *f = shape; *f && !m.bad; f++) {
    if (*f == 'u' || *f == 'i' || *f == 'f') get_u64(&m);
    else if (*f == 's' || *f == 'b') { size_t n; free(get_bytes(&m, &n)); }
    else if (*f == 'S') { char **v = get_strs(&m); for (size_t i = 0; v && v[i]; i++) free(v[i]); free(v); }
    else if (*f == 'n') { uint64_t c = get_u64(&m); for (uint64_t i = 0; i < c && !m.bad; i++) { get_u64(&m); free(get_str(&m)); } }
  }
  return !m.bad && m.off == m.len;
}

static const uint32_t ALL_OPS[] = {
  OP_JOIN_NAMESPACES, OP_UNSHARE, OP_CLONE, OP_WRITE_FILE, OP_MOUNT, OP_MKDIR_ALL, OP_MKFILE, OP_MKNOD, OP_SYMLINK,
  OP_SET_ROOT, OP_PIVOT_ROOT, OP_CHROOT, OP_SETHOSTNAME, OP_SETDOMAINNAME, OP_UMOUNT, OP_MASK_PATH, OP_READONLY_PATH,
  OP_BIND_DEVICE, OP_SET_EXEC, OP_SET_USER, OP_SET_CAPS, OP_SET_RLIMIT, OP_SET_NO_NEW_PRIVS, OP_SET_SECCOMP,
  OP_SET_START_FIFO, OP_SET_PRESERVE_FDS, OP_SET_CONSOLE, OP_ADD_HOOK, OP_FINISH, OP_RUN_HOOK, OP_SET_SECCOMP_LISTENER,
  OP_BECOME_ROOT, OP_CONNECT_SOCKET, OP_SET_EXEC_LABEL, OP_SET_PERSONALITY, OP_SET_AFFINITY, OP_SET_CLONE_CGROUP,
};
#define NOPS (sizeof ALL_OPS / sizeof ALL_OPS[0])

/* A heap copy of exactly n bytes: ASan catches a read of byte n. */
static uint8_t *exact(const uint8_t *p, size_t n) { uint8_t *c = malloc(n ? n : 1); if (n) memcpy(c, p, n); return n ? c : c; }

static int check_copy(const uint8_t *p, size_t n, const char **why) {
  uint8_t *c = exact(p, n);
  int r = request_check(c, n, why);
  free(c);
  return r;
}

/* ---- frame.h getters ---- */

static void test_getters(void) {
  struct buf b = {0};
  put32(&b, 7); put64(&b, 0xfedcba9876543210ull); putstr(&b, "hello", 5); put32(&b, 2); putstr(&b, "a", 1); putstr(&b, "", 0);
  /* The whole body parses to the values written. */
  uint8_t *c = exact(b.p, b.len);
  struct msg m = { c, b.len, 0, 0 };
  uint32_t a = get_u32(&m); uint64_t v = get_u64(&m); size_t n = 0; char *s = get_bytes(&m, &n); char **l = get_strs(&m);
  CHECK("getters: a whole body", !m.bad && m.off == m.len && a == 7 && v == 0xfedcba9876543210ull && n == 5 && s && !strcmp(s, "hello")
        && l && !strcmp(l[0], "a") && !strcmp(l[1], "") && !l[2], "bad=%d off=%zu", m.bad, m.off);
  free(s); if (l) { free(l[0]); free(l[1]); free(l); }
  free(c);
  /* Every truncation: bad is set, nothing is read past the end, off never passes len. */
  int ok = 1;
  for (size_t cut = 0; cut < b.len; cut++) {
    c = exact(b.p, cut);
    m = (struct msg){ c, cut, 0, 0 };
    get_u32(&m); get_u64(&m); free(get_bytes(&m, &n)); l = get_strs(&m);
    if (l) { for (size_t i = 0; l[i]; i++) free(l[i]); free(l); }
    if (!m.bad || m.off > m.len || l) { ok = 0; printf("# cut %zu: bad=%d off=%zu\n", cut, m.bad, m.off); }
    free(c);
  }
  CHECK("getters: every truncation is bad, no over-read", ok, "see above");
  free(b.p);

  /* A string length larger than what is left, up to 2^32-1. */
  uint32_t lens[] = { 6, 100, 0x7fffffff, 0xffffffff };
  ok = 1;
  for (size_t i = 0; i < 4; i++) {
    struct buf x = {0};
    put32(&x, lens[i]); put(&x, "12345", 5);
    c = exact(x.p, x.len);
    m = (struct msg){ c, x.len, 0, 0 };
    s = get_bytes(&m, &n);
    if (s || !m.bad) ok = 0;
    free(s); free(c); free(x.p);
  }
  CHECK("getters: a string longer than the body is bad", ok, "accepted");

  /* A list count above the limit is refused before any allocation for it. */
  struct buf x = {0};
  put32(&x, REQ_MAX_STRS + 1);
  c = exact(x.p, x.len);
  m = (struct msg){ c, x.len, 0, 0 };
  l = get_strs(&m);
  CHECK("getters: a list of more than REQ_MAX_STRS strings is bad", !l && m.bad, "accepted");
  free(c); free(x.p);
  x = (struct buf){0};
  put32(&x, 0xffffffff);
  c = exact(x.p, x.len);
  m = (struct msg){ c, x.len, 0, 0 };
  l = get_strs(&m);
  CHECK("getters: a list count of 2^32-1 is bad", !l && m.bad, "accepted");
  free(c); free(x.p);
}

/* ---- read_msg ---- */

static int pipe_with(const void *d, size_t n, int close_after) {
  int fds[2];
  if (pipe(fds) < 0) return -1;
  if (n && write(fds[1], d, n) != (ssize_t)n) return -1;
  if (close_after) close(fds[1]);
  return fds[0];
}

static void test_read_msg(void) {
  struct msg m = {0};
  uint8_t frame[9] = { 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
  int fd = pipe_with(frame, sizeof frame, 1);
  CHECK("read_msg: a frame", read_msg(fd, &m, 64) == 0 && m.len == 5 && !memcmp(m.p, "hello", 5) && m.off == 0 && !m.bad, "len=%zu", m.len);
  CHECK("read_msg: EOF after it", read_msg(fd, &m, 64) == -1, "read more");
  close(fd);

  uint8_t empty[4] = { 0, 0, 0, 0 };
  fd = pipe_with(empty, 4, 1);
  CHECK("read_msg: an empty frame", read_msg(fd, &m, 64) == 0 && m.len == 0, "len=%zu", m.len);
  close(fd);

  /* Above the limit: refused from the header alone, the body is not read. */
  uint8_t big[8] = { 65, 0, 0, 0, 'x', 'y', 'z', 'w' };
  fd = pipe_with(big, sizeof big, 1);
  int r = read_msg(fd, &m, 64);
  char rest[4];
  CHECK("read_msg: a frame above the limit is refused unread", r == -1 && read(fd, rest, 4) == 4 && !memcmp(rest, "xyzw", 4), "r=%d", r);
  close(fd);
  uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
  fd = pipe_with(huge, 4, 1);
  CHECK("read_msg: a 4 GiB header is refused", read_msg(fd, &m, 64u << 20) == -1, "accepted");
  close(fd);

  uint8_t half[2] = { 5, 0 };
  fd = pipe_with(half, 2, 1);
  CHECK("read_msg: a truncated header is EOF", read_msg(fd, &m, 64) == -1, "accepted");
  close(fd);
  uint8_t shortbody[6] = { 5, 0, 0, 0, 'h', 'e' };
  fd = pipe_with(shortbody, 6, 1);
  CHECK("read_msg: a truncated body is EOF", read_msg(fd, &m, 64) == -1, "accepted");
  close(fd);
  free(m.p);
}

/* ---- request_check ---- */

static void test_requests(void) {
  const char *why;
  struct field fields[16];
  int nf;
  char name[128];
  for (size_t k = 0; k < NOPS; k++) {
    uint32_t op = ALL_OPS[k];
    CHECK("request_shape: every op of protocol.h has a shape", request_shape(op) != NULL, "op %u", op);
    if (!request_shape(op)) continue;
    struct buf b = build(op, fields, &nf);
    snprintf(name, sizeof name, "op %u: a well-formed request is accepted and reads whole", op);
    int r = check_copy(b.p, b.len, &why);
    CHECK(name, r == 0 && read_like_handlers(b.p, b.len), "errno %d: %s", r, why ? why : "");

    int ok = 1;
    for (size_t cut = 0; cut < b.len; cut++)
      if (check_copy(b.p, cut, &why) != (cut < 4 ? EINVAL : EINVAL)) { ok = 0; printf("# op %u cut %zu accepted\n", op, cut); }
    snprintf(name, sizeof name, "op %u: every truncation is refused (EINVAL)", op);
    CHECK(name, ok, "see above");

    struct buf t = {0};
    put(&t, b.p, b.len); put(&t, "", 1);
    snprintf(name, sizeof name, "op %u: a trailing byte is refused", op);
    CHECK(name, check_copy(t.p, t.len, &why) == EINVAL, "accepted");
    free(t.p);

    for (int i = 0; i < nf; i++) {
      uint8_t *c = exact(b.p, b.len);
      size_t off = fields[i].off;
      int expect = EINVAL;
      switch (fields[i].kind) {
      case 's': c[off + 4 + 5] = 0; break;                          /* a NUL inside the text */
      case 'b': c[off + 4] = 0; expect = 0; break;                  /* bytes may hold NUL */
      case 'S': c[off + 4 + 4 + 2 + 4 + 1] = 0; break;              /* NUL in the second string */
      case 'i': put_le(c + off, 1ull << 32, 8); break;              /* uid 2^32 would become 0: root */
      case 'f': put_le(c + off, (uint64_t)INT_MAX + 1, 8); break;
      case 'n': put_le(c + off, REQ_MAX_NAMESPACES + 1, 8); break;
      case 'u': put_le(c + off, ~0ull, 8); expect = 0; break;       /* any value */
      }
      r = request_check(c, b.len, &why);
      snprintf(name, sizeof name, "op %u field %d (%c): a bad value is %s", op, i, fields[i].kind, expect ? "refused" : "accepted");
      CHECK(name, r == expect, "errno %d (%s)", r, why ? why : "");
      /* A string or list length one too large, and 2^32-1. */
      if (strchr("sbS", fields[i].kind)) {
        for (int big = 0; big < 2; big++) {
          memcpy(c, b.p, b.len);
          uint32_t was = (uint32_t)c[off] | (uint32_t)c[off + 1] << 8 | (uint32_t)c[off + 2] << 16 | (uint32_t)c[off + 3] << 24;
          put_le(c + off, big ? 0xffffffffu : was + 1, 4);
          r = request_check(c, b.len, &why);
          snprintf(name, sizeof name, "op %u field %d (%c): a length of %s is refused", op, i, fields[i].kind, big ? "2^32-1" : "one more");
          CHECK(name, r == EINVAL, "errno %d", r);
        }
      }
      free(c);
    }
    free(b.p);
  }

  uint32_t unknown[] = { 0, 19, 41, 1000, 0xffffffff };
  for (size_t i = 0; i < 5; i++) {
    uint8_t body[4];
    put_le(body, unknown[i], 4);
    snprintf(name, sizeof name, "unknown op %u is ENOSYS", unknown[i]);
    CHECK(name, check_copy(body, 4, &why) == ENOSYS, "not ENOSYS");
  }
  CHECK("an empty body is EINVAL", check_copy(NULL, 0, &why) == EINVAL, "accepted");

  /* The list limit: REQ_MAX_STRS empty strings pass, one more does not. */
  struct buf x = {0};
  put32(&x, OP_SET_EXEC); put32(&x, REQ_MAX_STRS);
  for (uint32_t i = 0; i < REQ_MAX_STRS; i++) put32(&x, 0);
  put32(&x, 0); put32(&x, 1); put(&x, "/", 1);
  CHECK("op SET_EXEC: REQ_MAX_STRS arguments are accepted", check_copy(x.p, x.len, &why) == 0, "%s", why ? why : "");
  put_le(x.p + 4, REQ_MAX_STRS + 1, 4);
  CHECK("op SET_EXEC: REQ_MAX_STRS + 1 arguments are refused", check_copy(x.p, x.len, &why) == EINVAL, "accepted");
  free(x.p);
}

static void test_parse_id(void) {
  uint32_t v = 7;
  CHECK("parse_id: 0", parse_id("0", &v) == 0 && v == 0, "v=%u", v);
  CHECK("parse_id: 4294967295", parse_id("4294967295", &v) == 0 && v == 4294967295u, "v=%u", v);
  const char *bad[] = { "", "4294967296", "99999999999999999999999", "-1", "+1", " 1", "1 ", "0x10", "abc", "1a" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "parse_id: \"%s\" is refused", bad[i]);
    CHECK(name, parse_id(bad[i], &v) == -1, "accepted as %u", v);
  }
  CHECK("parse_id: NULL is refused", parse_id(NULL, &v) == -1, "accepted");
}

/* Random damage to well-formed requests: the checker never reads outside the body, and
 * whatever it accepts the handlers' getters read exactly and whole. */
static void test_fuzz(void) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  struct field fields[16];
  int nf, accepted = 0, disagree = 0;
  const char *why;
  for (int iter = 0; iter < 200000; iter++) {
    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
    uint32_t op = ALL_OPS[seed % NOPS];
    struct buf b = build(op, fields, &nf);
    int edits = 1 + (int)((seed >> 8) % 4);
    for (int e = 0; e < edits && b.len; e++) {
      seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
      size_t at = (seed >> 16) % b.len;
      switch ((seed >> 4) % 4) {
      case 0: b.p[at] ^= (uint8_t)(1u << ((seed >> 40) % 8)); break;
      case 1: b.p[at] = (uint8_t)(seed >> 24); break;
      case 2: b.len = at; break;
      case 3: if (nf) put_le(b.p + fields[(seed >> 32) % (uint64_t)nf].off, (uint32_t)(seed >> 20), 4); break;
      }
    }
    uint8_t *c = exact(b.p, b.len);
    if (request_check(c, b.len, &why) == 0) {
      accepted++;
      if (!read_like_handlers(c, b.len)) disagree++;
    }
    free(c); free(b.p);
  }
  CHECK("fuzz: 200000 damaged requests, no over-read, accepted ones read whole", disagree == 0, "%d of %d accepted disagree", disagree, accepted);
  printf("# fuzz: %d of 200000 damaged requests still well-formed\n", accepted);
}

/* --check: the verdict on every frame of stdin. */
static int check_stdin(void) {
  struct msg m = {0};
  const char *why;
  while (read_msg(0, &m, 64u << 20) == 0) {
    int r = request_check(m.p, m.len, &why);
    struct msg o = m;
    printf("%u %d %s\n", m.len >= 4 ? get_u32(&o) : 0, r, why ? why : "");
  }
  free(m.p);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && !strcmp(argv[1], "--check")) return check_stdin();
  test_getters();
  test_read_msg();
  test_requests();
  test_parse_id();
  test_fuzz();
  printf("summary %d %d\n", passed, failed);
  return failed ? 1 : 0;
}
