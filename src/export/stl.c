/*
 * stl.c - binary STL writer (the 3D Systems "StereoLithography Interface
 * Specification", 1989): an 80-byte header, a uint32 triangle count, then
 * per triangle a float32 facet normal, three float32 vertices and a uint16
 * attribute word, all little-endian: 84 + 50 * T bytes.
 *
 * The header never starts with "solid": readers that sniff for ASCII STL
 * would otherwise take the file for text.  STL has no units; slicers assume
 * millimetres, which is what the engine's meshes are in (Z up, as given).
 */
#include <math.h>
#include <string.h>

#include "export.h"

/* Unit normal of triangle (a, b, c) by the right-hand rule, computed in
 * double; (0, 0, 0) for a degenerate triangle. */
static void facet_normal(const float *a, const float *b, const float *c, float n[3]) {
  double u[3] = {(double)b[0] - a[0], (double)b[1] - a[1], (double)b[2] - a[2]};
  double w[3] = {(double)c[0] - a[0], (double)c[1] - a[1], (double)c[2] - a[2]};
  double x[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
  double len = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
  for (int k = 0; k < 3; k++)
    n[k] = len > 0 && isfinite(len) ? (float)(x[k] / len) : 0.0f;
}

/* Contract: appends the binary STL of *m (a mesh orf_export() accepts) to
 * *out.  ORF_EINVAL for a mesh without faces, ORF_ENOMEM when *out cannot
 * grow (what was appended stays for the caller to free). */
int orf_write_stl(const orf_mesh *m, orf_buf *out) {
  if (m->face_count == 0 || m->face_count > UINT32_MAX || m->face_count > (SIZE_MAX - 84) / 50)
    return ORF_EINVAL;
  if (orf_buf_reserve(out, 84 + 50 * m->face_count)) return ORF_ENOMEM;

  char header[80];
  memset(header, ' ', sizeof header);
  static const char text[] = "ORFEAS " ORF_VERSION " binary STL, millimetres, Z up";
  memcpy(header, text, sizeof text - 1);
  orf_buf_append(out, header, sizeof header);
  orf_buf_u32le(out, (uint32_t)m->face_count);

  for (size_t f = 0; f < m->face_count; f++) {
    const uint32_t *t = m->indices + 3 * f;
    const float *p[3] = {m->positions + 3 * (size_t)t[0], m->positions + 3 * (size_t)t[1],
                         m->positions + 3 * (size_t)t[2]};
    float n[3];
    facet_normal(p[0], p[1], p[2], n);
    for (int k = 0; k < 3; k++)
      orf_buf_f32le(out, n[k]);
    for (int v = 0; v < 3; v++)
      for (int k = 0; k < 3; k++)
        orf_buf_f32le(out, p[v][k]);
    static const uint8_t attribute[2] = {0, 0};
    orf_buf_append(out, attribute, 2);
  }
  return out->failed ? ORF_ENOMEM : ORF_OK;
}
