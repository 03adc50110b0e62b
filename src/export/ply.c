/*
 * ply.c - binary little-endian PLY writer (Greg Turk's Polygon File Format,
 * Stanford 1994): a text header declaring a `vertex` element (float x, y, z
 * and, when the mesh has colours, uchar red, green, blue) and a `face`
 * element (a uchar count and uint indices), then the records packed without
 * padding.  Millimetres, Z up, colours as the sRGB bytes they are.
 */
#include "export.h"

/* Contract: appends the binary PLY of *m (a mesh orf_export() accepts) to
 * *out, with colours where m->colors is set.  ORF_EINVAL for a mesh without
 * faces, ORF_ENOMEM when *out cannot grow. */
int orf_write_ply(const orf_mesh *m, orf_buf *out) {
  if (m->face_count == 0 || m->vertex_count > UINT32_MAX || m->face_count > UINT32_MAX) return ORF_EINVAL;
  size_t vsize = m->colors ? 15 : 12;
  if (orf_buf_reserve(out, 512 + vsize * m->vertex_count + 13 * m->face_count)) return ORF_ENOMEM;

  orf_buf_printf(out,
                 "ply\n"
                 "format binary_little_endian 1.0\n"
                 "comment ORFEAS %s, millimetres, Z up\n"
                 "element vertex %zu\n"
                 "property float x\n"
                 "property float y\n"
                 "property float z\n"
                 "%s"
                 "element face %zu\n"
                 "property list uchar uint vertex_indices\n"
                 "end_header\n",
                 ORF_VERSION, m->vertex_count,
                 m->colors ? "property uchar red\nproperty uchar green\nproperty uchar blue\n" : "",
                 m->face_count);

  for (size_t v = 0; v < m->vertex_count; v++) {
    for (int k = 0; k < 3; k++)
      orf_buf_f32le(out, m->positions[3 * v + k]);
    if (m->colors) orf_buf_append(out, m->colors + 3 * v, 3);
  }
  for (size_t f = 0; f < m->face_count; f++) {
    static const uint8_t three = 3;
    orf_buf_append(out, &three, 1);
    for (int k = 0; k < 3; k++)
      orf_buf_u32le(out, m->indices[3 * f + k]);
  }
  return out->failed ? ORF_ENOMEM : ORF_OK;
}
