/*
 * prism.c - extruded silhouettes through marching cubes (see prism.h).
 */
#include "prism.h"

#include <math.h>

#include "mc.h"

void orf_prism_levels(orf_prism *p, float zmax, float h, int exact_top) {
  int cells = (int)ceilf(zmax / h - 1e-4f);
  if (cells < 1) cells = 1;
  p->hz = exact_top ? zmax / (float)cells : h;
  p->z0 = -0.5f * p->hz;
  p->nz = cells + 2;
  /* the last level must lie above zmax */
  while (p->z0 + (float)(p->nz - 1) * p->hz <= zmax)
    p->nz++;
}

/* Grid values closer to the iso-value than SNAP of the finest spacing are
 * pushed out to it, keeping their sign.  A value at a grid point next to
 * zero puts marching cubes' vertices on all that point's edges next to it,
 * and their triangles become needles and caps (a 0.1 um edge on a cut-out
 * relief's wall, where the top meets it).  With the push, every vertex lies
 * at least about SNAP of a cell from every grid point.  The surface moves
 * by at most that much, 1% of a cell, and keeps its topology.  The same
 * ill, removed by snapping the vertices onto the grid points instead:
 * SnapMC, Raman and Wenger, "Quality isosurface mesh generation using an
 * extended marching cubes lookup table", EuroVis 2008. */
#define SNAP 0.01f

static void slice(void *ctx, int k, float *out) {
  const orf_prism *p = ctx;
  float z = p->z0 + (float)k * p->hz;
  size_t n = (size_t)p->nx * p->ny;
  if (p->top) {
    for (size_t i = 0; i < n; i++) {
      float f = p->d[i], g = z - p->top[i];
      f = g > f ? g : f;
      out[i] = -z > f ? -z : f;
    }
  } else {
    float b = p->bevel, wy = fabsf(z - 0.5f * p->depth) - 0.5f * p->depth + b;
    for (size_t i = 0; i < n; i++) {
      float wx = p->d[i] + b;
      float ox = wx > 0 ? wx : 0, oy = wy > 0 ? wy : 0;
      float in = wx > wy ? wx : wy;
      out[i] = sqrtf(ox * ox + oy * oy) + (in < 0 ? in : 0) - b;
    }
  }
  float snap = SNAP * (p->h < p->hz ? p->h : p->hz);
  for (size_t i = 0; i < n; i++)
    if (fabsf(out[i]) < snap) out[i] = out[i] < 0 ? -snap : snap;
}

int orf_prism_mesh(const orf_prism *p, int threads, atomic_int *cancel, orf_mesh *out) {
  orf_volume v = {.nx = p->nx,
                  .ny = p->ny,
                  .nz = p->nz,
                  .origin = {p->x0, p->y0, p->z0},
                  .spacing = {p->h, p->h, p->hz},
                  .eval = slice,
                  .ctx = (void *)p};
  return orf_mc_extract(&v, 0.0f, threads, cancel, out);
}
