/*
 * plan.c - what a job keeps for its texture while its stages run (see
 * texture.h): the working image's subject mask and the projection from the
 * final mesh's millimetres back to that image's pixels.
 *
 * The projection is found from the placement rather than computed ahead
 * of it: the pipeline places a stage's mesh by a scale and an offset per
 * axis that depend on the mesh's own bounds (pipeline.c's to_millimetres,
 * orf_modes_place), so the bounds before and after placing give that map
 * exactly, and the map from the mesh's own units to the image is each
 * mode's: inflate's canvas pixels (inflate.h: X = canvas x, Z = -canvas y,
 * the canvas the image with `pad` pixels around it), a mode's model
 * millimetres (modes.h: x = (u - ox) mm_per_px, y = (oy - v) mm_per_px).
 */
#include <string.h>

#include "mesh.h"
#include "texture.h"

int orf_texture_wanted(const orf_params *p) {
  if (p->texture == ORF_TEXTURE_OFF || !p->realistic) return 0;
  return !(p->mode == ORF_MODE_LITHOPHANE && p->shape == ORF_SHAPE_CYLINDER);
}

void orf_texture_plan_init(orf_texture_plan *t, const orf_params *p) {
  memset(t, 0, sizeof *t);
  t->wanted = orf_texture_wanted(p);
}

void orf_texture_plan_keep_mask(orf_texture_plan *t, orf_mask *mask, uint32_t w, uint32_t h) {
  if (!t->wanted) {
    orf_mask_free(mask);
    return;
  }
  orf_mask_free(&t->mask);
  t->mask = *mask;
  t->work_w = w;
  t->work_h = h;
  memset(mask, 0, sizeof *mask);
}

/* The scale s and offset o of one axis of placement (placed = s model + o)
 * from the bounds before (lo, hi) and after (plo, phi). */
static void axis_map(float lo, float hi, float plo, float phi, double *s, double *o) {
  *s = hi > lo ? ((double)phi - plo) / ((double)hi - lo) : 1.0;
  if (!(*s > 0)) *s = 1.0;
  *o = plo - *s * lo;
}

void orf_texture_plan_place(orf_texture_plan *t, const orf_inflate *f, const orf_modefield *mf,
                            const float lo[3], const float hi[3], const orf_mesh *placed) {
  if (!t->wanted) return;
  float plo[3], phi[3];
  orf_mesh_bounds(placed, plo, phi);
  double s[3], o[3];
  for (int a = 0; a < 3; a++)
    axis_map(lo[a], hi[a], plo[a], phi[a], &s[a], &o[a]);
  memset(t->px, 0, sizeof t->px);
  if (!mf) {
    /* canvas x = (X - o0) / s0, canvas y = -(Z - o2) / s2; image = canvas - pad */
    double pad = f ? f->pad : 0;
    t->px[0][0] = 1 / s[0];
    t->px[0][3] = -o[0] / s[0] - pad;
    t->px[1][2] = -1 / s[2];
    t->px[1][3] = o[2] / s[2] - pad;
  } else {
    /* u = ox + x / mm_per_px, v = oy - y / mm_per_px, x = (X - o0) / s0 */
    double k0 = 1 / (s[0] * mf->mm_per_px), k1 = 1 / (s[1] * mf->mm_per_px);
    t->px[0][0] = k0;
    t->px[0][3] = mf->ox - o[0] * k0;
    t->px[1][1] = -k1;
    t->px[1][3] = mf->oy + o[1] * k1;
  }
  t->placed = 1;
}

void orf_texture_plan_free(orf_texture_plan *t) {
  orf_mask_free(&t->mask);
  memset(t, 0, sizeof *t);
}
