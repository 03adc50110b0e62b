/*
 * obj.c - Wavefront OBJ writer (the Advanced Visualizer's text format, with
 * the common per-vertex colour extension `v x y z r g b` that MeshLab,
 * Blender and most slicers read): a comment header, one `v` line per
 * vertex, one `f a b c` line per face with 1-based indices.
 *
 * Positions are printed with %.9g, enough digits for any float to read back
 * as the same float; colours as sRGB fractions 0..1 with %.4f, enough to
 * recover the byte (round(v * 255)).  printf gives the same text for the
 * same value, so the same mesh gives the same bytes.  Speed without a
 * hand-written float formatter: each `v` line is formatted straight into
 * the buffer's spare room (one vsnprintf, no temporary), the 256 colour
 * fractions are printed once per export into a table, and face indices,
 * integers, are written by a four-line loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "export.h"

/* Room for any line: "v " + 3 x "-1.23456789e-38 " + 3 x " 0.0000" < 96. */
#define OBJ_LINE_MAX 128

/* Appends one formatted line to *b, formatting in place. */
static void __attribute__((format(printf, 2, 3))) put_line(orf_buf *b, const char *fmt, ...) {
  if (orf_buf_reserve(b, OBJ_LINE_MAX)) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf((char *)b->data + b->len, OBJ_LINE_MAX, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= OBJ_LINE_MAX) {
    b->failed = 1; /* cannot happen for the formats below */
    return;
  }
  b->len += (size_t)n;
}

/* Contract (export.h): writes n in decimal at s (room for 20 chars); returns
 * the end.  Faces are two thirds of the lines and integers are trivial to
 * print exactly, so they skip printf (the 3MF writer uses it too). */
char *orf_put_uint(char *s, uint64_t n) {
  char tmp[20];
  int len = 0;
  do {
    tmp[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  while (len)
    *s++ = tmp[--len];
  return s;
}

/* Contract: appends the OBJ text of *m (a mesh orf_export() accepts) to
 * *out, with `v x y z r g b` lines where m->colors is set.  ORF_EINVAL for a
 * mesh without faces, ORF_ENOMEM when *out cannot grow (or, impossibly, a
 * line overflows). */
int orf_write_obj(const orf_mesh *m, orf_buf *out) {
  if (m->face_count == 0) return ORF_EINVAL;
  /* A typical size, so that big meshes do not grow the buffer many times. */
  if (m->vertex_count > SIZE_MAX / 128 || m->face_count > SIZE_MAX / 128) return ORF_EINVAL;
  if (orf_buf_reserve(out, 256 + (m->colors ? 64 : 40) * m->vertex_count + 24 * m->face_count))
    return ORF_ENOMEM;

  orf_buf_printf(out, "# ORFEAS %s Wavefront OBJ, millimetres, Z up%s\n# %zu vertices, %zu faces\n",
                 ORF_VERSION, m->colors ? ", vertex colours sRGB 0..1" : "", m->vertex_count, m->face_count);
  /* The 256 colour fractions, printed once: "0.0000" .. "1.0000". */
  char frac[256][8];
  for (int c = 0; c < 256; c++)
    snprintf(frac[c], sizeof frac[c], "%.4f", c / 255.0);
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    if (!m->colors) {
      put_line(out, "v %.9g %.9g %.9g\n", p[0], p[1], p[2]);
      continue;
    }
    put_line(out, "v %.9g %.9g %.9g", p[0], p[1], p[2]);
    if (orf_buf_reserve(out, 3 * 7 + 1)) break;
    char *s = (char *)out->data + out->len, *start = s;
    for (int k = 0; k < 3; k++) {
      *s++ = ' ';
      memcpy(s, frac[m->colors[3 * v + k]], 6);
      s += 6;
    }
    *s++ = '\n';
    out->len += (size_t)(s - start);
  }
  for (size_t f = 0; f < m->face_count; f++) {
    if (orf_buf_reserve(out, OBJ_LINE_MAX)) break;
    char *s = (char *)out->data + out->len, *start = s;
    *s++ = 'f';
    for (int k = 0; k < 3; k++) {
      *s++ = ' ';
      s = orf_put_uint(s, (uint64_t)m->indices[3 * f + k] + 1);
    }
    *s++ = '\n';
    out->len += (size_t)(s - start);
  }
  return out->failed ? ORF_ENOMEM : ORF_OK;
}
