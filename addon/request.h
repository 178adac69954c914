/*
 * The shape of every request of protocol.h, and a check of a whole request
 * body against it before tsrunc-init acts on any of it. Pure functions (no
 * I/O, no allocation), shared by init.c and addon/test/parser_test.c.
 *
 * Why a check up front: the handlers read their fields one by one and some
 * record a field before they see that a later one is missing, and a C string
 * silently ends at a NUL byte, so "/proc\0/../x" would reach mount(2) as
 * "/proc". A request is acted on only when every field is there, nothing is
 * left over, text holds no NUL, and numbers that become 32-bit ids or fds fit.
 */
#ifndef TSRUNC_REQUEST_H
#define TSRUNC_REQUEST_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "frame.h"
#include "build/protocol.h" /* generated from src/init/protocol.ts */

#define REQ_MAX_NAMESPACES 16   /* OP_JOIN_NAMESPACES: one per namespace type, with room */
/* strs: execve takes up to 6 MiB of strings and pointers (~629k of the shortest); tsrunc checks the kernel's limits first. */
#define REQ_MAX_STRS (1u << 20)

/*
 * request_shape(op), generated into build/protocol.h from the REQUESTS table of
 * src/init/protocol.ts, gives one letter per field, in wire order:
 *   u  u64, any value          i  u64 that must fit a uid/gid (< 2^32)
 *   f  u64 that must be an fd (<= INT_MAX)
 *   s  str of text: no NUL     b  str of bytes: anything (file data, BPF, a CPU mask)
 *   S  strs of text
 *   n  u64 count (<= REQ_MAX_NAMESPACES), then count x (u64 type, str path): OP_JOIN_NAMESPACES
 * NULL: no such request.
 */

/* Steps over one str without copying it; text: refuse a NUL byte. */
static inline int request_skip_str(struct msg *m, int text, const char **why) {
  uint32_t n = get_u32(m);
  if (m->bad || m->len - m->off < n) { *why = "bad request: a string runs past the end"; return EINVAL; }
  if (text && memchr(m->p + m->off, 0, n)) { *why = "bad request: a NUL byte inside a string"; return EINVAL; }
  m->off += n;
  return 0;
}

/*
 * Checks a request body (u32 op, then its fields). Returns 0 when it is
 * well-formed, else an errno for the reply (EINVAL malformed, ENOSYS unknown
 * request) and *why says what is wrong. Reads only p[0..len).
 */
static inline int request_check(const uint8_t *p, size_t len, const char **why) {
  struct msg m = { (uint8_t *)p, len, 0, 0 };
  *why = NULL;
  uint32_t op = get_u32(&m);
  if (m.bad) { *why = "bad request: shorter than an opcode"; return EINVAL; }
  const char *shape = request_shape(op);
  if (!shape) { *why = "unknown request"; return ENOSYS; }
  int err;
  for (const char *f = shape; *f; f++) {
    uint64_t v;
    switch (*f) {
    case 'u': case 'i': case 'f': case 'n':
      v = get_u64(&m);
      if (m.bad) { *why = "bad request: a number runs past the end"; return EINVAL; }
      if (*f == 'i' && v > UINT32_MAX) { *why = "bad request: a uid or gid above 2^32-1"; return EINVAL; }
      if (*f == 'f' && v > INT_MAX) { *why = "bad request: not a file descriptor"; return EINVAL; }
      if (*f == 'n') {
        if (v > REQ_MAX_NAMESPACES) { *why = "bad request: too many namespaces"; return EINVAL; }
        for (uint64_t k = 0; k < v; k++) {
          get_u64(&m);
          if (m.bad) { *why = "bad request: a number runs past the end"; return EINVAL; }
          if ((err = request_skip_str(&m, 1, why))) return err;
        }
      }
      break;
    case 's': case 'b':
      if ((err = request_skip_str(&m, *f == 's', why))) return err;
      break;
    case 'S': {
      uint32_t count = get_u32(&m);
      if (m.bad) { *why = "bad request: a list runs past the end"; return EINVAL; }
      if (count > REQ_MAX_STRS) { *why = "bad request: too many strings in a list"; return EINVAL; }
      for (uint32_t k = 0; k < count; k++)
        if ((err = request_skip_str(&m, 1, why))) return err;
      break;
    }
    default:
      *why = "bad request: no shape";
      return EINVAL;
    }
  }
  if (m.off != m.len) { *why = "bad request: bytes after the last field"; return EINVAL; }
  return 0;
}

/* A decimal uid/gid as sent in OP_SET_USER's list: digits only, below 2^32. 0 or -1. */
static inline int parse_id(const char *s, uint32_t *out) {
  uint64_t v = 0;
  if (!s || !*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > UINT32_MAX) return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

#endif
