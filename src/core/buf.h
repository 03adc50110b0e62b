/*
 * buf.h - a growable byte buffer for writers (exporters, canonical text).
 *
 * Appends never fail loudly: the first failed allocation sets `failed`, later
 * appends do nothing, and the writer checks once at the end.  Memory comes
 * from orf_realloc(), so it counts against the job and the caller releases
 * `data` with orf_free() (or hands it out as an orf_export() buffer).
 */
#ifndef ORF_BUF_H
#define ORF_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct orf_buf {
  uint8_t *data;
  size_t len, cap;
  int failed;
} orf_buf;

/* Makes room for `extra` more bytes; 0 on success, -1 (and failed) if not. */
int orf_buf_reserve(orf_buf *b, size_t extra);
void orf_buf_append(orf_buf *b, const void *bytes, size_t n);
void orf_buf_printf(orf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void orf_buf_u32le(orf_buf *b, uint32_t v);
void orf_buf_f32le(orf_buf *b, float v);
void orf_buf_free(orf_buf *b);

#endif
