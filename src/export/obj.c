/*
 * obj.c - Wavefront OBJ writer (the Advanced Visualizer's text format, with
 * the common per-vertex colour extension `v x y z r g b` that MeshLab,
 * Blender and most slicers read): a comment header, one `v` line per
 * vertex, one `f a b c` line per face with 1-based indices.  With a
 * texture: `mtllib`, a `vt` line per vertex (the texture's projection of
 * that vertex: one coordinate per vertex, so `f a/a b/b c/c`), `usemtl`,
 * and the MTL file beside it (orf_write_mtl: `map_Kd` names the image);
 * the vertex colours are left out, as GLB drops COLOR_0.
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

/* Appends the `vt` lines of t's projection of every vertex (v counted up
 * from the bottom, as OBJ does). */
static void put_texcoords(const orf_mesh *m, const orf_texture *t, orf_buf *out) {
  for (size_t v = 0; v < m->vertex_count; v++) {
    float uv[2];
    orf_texture_project(t, m->positions + 3 * v, uv);
    put_line(out, "vt %.9g %.9g\n", uv[0], 1.0f - uv[1]);
  }
}

/* Contract: appends the OBJ text of *m (a mesh orf_export() accepts) to
 * *out: with the texture t (not NULL), `mtllib mtl_name`, `vt` per vertex,
 * `usemtl picture` and `f a/a b/b c/c`, no colours; else `v x y z r g b`
 * lines where m->colors is set.  ORF_EINVAL for a mesh without faces (or
 * a texture without an MTL name), ORF_ENOMEM when *out cannot grow (or,
 * impossibly, a line overflows). */
int orf_write_obj(const orf_mesh *m, const orf_texture *t, const char *mtl_name, orf_buf *out) {
  if (m->face_count == 0 || (t && (!mtl_name || !*mtl_name))) return ORF_EINVAL;
  /* A typical size, so that big meshes do not grow the buffer many times. */
  if (m->vertex_count > SIZE_MAX / 128 || m->face_count > SIZE_MAX / 128) return ORF_EINVAL;
  const uint8_t *colors = t ? NULL : m->colors;
  if (orf_buf_reserve(out, 256 + (colors || t ? 64 : 40) * m->vertex_count + (t ? 48 : 24) * m->face_count))
    return ORF_ENOMEM;

  orf_buf_printf(out, "# ORFEAS %s Wavefront OBJ, millimetres, Z up%s\n# %zu vertices, %zu faces\n",
                 ORF_VERSION,
                 t        ? ", textured"
                 : colors ? ", vertex colours sRGB 0..1"
                          : "",
                 m->vertex_count, m->face_count);
  if (t) orf_buf_printf(out, "mtllib %s\n", mtl_name);
  /* The 256 colour fractions, printed once: "0.0000" .. "1.0000". */
  char frac[256][8];
  for (int c = 0; c < 256; c++)
    snprintf(frac[c], sizeof frac[c], "%.4f", c / 255.0);
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    if (!colors) {
      put_line(out, "v %.9g %.9g %.9g\n", p[0], p[1], p[2]);
      continue;
    }
    put_line(out, "v %.9g %.9g %.9g", p[0], p[1], p[2]);
    if (orf_buf_reserve(out, 3 * 7 + 1)) break;
    char *s = (char *)out->data + out->len, *start = s;
    for (int k = 0; k < 3; k++) {
      *s++ = ' ';
      memcpy(s, frac[colors[3 * v + k]], 6);
      s += 6;
    }
    *s++ = '\n';
    out->len += (size_t)(s - start);
  }
  if (t) {
    put_texcoords(m, t, out);
    orf_buf_printf(out, "usemtl picture\n");
  }
  for (size_t f = 0; f < m->face_count; f++) {
    if (orf_buf_reserve(out, OBJ_LINE_MAX)) break;
    char *s = (char *)out->data + out->len, *start = s;
    *s++ = 'f';
    for (int k = 0; k < 3; k++) {
      *s++ = ' ';
      char *at = s;
      s = orf_put_uint(s, (uint64_t)m->indices[3 * f + k] + 1);
      if (t) { /* the same index for the texture coordinate: "a/a" */
        size_t len = (size_t)(s - at);
        *s++ = '/';
        memmove(s, at, len);
        s += len;
      }
    }
    *s++ = '\n';
    out->len += (size_t)(s - start);
  }
  return out->failed ? ORF_ENOMEM : ORF_OK;
}

/* Contract: appends the MTL of a textured OBJ to *out: one material,
 * `picture`, white and matte (Kd 1 1 1, no specular), its diffuse map
 * image_name.  ORF_EINVAL for an empty name, ORF_ENOMEM. */
int orf_write_mtl(const char *image_name, orf_buf *out) {
  if (!image_name || !*image_name) return ORF_EINVAL;
  orf_buf_printf(out,
                 "# ORFEAS %s material of a textured OBJ\n"
                 "newmtl picture\n"
                 "Ka 1 1 1\n"
                 "Kd 1 1 1\n"
                 "Ks 0 0 0\n"
                 "d 1\n"
                 "illum 1\n"
                 "map_Kd %s\n",
                 ORF_VERSION, image_name);
  return out->failed ? ORF_ENOMEM : ORF_OK;
}
