/*
 * Frames and fields of the wire protocol between tsrunc and tsrunc-init
 * (PROTOCOL.md, src/init/protocol.ts): a little-endian u32
 * length, then a body read field by field (u32, u64, str = u32 length +
 * bytes, strs = u32 count + str...). A short or oversized body sets
 * msg.bad instead of reading past the end.
 */
#ifndef TSRUNC_FRAME_H
#define TSRUNC_FRAME_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct msg { uint8_t *p; size_t len, off; int bad; };

static inline int read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r; n -= (size_t)r;
  }
  return 0;
}

static inline int write_full(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r; n -= (size_t)r;
  }
  return 0;
}

static inline uint64_t get_u64(struct msg *m) {
  uint64_t v = 0;
  if (m->len - m->off < 8) { m->bad = 1; return 0; }
  for (int i = 7; i >= 0; i--) v = (v << 8) | m->p[m->off + (size_t)i];
  m->off += 8;
  return v;
}

static inline uint32_t get_u32(struct msg *m) {
  uint32_t v = 0;
  if (m->len - m->off < 4) { m->bad = 1; return 0; }
  for (int i = 3; i >= 0; i--) v = (v << 8) | m->p[m->off + (size_t)i];
  m->off += 4;
  return v;
}

/* Returns a NUL-terminated copy; *n gets the byte count (strings may hold NULs, e.g. BPF). */
static inline char *get_bytes(struct msg *m, size_t *n) {
  uint32_t len = get_u32(m);
  if (m->bad || m->len - m->off < len) { m->bad = 1; return NULL; }
  char *s = malloc((size_t)len + 1);
  if (!s) { m->bad = 1; return NULL; }
  memcpy(s, m->p + m->off, len);
  s[len] = 0;
  m->off += len;
  if (n) *n = len;
  return s;
}

static inline char *get_str(struct msg *m) { return get_bytes(m, NULL); }

static inline char **get_strs(struct msg *m) {
  uint32_t count = get_u32(m);
  /* Each string takes at least its 4-byte length: a count the frame cannot hold is a lie. */
  if (m->bad || count > (m->len - m->off) / 4) { m->bad = 1; return NULL; }
  char **v = calloc((size_t)count + 1, sizeof *v);
  if (!v) { m->bad = 1; return NULL; }
  for (uint32_t i = 0; i < count && !m->bad; i++) v[i] = get_str(m);
  if (!m->bad) return v;
  for (uint32_t i = 0; i < count && v[i]; i++) free(v[i]);
  free(v);
  return NULL;
}

/* Reads one frame from fd into m (replacing what it held); -1 at EOF, on error, or above max bytes. */
static inline int read_msg(int fd, struct msg *m, uint32_t max) {
  uint8_t hdr[4];
  if (read_full(fd, hdr, 4) < 0) return -1;
  uint32_t len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
  if (len > max) return -1;
  free(m->p);
  m->p = malloc(len ? len : 1);
  m->len = len;
  m->off = 0;
  m->bad = 0;
  if (!m->p || read_full(fd, m->p, len) < 0) return -1;
  return 0;
}

static inline void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#endif
