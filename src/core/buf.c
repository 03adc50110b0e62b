/*
 * buf.c - growable byte buffer (see buf.h).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

int orf_buf_reserve(orf_buf *b, size_t extra) {
  if (b->failed) return -1;
  if (extra <= b->cap - b->len) return 0;
  size_t need = b->len + extra;
  if (need < b->len) goto fail;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) goto fail;
    cap *= 2;
  }
  uint8_t *p = orf_realloc(b->data, cap);
  if (!p) goto fail;
  b->data = p;
  b->cap = cap;
  return 0;
fail:
  b->failed = 1;
  return -1;
}

void orf_buf_append(orf_buf *b, const void *bytes, size_t n) {
  if (n == 0 || orf_buf_reserve(b, n)) return;
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
}

void orf_buf_printf(orf_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return;
  }
  if (orf_buf_reserve(b, (size_t)n + 1)) return;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* Little-endian writers: the file formats fix the byte order, the host does not. */
void orf_buf_u32le(orf_buf *b, uint32_t v) {
  uint8_t o[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  orf_buf_append(b, o, 4);
}

void orf_buf_f32le(orf_buf *b, float v) {
  uint32_t u;
  memcpy(&u, &v, 4);
  orf_buf_u32le(b, u);
}

void orf_buf_free(orf_buf *b) {
  orf_free(b->data);
  *b = (orf_buf){0};
}
