/*
 * modes.c - one interface over relief, lithophane and extrude (see
 * modes.h): dispatch, colours, final placement and the memory bound.
 */
#include "modes.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "extrude.h"
#include "imagefield.h"
#include "lithophane.h"
#include "mesh.h"
#include "relief.h"

int orf_modes_need_mask(const orf_params *p) {
  return p->mode == ORF_MODE_EXTRUDE || (p->mode == ORF_MODE_RELIEF && p->cutout);
}

void orf_modes_free(orf_modefield *f) {
  orf_free(f->value);
  orf_free(f->rgb);
  orf_silhouette_free(&f->sil);
  memset(f, 0, sizeof *f);
}

int orf_modes_prepare(const orf_params *p, const orf_image *img, const uint8_t *mask, int threads,
                      orf_modefield *out) {
  memset(out, 0, sizeof *out);
  out->p = p;
  out->w = img->width;
  out->h = img->height;
  int rc;
  switch (p->mode) {
  case ORF_MODE_RELIEF: rc = orf_relief_prepare(img, mask, threads, out); break;
  case ORF_MODE_LITHOPHANE: rc = orf_lithophane_prepare(img, threads, out); break;
  case ORF_MODE_EXTRUDE: rc = orf_extrude_prepare(img, mask, threads, out); break;
  default: rc = ORF_EINVAL;
  }
  if (rc) orf_modes_free(out);
  return rc;
}

int orf_modes_mesh(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out) {
  int rc;
  switch (f->p->mode) {
  case ORF_MODE_RELIEF: rc = orf_relief_mesh(f, grid, threads, cancel, out); break;
  case ORF_MODE_LITHOPHANE: rc = orf_lithophane_mesh(f, grid, out); break;
  case ORF_MODE_EXTRUDE: rc = orf_extrude_mesh(f, grid, threads, cancel, out); break;
  default: memset(out, 0, sizeof *out); return ORF_EINVAL;
  }
  /* a silhouette thinner than the grid (a line a pixel wide, a speck)
   * leaves nothing to contour: nothing of the subject can be made, and the
   * error says why (a bolder image, or a finer grid, would do) */
  if (rc == ORF_OK && out->face_count == 0) {
    orf_mesh_free(out);
    rc = ORF_ETOOTHIN;
  }
  return rc;
}

int orf_modes_colorize(const orf_modefield *f, orf_mesh *m) {
  if (!f->rgb && !f->sil.rgb) return ORF_OK; /* lithophane, or style=plain */
  orf_free(m->colors);
  m->colors = orf_malloc_array(m->vertex_count ? m->vertex_count : 1, 3);
  if (!m->colors) return ORF_ENOMEM;
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *q = m->positions + 3 * v;
    double u = f->ox + q[0] / f->mm_per_px, w = f->oy - q[1] / f->mm_per_px;
    if (f->rgb)
      orf_field_sample_rgb(f->rgb, f->w, f->h, u, w, m->colors + 3 * v);
    else
      orf_silhouette_rgb(&f->sil, u, w, m->colors + 3 * v);
  }
  return ORF_OK;
}

/* Scales axes [a0, a1) of every vertex by k. */
static void scale_axes(orf_mesh *m, int a0, int a1, float k) {
  for (size_t v = 0; v < m->vertex_count; v++)
    for (int a = a0; a < a1; a++)
      m->positions[3 * v + a] *= k;
}

void orf_modes_place(const orf_modefield *f, orf_mesh *m) {
  float lo[3], hi[3];
  float size = (float)f->p->size_mm;
  orf_mesh_bounds(m, lo, hi);
  float ex = hi[0] - lo[0], ey = hi[1] - lo[1], exy = ex > ey ? ex : ey, ez = hi[2] - lo[2];
  if (exy < ez) {
    if (ez > 0) scale_axes(m, 2, 3, size / ez);
  } else if (f->r_in > 0) {
    /* a ring (centred on the Z axis): offset every radius by the same
     * amount, twice (the second pass takes up the polygon's cosines) */
    for (int pass = 0; pass < 2; pass++) {
      float delta = 0.5f * (size - exy);
      for (size_t v = 0; v < m->vertex_count; v++) {
        float *q = m->positions + 3 * v, r = sqrtf(q[0] * q[0] + q[1] * q[1]);
        if (r > 0) q[0] *= (r + delta) / r, q[1] *= (r + delta) / r;
      }
      orf_mesh_bounds(m, lo, hi);
      ex = hi[0] - lo[0], ey = hi[1] - lo[1], exy = ex > ey ? ex : ey;
    }
  } else if (exy > 0) {
    scale_axes(m, 0, 2, size / exy);
  }
  orf_mesh_bounds(m, lo, hi);
  float scale[3] = {1, 1, 1}, offset[3] = {-0.5f * (lo[0] + hi[0]), -0.5f * (lo[1] + hi[1]), -lo[2]};
  orf_mesh_transform(m, scale, offset);
}
